"""The ASGI application for servers (``uvicorn app.asgi:app``), built from the environment."""

from app.main import create_app

app = create_app()
