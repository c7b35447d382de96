"""What tests share: paths and helpers, the fake Spotify API, a throwaway PostgreSQL server,
engine parity, the lonely listener and the statistics macros held to scipy."""
