"""The Parquet lake: landing, its files and manifest, compaction, schemas."""
