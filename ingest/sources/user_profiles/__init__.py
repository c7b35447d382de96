"""Per-listener settings given on the command line (time zone)."""
