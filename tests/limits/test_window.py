"""Sliding-window arithmetic: the estimate, the announced wait, and the modules' examples."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollwatch.limits import counters, login, window
from pollwatch.limits.window import seconds_until_room, weighted_count


@pytest.mark.parametrize("module", [window, counters, login])
def test_docstring_examples(module: object) -> None:
    outcome = doctest.testmod(module)  # type: ignore[arg-type]
    assert outcome.attempted > 0 and outcome.failed == 0


@given(
    previous=st.integers(0, 200),
    current=st.integers(0, 200),
    limit=st.integers(1, 150),
    elapsed=st.floats(0, 0.999),
)
def test_the_announced_wait_is_the_first_moment_with_room(
    previous: int, current: int, limit: int, elapsed: float
) -> None:
    """After the wait one more request fits; a little before it (when there is a wait) not."""
    size = 60
    wait = seconds_until_room(previous, current, limit, elapsed, size)

    def count_at(later: float) -> float:
        moment = elapsed + later / size
        if moment < 1:
            return weighted_count(previous, current, moment)
        return weighted_count(current, 0, moment - 1) if moment < 2 else 0.0

    assert wait >= 0
    assert count_at(wait + 1e-6) + 1 <= limit + 1e-9
    if wait > 0.01:
        assert count_at(wait - 0.01) + 1 > limit


def test_a_burst_at_a_window_boundary_is_not_let_through_twice() -> None:
    """60 requests at the end of a minute leave room for about one more at its start."""
    previous, limit = 60, 60
    assert weighted_count(previous, 0, elapsed=0.0) + 1 > limit
    assert seconds_until_room(previous, 0, limit, elapsed=0.0, size=60) == pytest.approx(1.0)
