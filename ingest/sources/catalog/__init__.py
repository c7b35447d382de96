"""Catalog files: tracks and their audio features (CSV, every scale)."""
