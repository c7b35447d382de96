"""Spotify's data exports: account data and extended streaming history, every vintage."""

from ingest.sources.spotify_export.reader import KIND, read_spotify_export

__all__ = ["KIND", "read_spotify_export"]
