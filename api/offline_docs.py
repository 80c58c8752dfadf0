"""`/docs`: Swagger UI from assets packaged on PyPI (`fastapi-offline` ships Swagger UI 5, which
reads OpenAPI 3.1), served by this application: it works on a network without the internet.
FastAPI's own page would load its scripts from a CDN."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
PREFIX = "/static/swagger-ui"


def install(app: FastAPI) -> None:
    """Mount the assets and serve the page at /docs (no operation of the registry: public)."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="swagger-ui")

    async def docs(request: Request) -> HTMLResponse:
        del request
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – Swagger UI",
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon.png",
        )

    app.add_route("/docs", docs, include_in_schema=False)
