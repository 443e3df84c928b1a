"""The instance of bench/http_path.py: the load runs' FastAPI example (with ``/bare``) and,
when ``SSO_BRIDGE_BENCH_PROFILE`` names a file, ``POST /_profile/start`` and
``POST /_profile/stop`` around the requests to profile (yappi, CPU clock, every thread);
the stop writes the functions by their own and total CPU into that file."""

from __future__ import annotations

import io
import os
from pathlib import Path

from fastapi.responses import PlainTextResponse

from helpers.load_app import app

__all__ = ["app"]

_OUT = os.environ.get("SSO_BRIDGE_BENCH_PROFILE")

if _OUT:
    import yappi

    @app.post("/_profile/start")
    def _start() -> PlainTextResponse:
        yappi.clear_stats()
        yappi.set_clock_type("cpu")
        yappi.start(builtins=True, profile_threads=True)
        return PlainTextResponse("started\n")

    @app.post("/_profile/stop")
    def _stop() -> PlainTextResponse:
        yappi.stop()
        stats = yappi.get_func_stats()
        text = io.StringIO()
        for key in ("tsub", "ttot"):
            stats.sort(key, "desc")
            text.write(f"== by {key}\n")
            for row in list(stats)[:400]:
                where = f"{row.module}:{row.lineno} {row.name}"
                text.write(
                    f"{row.tsub * 1000:10.1f} {row.ttot * 1000:10.1f} {row.ncall:8d} {where}\n"
                )
        Path(_OUT).write_text(text.getvalue())
        return PlainTextResponse("stopped\n")
