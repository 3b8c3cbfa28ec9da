"""The web app (React, built by Vite from `web/` into `serving/webapp/dist`) served by
the payment API at `/app`. Its pages call the same endpoints a merchant's code calls,
with the same JWTs; nothing here adds data the API does not already serve."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

DIST = Path(__file__).parent / "webapp" / "dist"
_NOT_BUILT = """<!doctype html><title>SmartPay</title><p>The web app is not built in this
installation: run <code>make web</code> (or <code>make demo</code>) and restart the
API.</p>"""


def mount(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the built app at /app (its index for every page path), or a page saying
    how to build it."""
    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/app/")

    if (dist / "index.html").is_file():
        app.mount("/app", StaticFiles(directory=dist, html=True), name="webapp")
        return

    @app.get("/app/{rest:path}", include_in_schema=False)
    async def not_built(rest: str = "") -> HTMLResponse:
        return HTMLResponse(_NOT_BUILT, status_code=503)
