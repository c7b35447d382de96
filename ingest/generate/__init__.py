"""A deterministic synthetic population: catalog, listeners, plays and recommendation runs.

`spotiflow generate` writes it through the same landing as real sources (see run.py).
"""
