"""The coordinators' dashboard API and the public summary (JSON and server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["dashboard"])
