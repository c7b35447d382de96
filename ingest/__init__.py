"""SpotiFlow ingestion: readers per source kind, atomic landing into the Parquet lake, the CLI."""

__version__ = "0.1.0"
