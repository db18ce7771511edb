"""deckbuild: turns source files into verified Anki decks.

The stages, one module each: load -> verify -> figures (draw) -> render -> stamps -> package,
with recipes choosing which notes go into which deck and cli wiring them together.
"""
