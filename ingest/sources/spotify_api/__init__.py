"""Spotify Web API ingestion through spotipy: auth, bounded retries, incremental polling."""
