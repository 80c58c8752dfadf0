"""ASGI entry point for uvicorn: the app configured from the environment."""

from api.app import create_app

app = create_app(sweep_expired_holds=True, freeze_heap=True)
