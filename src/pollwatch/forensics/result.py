"""The base of every forensic method's result object.

Results are frozen dataclasses, never tuples, so they can gain fields. ``to_dict()``
gives JSON-ready data used by both ``--json`` and the HTML report; numpy scalars and
arrays become Python numbers and lists, NaN becomes ``None``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

__all__ = ["MethodResult", "jsonable"]


def jsonable(value: Any) -> Any:
    """Convert numpy/pandas values (recursively) into JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return value


@dataclass(frozen=True)
class MethodResult:
    """Fields every result has.

    ``applicable`` is false when the method could not run on these data; ``note`` then
    says why (too few stations, no ballots-issued lines, ...). ``seed`` echoes the seed
    used, so that a run can be repeated exactly.
    """

    method: ClassVar[str] = ""
    reference: ClassVar[str] = ""

    n_stations: int
    applicable: bool
    note: str
    seed: int | None

    @classmethod
    def not_applicable(cls, n_stations: int, note: str, *, seed: int | None, **fields: Any) -> Self:
        """The answer of a method that could not run on these data.

        ``note`` says why, for the report's reader (too few stations, no ballots-issued
        line, ...). ``fields`` are the method's own: its settings echoed, what it counted
        before it stopped (stations used, left out), and blanks for the figures it could not
        compute (NaN, shown as null in JSON; empty arrays and tuples). Every method answers
        this way, so ``applicable`` is false exactly when a note says why.
        """
        if not note:
            raise ValueError("a not-applicable result needs a note saying why")
        return cls(n_stations=n_stations, applicable=False, note=note, seed=seed, **fields)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; fields declared with ``metadata={"json": False}`` are left out
        (large arrays kept only for plotting)."""
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("json", True)
        }
        data = {"method": self.method, "reference": self.reference, **data}
        return jsonable(data)  # type: ignore[no-any-return]
