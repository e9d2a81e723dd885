"""Broken: fails while being imported."""
raise RuntimeError("corpus: this plugin cannot be imported")
