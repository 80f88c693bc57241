"""Promptism: text-to-image the way DALL·E 2 and its predecessors do it, trainable on your own data."""

__version__ = "0.1.0"
