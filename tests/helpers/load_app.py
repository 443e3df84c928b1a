"""The FastAPI integration example as the load runs serve it, plus two pages to measure
what the session check costs: ``/bare``, the page of ``/grades`` without any check, and
``/peer``, the same page behind the check a host would write by hand over the same Redis
(its own cookie, one ``GET`` with redis.asyncio, the client address compared; no request
limits, browser id, CSRF token, idle lifetime or metrics)."""

import json
import os

import redis.asyncio
from fastapi import Request
from fastapi.responses import PlainTextResponse
from integration.fastapi_app import app

from helpers.load_peer import PEER_COOKIE, peer_key

__all__ = ["app"]

_redis = redis.asyncio.Redis.from_url(os.environ["BRIDGE_EPHEMERAL"])


@app.get("/bare")
async def bare(request: Request) -> str:
    return f"{request.client is not None}, form token -"


@app.get("/peer", response_model=None)
async def peer(request: Request) -> str | PlainTextResponse:
    token = request.cookies.get(PEER_COOKIE)
    raw = await _redis.get(peer_key(token)) if token else None
    if raw is None:
        return PlainTextResponse("no session", status_code=401)
    session = json.loads(raw)
    # the balancer in front is trusted (TRUSTED_PROXIES): its X-Forwarded-For names the client
    forwarded = request.headers.get("x-forwarded-for", "")
    ip = forwarded.rsplit(",", 1)[-1].strip() if forwarded else (request.client or ("",))[0]
    if session["ip"] != ip:
        return PlainTextResponse("another address", status_code=401)
    return f"{session['account_id']}, form token -"
