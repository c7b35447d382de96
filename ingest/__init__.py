"""SpotiFlow ingestion: readers per source, the Spotify API, and landing into the Parquet lake."""
