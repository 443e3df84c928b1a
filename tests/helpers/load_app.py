"""The FastAPI integration example as the load runs serve it, plus ``/bare``: the same
page as ``/grades`` without the session check, to measure what the check costs."""

from fastapi import Request
from integration.fastapi_app import app

__all__ = ["app"]


@app.get("/bare")
async def bare(request: Request) -> str:
    return f"{request.client is not None}, form token -"
