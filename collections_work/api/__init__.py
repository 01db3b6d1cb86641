"""The client REST API under /api/v1/: place accounts and read them with an API key."""
