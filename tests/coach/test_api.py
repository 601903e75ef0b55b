"""The coach's public API and interface strings."""

from __future__ import annotations

import pollwatch.coach as coach
from pollwatch.coach.i18n import CATALOGUE, t, topic_label
from pollwatch.coach.schema import TOPICS


def test_all_is_sorted_and_importable() -> None:
    assert list(coach.__all__) == sorted(coach.__all__, key=lambda n: (not n.isupper(), n))
    for name in coach.__all__:
        assert getattr(coach, name) is not None


def test_every_interface_string_in_both_languages() -> None:
    assert set(CATALOGUE["en"]) == set(CATALOGUE["ru"])
    for key, text in CATALOGUE["en"].items():
        assert text and CATALOGUE["ru"][key]
        assert text.count("{") == CATALOGUE["ru"][key].count("{"), key


def test_topics_have_labels() -> None:
    for topic in TOPICS:
        assert topic_label(topic, "ru") != topic and topic_label(topic, "en") != topic


def test_sample_note_mentions_review() -> None:
    assert "review" in t("sample_note", "en") and "провер" in t("sample_note", "ru")
