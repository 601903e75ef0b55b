"""The practice state machine: tracks, closing, abandonment, serialisation."""

from __future__ import annotations

import json

import pytest

from pollwatch.coach import Coach, KnowledgeBase, PracticeSession
from pollwatch.errors import InputError, NotFoundError

KIND = "Понимаю, мне тоже обидно. Мне кажется, вместе можно что-то сделать. Что бы ты предложил?"
RUDE = "Ты всегда ноешь, дурак."


def test_opening_and_empathic_track_to_closing(fixture_kb: KnowledgeBase) -> None:
    s = PracticeSession.start(fixture_kb, "roads-bad", "ru")
    lines = fixture_kb.get("roads-bad").practice.ru
    assert s.opening == lines.opening
    seen = []
    while not s.finished:
        turn = s.reply(KIND)
        assert turn.feedback.is_empathic
        seen.append(turn.relative_line)
    assert seen == [*lines.empathic, lines.closing]
    assert s.state.outcome == "closed" and turn.track == "closing"
    with pytest.raises(InputError, match="ended"):
        s.reply(KIND)


def test_hostile_replies_get_hostile_lines_and_end_abandoned(fixture_kb: KnowledgeBase) -> None:
    s = PracticeSession.start(fixture_kb, "roads-bad", "ru", max_turns=4)
    lines = fixture_kb.get("roads-bad").practice.ru
    got = [s.reply(RUDE).relative_line for _ in range(4)]
    # the last hostile line repeats once the track is used up
    assert got == [lines.hostile[0], lines.hostile[1], lines.hostile[1], lines.hostile[1]]
    assert s.finished and s.state.outcome == "abandoned"
    assert s.state.scores and max(s.state.scores) <= 2


def test_relative_reacts_to_each_reply(fixture_kb: KnowledgeBase) -> None:
    s = PracticeSession.start(fixture_kb, "taxes-high", "en")
    lines = fixture_kb.get("taxes-high").practice.en
    t1 = s.reply("You never understand anything, you fool.")
    t2 = s.reply("I understand, it annoys me too. Maybe we both want fairness. What worries you?")
    assert (t1.track, t1.relative_line) == ("hostile", lines.hostile[0])
    assert (t2.track, t2.relative_line) == ("empathic", lines.empathic[0])
    assert t1.feedback.suggestion is not None


def test_state_round_trips_through_json(fixture_kb: KnowledgeBase) -> None:
    s = PracticeSession.start(fixture_kb, "roads-bad", "en")
    s.reply("I understand, it annoys me too. What do you think we could do together?")
    data = json.loads(json.dumps(s.to_dict()))
    assert "text" not in json.dumps(data)  # no user text in the state
    restored = PracticeSession.from_dict(data, fixture_kb)
    assert restored.state == s.state
    a = s.reply(RUDE)
    b = restored.reply(RUDE)
    assert a.relative_line == b.relative_line and a.state == b.state


def test_random_argument_is_seeded(fixture_kb: KnowledgeBase) -> None:
    ids = {PracticeSession.start(fixture_kb, seed=k).state.argument_id for k in range(20)}
    assert ids == {"roads-bad", "taxes-high"}
    a = PracticeSession.start(fixture_kb, seed=7).state.argument_id
    assert a == PracticeSession.start(fixture_kb, seed=7).state.argument_id


@pytest.mark.parametrize(
    "data",
    [None, [], {}, {"argument_id": "roads-bad"}, {"argument_id": "roads-bad", "lang": "de"},
     {"argument_id": "roads-bad", "lang": "ru", "turns": "x"},
     {"argument_id": "roads-bad", "lang": "ru", "outcome": "won"},
     {"argument_id": "roads-bad", "lang": "ru", "turns": -1}],
)  # fmt: skip
def test_bad_state_raises_input_error(fixture_kb: KnowledgeBase, data: object) -> None:
    with pytest.raises(InputError):
        PracticeSession.from_dict(data, fixture_kb)


def test_unknown_argument_and_lang(fixture_kb: KnowledgeBase) -> None:
    with pytest.raises(NotFoundError):
        PracticeSession.start(fixture_kb, "nope")
    with pytest.raises(InputError):
        PracticeSession.start(fixture_kb, "roads-bad", "de")  # type: ignore[arg-type]


def test_every_shipped_argument_can_be_practised(kb: KnowledgeBase) -> None:
    for arg in kb.active:
        for lang in ("ru", "en"):
            s = PracticeSession.start(kb, arg.id, lang)  # type: ignore[arg-type]
            assert s.opening
            good = getattr(arg.examples.good, lang)[0]
            turn = s.reply(good)
            assert turn.relative_line, (arg.id, lang)


def test_the_relative_answers_what_was_said(kb: KnowledgeBase, coach: Coach) -> None:
    """Same argument, same moment: the next line depends on the reply."""
    reactions = kb.reactions
    assert reactions is not None
    lines = kb.get("sanctions-help").practice.ru

    def first_line(text: str) -> tuple[str, str]:
        s = PracticeSession.start(kb, "sanctions-help", "ru", coach=coach)
        turn = s.reply(text)
        return turn.track, turn.relative_line

    empathic = first_line(
        "Понимаю, ты гордишься, что люди справились. Мне тоже важно. Что для тебя изменилось?"
    )
    agreeing = first_line("Да, ты прав, санкции нам только на пользу.")
    sarcastic = first_line("Ну конечно, санкции нам только на пользу, по ценам заметно.")
    facts = first_line("Ты ошибаешься: инфляция 9,5%, ставка 21%.")
    hostile = first_line("Ты всегда веришь телевизору, зомби.")
    other = first_line("А вообще, если не Путин, то кто? Альтернативы-то нет.")
    assert empathic == ("empathic", lines.empathic[0])
    assert agreeing == ("reaction", reactions.agreeing.ru)
    assert sarcastic[0] == "hostile" and sarcastic[1].startswith(reactions.sarcastic.ru)
    assert facts == ("reaction", reactions.facts.ru)
    assert hostile == ("hostile", lines.hostile[0])
    claim = kb.get("no-alternative").claim.ru
    assert other[0] == "reaction" and claim in other[1]
    assert len({empathic[1], agreeing[1], sarcastic[1], facts[1], hostile[1], other[1]}) == 6


def test_hostility_hardens_the_relative_faster_than_lecturing(kb: KnowledgeBase) -> None:
    lines = kb.get("stability").practice.en
    rude = PracticeSession.start(kb, "stability", "en")
    rude.reply("You're brainwashed.")
    preachy = PracticeSession.start(kb, "stability", "en")
    preachy.reply("You're wrong, open your eyes.")
    assert rude.state.hostile_step == 2 and preachy.state.hostile_step == 1
    assert rude.reply("You're brainwashed.").relative_line == lines.hostile[2]
