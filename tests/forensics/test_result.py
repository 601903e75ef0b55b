"""Every method says 'not applicable' the same way: applicable false, a note saying why."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.registry import METHODS, Method
from pollwatch.forensics.result import MethodResult


@dataclass(frozen=True)
class _Counted(MethodResult):
    method = "counted"
    figure: float
    used: int


def test_not_applicable_echoes_the_fields_and_reads_as_not_applicable() -> None:
    result = _Counted.not_applicable(12, "Only 12 stations.", seed=3, figure=float("nan"), used=0)
    assert result.to_dict() == {
        "method": "counted",
        "reference": "",
        "n_stations": 12,
        "applicable": False,
        "note": "Only 12 stations.",
        "seed": 3,
        "figure": None,
        "used": 0,
    }


def test_not_applicable_needs_a_note_saying_why() -> None:
    with pytest.raises(ValueError, match="needs a note"):
        _Counted.not_applicable(0, "", seed=None, figure=0.0, used=0)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_every_method_on_stations_without_voters_says_why_it_cannot_run(method: Method) -> None:
    zeros = np.zeros(5, dtype=np.int64)
    result = method.run(StationArrays.from_counts(zeros, zeros, zeros, zeros), seed=1, resamples=20)
    data = result.to_dict()
    assert data["applicable"] is False
    assert data["note"]
    assert data["n_stations"] == 5
