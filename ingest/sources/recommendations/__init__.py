"""A recommender's output files (CSV or Parquet)."""
