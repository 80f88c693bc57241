"""Training: one generic loop (loop.py) and what each stage's step computes (tasks)."""
