"""The ceiling for read benchmarks: a bare ASGI endpoint returning a fixed JSON body.

Served under the same uvicorn settings as Qala; ``QALA_BENCH_BODY`` names a file holding the
body (e.g. one entity as Qala returns it) and ``/health`` answers for the start-up probe.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ.get("QALA_BENCH_BODY", "/dev/null")).read_bytes() or b"{}"


async def fixed(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/health", fixed), Route("/{path:path}", fixed)])
