"""Who a message to observers reaches, and what a message and its targets may be."""

from __future__ import annotations

import pytest

from pollwatch.errors import InputError
from pollwatch.observe.messages import (
    MAX_TARGETS,
    MESSAGE_TEXT_LIMIT,
    Target,
    check_message_text,
    parse_targets,
    reaches,
)


def test_targets_are_parsed_sorted_and_deduplicated() -> None:
    assert parse_targets([" station:8001", "country:RS", "station:8001", ""]) == (
        Target("country", "RS"),
        Target("station", "8001"),
    )
    assert parse_targets(["all"]) == (Target("all"),)
    assert parse_targets(["observer:owl-7"])[0].label() == "observer:owl-7"


@pytest.mark.parametrize(
    "labels",
    [
        [],
        [""],
        ["everyone"],
        ["all", "station:1"],
        ["station:"],
        ["station:../etc"],
        ["country:"],
        ["observer:" + "x" * 101],
        [f"station:{i}" for i in range(MAX_TARGETS + 1)],
        [3],
    ],
)
def test_bad_targets_are_refused_naming_targets(labels: list[str]) -> None:
    with pytest.raises(InputError) as refused:
        parse_targets(labels)
    assert refused.value.column == "targets"


def test_message_texts_are_bounded() -> None:
    assert check_message_text("  hi  ") == "hi"
    for bad in ("", "   ", "x" * (MESSAGE_TEXT_LIMIT + 1), "a\x00b", "\ud800", None):
        with pytest.raises(InputError) as refused:
            check_message_text(bad)
        assert refused.value.column == "text"


def test_who_a_message_reaches() -> None:
    def reach(labels: list[str], stations: list[str], countries: list[str]) -> bool:
        return reaches(
            parse_targets(labels), code_name="owl", stations=stations, countries=countries
        )

    assert reach(["all"], [], [])
    assert reach(["station:1"], ["1", "2"], [])
    assert not reach(["station:1"], ["2"], ["RS"])
    assert reach(["country:RS"], ["2"], ["RS"])
    assert reach(["observer:owl"], [], [])
    assert not reach(["observer:owl2"], ["1"], ["RS"])
