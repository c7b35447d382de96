"""One folder per source: how it is read (reader), what it may keep (settings), helpers apart."""
