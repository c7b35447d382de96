"""The warehouse: dbt, builds, publication, the engines and the quality checkpoint."""
