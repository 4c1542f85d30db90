"""The HTTP API (FastAPI): app factory, error mapping, auth, routers per resource."""
