"""Pipelines: what turns prompts and pictures into pictures, over the loaded models."""
