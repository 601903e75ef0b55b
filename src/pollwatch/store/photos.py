"""Photos of incidents and protocols: checked to be images, re-encoded, metadata stripped.

A phone photo carries EXIF metadata, often with GPS coordinates that would identify where
(and so who) the observer is. The upload is decoded with Pillow, refused unless it is a
real JPEG, PNG or WebP image within the size limits, and re-encoded from its pixels only,
as a new JPEG: no EXIF, no GPS, no ICC, no comments survive. Pillow's decompression-bomb
guard is kept on (``Image.MAX_IMAGE_PIXELS``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select

from pollwatch.errors import InputError, NotFoundError
from pollwatch.store._util import utcnow
from pollwatch.store.engine import write_transaction
from pollwatch.store.people import Forbidden, Observer
from pollwatch.store.reports import ConflictError
from pollwatch.store.tables import photos, reports

__all__ = [
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_SIDE",
    "CleanPhoto",
    "clean_photo",
    "get_photo",
    "store_photo",
]

MAX_PHOTO_BYTES = 10 * 1024 * 1024
"""Largest upload accepted (a 12-megapixel phone JPEG is about 3-5 MB)."""

MAX_PHOTO_SIDE = 2560
"""Longest side after re-encoding; enough to read a protocol's figures."""

_FORMATS = ("JPEG", "PNG", "WEBP")


@dataclass(frozen=True)
class CleanPhoto:
    """A re-encoded JPEG without metadata, with its size in pixels."""

    data: bytes
    width: int
    height: int


def clean_photo(data: bytes) -> CleanPhoto:
    """Check that ``data`` is an image and re-encode it as a metadata-free JPEG."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise InputError("the photo is empty", column="photo")
    if len(data) > MAX_PHOTO_BYTES:
        raise InputError(f"the photo is larger than {MAX_PHOTO_BYTES} bytes", column="photo")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in _FORMATS:
                raise InputError(
                    f"the photo must be JPEG, PNG or WebP; got {probe.format}", column="photo"
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            rgb = upright.convert("RGB")
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InputError("the file is not a readable image", column="photo") from None
    rgb.thumbnail((MAX_PHOTO_SIDE, MAX_PHOTO_SIDE))
    pixels = Image.new("RGB", rgb.size)
    pixels.paste(rgb)
    out = io.BytesIO()
    pixels.save(out, format="JPEG", quality=85, optimize=True)
    return CleanPhoto(out.getvalue(), pixels.width, pixels.height)


def store_photo(
    engine: Engine, report_id: str, photo: CleanPhoto, *, observer: Observer
) -> dict[str, Any]:
    """Attach a cleaned photo to the observer's own incident or protocol report.

    Idempotent: the same photo again answers as stored; a different one is a conflict.
    Returns ``{"report": id, "created": bool, "width", "height", "bytes"}``.
    """
    with write_transaction(engine) as conn:
        row = (
            conn.execute(
                select(reports.c.observer_id, reports.c.kind).where(
                    reports.c.id == report_id.lower()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"no report {report_id!r}; send the report before its photo")
        if row["observer_id"] != observer.id:
            raise Forbidden("only the observer who sent a report may attach its photo")
        if row["kind"] not in ("incident", "protocol"):
            raise InputError("photos belong to incident and protocol reports", column="photo")
        old = conn.execute(select(photos.c.data).where(photos.c.report_id == report_id.lower()))
        existing = old.first()
        created = existing is None
        if existing is not None and existing[0] != photo.data:
            raise ConflictError(f"report {report_id} already has a different photo")
        if created:
            conn.execute(
                insert(photos).values(
                    report_id=report_id.lower(),
                    content_type="image/jpeg",
                    width=photo.width,
                    height=photo.height,
                    data=photo.data,
                    uploaded_at=utcnow(),
                )
            )
    return {
        "report": report_id.lower(),
        "created": created,
        "width": photo.width,
        "height": photo.height,
        "bytes": len(photo.data),
    }


def get_photo(engine: Engine, report_id: str) -> bytes:
    """The stored JPEG of a report; :class:`NotFoundError` if none."""
    with engine.connect() as conn:
        row = conn.execute(
            select(photos.c.data).where(photos.c.report_id == report_id.lower())
        ).first()
    if row is None:
        raise NotFoundError(f"no photo for report {report_id!r}")
    return bytes(row[0])
