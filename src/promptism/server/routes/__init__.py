"""The server's routers: OpenAI's Images API, the studio, the history."""
