"""Training: the one generic loop (loop.py). Each model family supplies its own task."""
