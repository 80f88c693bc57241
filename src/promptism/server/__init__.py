"""``promptism serve``: OpenAI's Images API, a job queue and a durable history (see app.py)."""
