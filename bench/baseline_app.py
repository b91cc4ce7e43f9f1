"""The parse-only baseline: the same body parsed the same way, answering `{"cards": []}`.

The ratio of the real route to this one shows what the rules cost over HTTP and parsing.
"""

from __future__ import annotations

import time

import orjson
from fastapi import FastAPI, Request

from app.responses import JsonResponse
from cds_hooks.models import HookRequest


def create_baseline_app() -> FastAPI:
    app = FastAPI()

    @app.post("/cds-services/{service_id}")
    async def parse_only(service_id: str, request: Request) -> JsonResponse:
        started = time.perf_counter()
        HookRequest.model_validate(orjson.loads(await request.body()))
        duration_ms = (time.perf_counter() - started) * 1000
        return JsonResponse({"cards": []}, headers={"Server-Timing": f"cds;dur={duration_ms:.2f}"})

    return app
