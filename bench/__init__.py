"""Benchmarks: `python -m bench.<name>`; each module's run() returns a dict of figures."""
