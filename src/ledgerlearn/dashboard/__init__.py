"""The web dashboard: a FastAPI backend over the chain and a static page (docs/dashboard.md)."""
