"""Benchmarks: `python bench/build.py` measures how fast `deckbuild build` is."""
