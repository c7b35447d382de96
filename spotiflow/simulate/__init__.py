"""A deterministic synthetic population (catalog, listeners, plays, recommendation runs) and
the baseline recommender.

`spotiflow generate` writes the population through the same landing as real sources (run.py);
`spotiflow recommend` runs the baseline on the marts (baseline.py).
"""
