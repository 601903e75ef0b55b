"""A synthetic station registry with addresses, for benchmarks and tests of the station finder.

The public results files name each station's region, territorial commission and number but
not its address; the finder must be measured on a registry of a whole country's size with
addresses people type. :func:`synthetic_registry` gives every (region, commission, number)
a generated Russian street address, deterministically from ``seed``. Station numbers repeat
across regions, so the id is the region's folded name plus the number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from pollwatch.guide.places import fold

__all__ = ["STREETS", "synthetic_registry"]

STREETS: tuple[str, ...] = (
    "Ленина", "Советская", "Мира", "Молодёжная", "Центральная", "Школьная", "Садовая",
    "Лесная", "Набережная", "Гагарина", "Пушкина", "Кирова", "Октябрьская", "Комсомольская",
    "Первомайская", "Заводская", "Пролетарская", "Чехова", "Горького", "Победы",
    "Строителей", "Новая", "Зелёная", "Полевая", "Рабочая", "Лермонтова", "Мичурина",
    "Калинина", "Свердлова", "Маяковского",
)  # fmt: skip
"""Common Russian street names (the most frequent in Russian towns)."""


def synthetic_registry(
    stations: Iterable[tuple[str, str, str]], *, seed: int = 0
) -> list[dict[str, Any]]:
    """Registry rows for (region, commission, number) triples, with generated addresses.

    Every row has ``station`` (``<folded region>-<number>``), ``name`` ("УИК №N"),
    ``country`` "RU", ``city`` (the commission's name, standing in for the town) and
    ``address`` ("ул. Ленина, 12"); a sixth of the stations share a building with the
    station before them, as real stations in schools do.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    address = ""
    for region, commission, number in stations:
        if not rows or rng.random() > 1 / 6:
            street = STREETS[int(rng.integers(len(STREETS)))]
            address = f"ул. {street}, {int(rng.integers(1, 120))}"
        slug = fold(region).replace(" ", "-")[:40]
        rows.append(
            {
                "station": f"{slug}-{number}",
                "name": f"УИК №{number}",
                "country": "RU",
                "city": commission or region,
                "region": region,
                "address": address,
            }
        )
    return rows
