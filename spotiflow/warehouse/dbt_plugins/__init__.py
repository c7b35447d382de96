"""dbt-duckdb plugins: functions DuckDB lacks, registered on every connection dbt opens."""
