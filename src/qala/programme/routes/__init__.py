"""The programme monitor's HTTP API, ``/api/v1/programme/…`` (see docs/programme.md)."""

from __future__ import annotations

from fastapi import APIRouter

from qala.programme.routes import objects, reports
from qala.programme.routes.common import PREFIX

router = APIRouter()
router.include_router(objects.router)
router.include_router(reports.router)

__all__ = ["PREFIX", "router"]
