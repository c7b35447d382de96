"""The original project's listening history CSV (legacy exports)."""
