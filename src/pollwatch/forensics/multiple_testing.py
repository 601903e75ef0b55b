"""Benjamini–Hochberg q-values, for the per-region p-values the methods report.

Why
---
A method tested in 85 regions gives 85 p-values; ranked raw, about four regions of a clean
election fall below 0.05 by chance. The Benjamini–Hochberg step-up procedure controls the
expected share of false discoveries among the regions flagged; a region is flagged when its
q-value is below the level (0.05), which is the same as the procedure at that level.

Reference
---------
Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
powerful approach to multiple testing. *Journal of the Royal Statistical Society B* 57(1),
289–300.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FDR_LEVEL", "bh_q_values"]

FDR_LEVEL = 0.05
"""The false-discovery rate at which regions are flagged."""


def bh_q_values(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input's order.

    NaN p-values stay NaN and do not count among the tests.

    >>> bh_q_values(np.array([0.01, 0.04, 0.03, 0.2])).round(3).tolist()
    [0.04, 0.053, 0.053, 0.2]
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        from scipy import stats  # lazily: scipy.stats costs about a second to import

        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q
