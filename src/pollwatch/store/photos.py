"""Photos of incidents and protocols: checked to be images, re-encoded, metadata stripped.

A phone photo carries EXIF metadata, often with GPS coordinates that would identify where
(and so who) the observer is. The upload is decoded with Pillow, refused unless it is a
real JPEG, PNG or WebP image within the size limits, and re-encoded from its pixels only,
as a new JPEG: no EXIF, no GPS, no ICC, no comments survive.

Why these limits. Decoding costs memory by the pixels an image *declares*, not by its
bytes: a 420 KB PNG of zero rows may declare 12,000 × 12,000 pixels and decode to 432 MB
(more with the RGB copy). So, in this order: the route first checks that the report exists
and is the sender's (:func:`photo_target`, no decoding for a made-up id); then the header
alone is read (``Image.open`` is lazy) and more than :data:`MAX_PHOTO_PIXELS` declared
pixels are refused before any decoding; JPEGs are decoded at a reduced scale when that is
still larger than :data:`MAX_PHOTO_SIDE` (``Image.draft``); and a process decodes at most a
few photos at once (:class:`DecodeSlots`). Pillow's own decompression-bomb guard
(``Image.MAX_IMAGE_PIXELS``, far above ours) stays on; its warning and error are answered
like our own limit.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from pollwatch.errors import ConflictError, Forbidden, InputError, NotFoundError, ServiceBusy
from pollwatch.store._util import utcnow
from pollwatch.store.engine import write_transaction
from pollwatch.store.people import Observer
from pollwatch.store.tables import photos, reports

__all__ = [
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_PIXELS",
    "MAX_PHOTO_SIDE",
    "CleanPhoto",
    "DecodeSlots",
    "clean_photo",
    "get_photo",
    "photo_target",
    "store_photo",
]

MAX_PHOTO_BYTES = 10 * 1024 * 1024
"""Largest upload accepted (a 12-megapixel phone JPEG is about 3-5 MB)."""

MAX_PHOTO_SIDE = 2560
"""Longest side after re-encoding; enough to read a protocol's figures."""

MAX_PHOTO_PIXELS = 25_000_000
"""Most pixels (width × height) an upload may declare: a phone saves 12 MP by default (also
with 48-200 MP sensors, which bin pixels), a 24 MP camera 6000 × 4000. Decoded as RGB this
is at most 75 MB, instead of the gigabytes a forged header can ask for."""

_FORMATS = ("JPEG", "PNG", "WEBP")


@dataclass(frozen=True)
class CleanPhoto:
    """A re-encoded JPEG without metadata, with its size in pixels."""

    data: bytes
    width: int
    height: int


def _too_many_pixels(detail: str) -> InputError:
    return InputError(
        f"the photo declares {detail}; at most {MAX_PHOTO_PIXELS:,} pixels "
        "(width × height, e.g. 6000 × 4000) are accepted",
        column="photo",
    )


def clean_photo(data: bytes) -> CleanPhoto:
    """Check that ``data`` is an image and re-encode it as a metadata-free JPEG.

    The declared size is checked from the header before any pixel is decoded
    (:data:`MAX_PHOTO_PIXELS`); see the module docstring.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise InputError("the photo is empty", column="photo")
    if len(data) > MAX_PHOTO_BYTES:
        raise InputError(f"the photo is larger than {MAX_PHOTO_BYTES} bytes", column="photo")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # lazy: reads the header only
            if probe.format not in _FORMATS:
                raise InputError(
                    f"the photo must be JPEG, PNG or WebP; got {probe.format}", column="photo"
                )
            width, height = probe.size
            if width * height > MAX_PHOTO_PIXELS:
                raise _too_many_pixels(f"{width} × {height} pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that suffices
                image.draft("RGB", (MAX_PHOTO_SIDE, MAX_PHOTO_SIDE))
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            rgb = upright.convert("RGB")
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's guard fires in Image.open, before our check (as an error far above our
        # limit; as a warning made an error by ``-W error``).
        raise _too_many_pixels(f"more than {Image.MAX_IMAGE_PIXELS or 0:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError("the file is not a readable image", column="photo") from None
    rgb.thumbnail((MAX_PHOTO_SIDE, MAX_PHOTO_SIDE))
    pixels = Image.new("RGB", rgb.size)
    pixels.paste(rgb)
    out = io.BytesIO()
    pixels.save(out, format="JPEG", quality=85, optimize=True)
    return CleanPhoto(out.getvalue(), pixels.width, pixels.height)


class DecodeSlots:
    """At most ``slots`` photo decodes at once in a process; at most ``waiting`` queued.

    Each decode may take up to about a hundred megabytes for a second; without a bound, a
    burst of uploads (or one attacker) multiplies that by the thread pool's size. A request
    that finds every slot and the queue taken, or waits longer than ``wait`` seconds, gets
    :class:`ServiceBusy` (503) and may retry. Create one per application, in its event loop.
    """

    def __init__(self, slots: int = 2, *, waiting: int = 8, wait: float = 15.0) -> None:
        if slots < 1:
            raise InputError(f"slots must be at least 1; got {slots}", column="slots")
        self.slots = slots
        self.waiting = waiting
        self.wait = wait
        self._free = asyncio.Semaphore(slots)
        self._queued = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one decode slot for the block; :class:`ServiceBusy` when none comes free."""
        busy = ServiceBusy("too many photos are being processed right now; retry in a minute")
        if self._free.locked():
            if self._queued >= self.waiting:
                raise busy
            self._queued += 1
            try:
                await asyncio.wait_for(self._free.acquire(), self.wait)
            except TimeoutError:
                raise busy from None
            finally:
                self._queued -= 1
        else:
            await self._free.acquire()
        try:
            yield
        finally:
            self._free.release()


def _check_target(conn: Connection, report_id: str, observer: Observer) -> None:
    row = (
        conn.execute(
            select(reports.c.observer_id, reports.c.kind).where(reports.c.id == report_id.lower())
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no report {report_id!r}; send the report before its photo")
    if row["observer_id"] != observer.id:
        raise Forbidden("only the observer who sent a report may attach its photo")
    if row["kind"] not in ("incident", "protocol", "checklist"):
        raise InputError(
            "photos belong to incident, protocol and checklist reports", column="photo"
        )


def photo_target(engine: Engine, report_id: str, *, observer: Observer) -> None:
    """Check, before the upload is decoded, that the report takes this observer's photo.

    :class:`NotFoundError` for an unknown report, :class:`Forbidden` for another observer's,
    :class:`InputError` for a kind without photos. :func:`store_photo` checks again when it
    stores (the answer must hold at commit time); this early check is what keeps a made-up
    id from costing a decode.
    """
    with engine.connect() as conn:
        _check_target(conn, report_id, observer)


def store_photo(
    engine: Engine, report_id: str, photo: CleanPhoto, *, observer: Observer
) -> dict[str, Any]:
    """Attach a cleaned photo to the observer's own incident or protocol report.

    Idempotent: the same photo again answers as stored; a different one is a conflict.
    Returns ``{"report": id, "created": bool, "width", "height", "bytes"}``.
    """
    with write_transaction(engine) as conn:
        _check_target(conn, report_id, observer)
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
