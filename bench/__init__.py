"""`make bench`: SpotiFlow's speed and memory on generated populations (not part of `make test`)."""
