"""Practice mode: the coach plays the relative, the user answers, the rubric gives feedback.

A pure state machine, no I/O: :class:`PracticeSession` holds a frozen, JSON-serialisable
:class:`PracticeState` (argument, language, positions in the two tracks, scores — never the
user's text), so the terminal, the web page and the Telegram bot can each keep it their way
(in memory, a signed cookie, the bot's storage).

Transitions (``reply(text)``): the reply is scored by
:func:`~pollwatch.coach.feedback.score_reply`, and the relative answers what was said:

* a reply about *another* argument (the coach matches it confidently elsewhere) gets the
  ``other_argument`` reaction naming that claim ("what has X got to do with it?");
* an *empathic* reply moves along the ``empathic`` track (the relative softens and opens
  up); after the last empathic line, the next empathic reply gets the ``closing`` line and
  the session ends with outcome ``"closed"``;
* *agreeing* with the claim gets the ``agreeing`` reaction (the relative feels confirmed;
  nothing moves);
* a *sarcastic* reply gets the ``sarcastic`` reaction and the relative hardens two steps;
  a *hostile* one hardens two steps; *lecturing* with numbers or the argument's own facts
  gets the ``facts`` reaction; anything else gets the next ``hostile`` line (the last one
  repeats);
* after ``max_turns`` replies the relative changes the subject (outcome ``"abandoned"``).

Reactions are content (``kb/reactions.yaml``); without them the relative only softens or
hardens.

This is how deep canvassing and "Angry Uncle"-style bots train: the reward for listening is
that the other person keeps talking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from pollwatch.coach.feedback import Feedback, score_reply
from pollwatch.coach.loader import KnowledgeBase
from pollwatch.coach.schema import Argument, Reactions
from pollwatch.coach.text import Lang, lemmas
from pollwatch.errors import InputError

if TYPE_CHECKING:
    from pollwatch.coach.matching import Coach

__all__ = [
    "Outcome",
    "PracticeSession",
    "PracticeState",
    "PracticeTurn",
    "Track",
    "TurnReading",
    "next_state",
]

Outcome = Literal["open", "closed", "abandoned"]
Track = Literal["empathic", "hostile", "closing", "abandoned", "reaction"]
#: How many steps the relative hardens after each kind of reply.
HARDEN = {"hostile": 2, "sarcastic": 2}
STATE_VERSION = 1


@dataclass(frozen=True)
class PracticeState:
    """Everything needed to continue a practice; no user text."""

    argument_id: str
    lang: Lang
    empathic_step: int = 0
    hostile_step: int = 0
    turns: int = 0
    max_turns: int = 8
    outcome: Outcome = "open"
    scores: tuple[int, ...] = ()

    @property
    def finished(self) -> bool:
        """True once the relative closed or abandoned the conversation."""
        return self.outcome != "open"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``from_dict`` reads it back)."""
        data = asdict(self)
        data["scores"] = list(self.scores)
        data["version"] = STATE_VERSION
        return data


@dataclass(frozen=True)
class PracticeTurn:
    """The result of one user reply: feedback, the relative's answer, the new state."""

    feedback: Feedback
    relative_line: str
    track: Track
    state: PracticeState

    @property
    def finished(self) -> bool:
        """True when this reply ended the practice."""
        return self.state.finished

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "feedback": self.feedback.to_dict(),
            "relative_line": self.relative_line,
            "track": self.track,
            "state": self.state.to_dict(),
            "finished": self.finished,
        }


@dataclass(frozen=True)
class TurnReading:
    """What the relative reacts to in a reply: the rubric's verdict and score, another
    argument's claim if the reply is about that one, and whether it throws facts."""

    verdict: str
    score: int
    other_claim: str | None = None
    facts: bool = False


def _facts(text: str, argument: Argument, lang: Lang) -> bool:
    """True when a reply cites numbers or the argument's own counterargument words."""
    if any(ch.isdigit() for ch in text):
        return True
    said = {w for w in lemmas(text, translit=lang == "ru") if len(w) >= 5}
    counter = {
        w
        for c in getattr(argument.responses.counterargument, lang)
        for w in lemmas(c, translit=lang == "ru")
        if len(w) >= 5
    }
    return len(said & counter) >= 3


def next_state(
    state: PracticeState,
    argument: Argument,
    reading: TurnReading,
    reactions: Reactions | None = None,
) -> tuple[PracticeState, str, Track]:
    """The pure transition: new state, the relative's line and where it came from."""
    if state.finished:
        raise InputError("This practice has ended; start a new one.")
    lang = state.lang
    lines = getattr(argument.practice, lang)
    turns = state.turns + 1
    state = replace(state, turns=turns, scores=(*state.scores, reading.score))
    last = turns >= state.max_turns
    if reading.verdict == "empathic" and reading.other_claim is None:
        if state.empathic_step >= len(lines.empathic):
            return replace(state, outcome="closed"), lines.closing, "closing"
        line = lines.empathic[state.empathic_step]
        state = replace(state, empathic_step=state.empathic_step + 1)
        if last:
            return replace(state, outcome="closed"), f"{line} {lines.closing}", "closing"
        return state, line, "empathic"
    reaction: str | None = None
    if reactions is not None:
        if reading.other_claim is not None and reading.verdict != "hostile":
            reaction = getattr(reactions.other_argument, lang).replace(
                "{claim}", reading.other_claim
            )
        elif reading.verdict == "agreeing":
            reaction = getattr(reactions.agreeing, lang)
        elif reading.verdict == "lecturing" and reading.facts:
            reaction = getattr(reactions.facts, lang)
    if reaction is not None:
        track: Track = "reaction"
        line = reaction
    else:
        line = lines.hostile[min(state.hostile_step, len(lines.hostile) - 1)]
        if reading.verdict == "sarcastic" and reactions is not None:
            line = f"{getattr(reactions.sarcastic, lang)} {line}"
        state = replace(state, hostile_step=state.hostile_step + HARDEN.get(reading.verdict, 1))
        track = "hostile"
    if last:
        return replace(state, outcome="abandoned"), line, "abandoned"
    return state, line, track


class PracticeSession:
    """A practice conversation over one argument.

    Start with :meth:`start`; answer with :meth:`reply`; keep ``session.state`` (or
    ``to_dict()``) between requests and rebuild with :meth:`from_dict`.
    """

    def __init__(self, kb: KnowledgeBase, state: PracticeState, coach: Coach | None = None) -> None:
        self.kb = kb
        self.coach = coach
        self.argument = kb.get(state.argument_id)
        if state.lang not in ("ru", "en"):
            raise InputError(f"The 'lang' must be 'ru' or 'en'; got {state.lang!r} instead.")
        self.state = state

    @classmethod
    def start(
        cls,
        kb: KnowledgeBase,
        argument_id: str | None = None,
        lang: Lang = "ru",
        *,
        seed: int | None = None,
        max_turns: int | None = None,
        coach: Coach | None = None,
    ) -> PracticeSession:
        """Begin a practice on ``argument_id`` (or a random active argument drawn with
        ``seed``). ``max_turns`` defaults to the empathic lines + 3. With a ``coach``, the
        relative notices when a reply is about another argument."""
        if lang not in ("ru", "en"):
            raise InputError(f"The 'lang' parameter must be 'ru' or 'en'; got {lang!r} instead.")
        if argument_id is None:
            active = sorted(a.id for a in kb.active)
            if not active:
                raise InputError("The knowledge base has no active argument to practise.")
            argument_id = active[int(np.random.default_rng(seed).integers(len(active)))]
        argument = kb.get(argument_id)
        if max_turns is None:
            max_turns = len(getattr(argument.practice, lang).empathic) + 3
        if max_turns < 1:
            raise InputError(f"The 'max_turns' parameter must be at least 1; got {max_turns}.")
        state = PracticeState(argument_id=argument_id, lang=lang, max_turns=max_turns)
        return cls(kb, state, coach)

    @property
    def opening(self) -> str:
        """What the relative says first."""
        return str(getattr(self.argument.practice, self.state.lang).opening)

    @property
    def finished(self) -> bool:
        """True once the practice has ended."""
        return self.state.finished

    def reply(self, text: str) -> PracticeTurn:
        """Score the user's reply and advance; raises InputError once finished."""
        if self.state.finished:
            raise InputError("This practice has ended; start a new one.")
        lang = self.state.lang
        feedback = score_reply(text, lang, self.argument, variant=self.state.turns)
        reading = TurnReading(
            verdict=feedback.verdict,
            score=feedback.total,
            other_claim=self._other_claim(text),
            facts=_facts(text, self.argument, lang),
        )
        state, line, track = next_state(self.state, self.argument, reading, self.kb.reactions)
        self.state = state
        return PracticeTurn(feedback, line, track, state)

    def _other_claim(self, text: str) -> str | None:
        """The claim of another argument the reply is confidently about, if any."""
        if self.coach is None:
            return None
        result = self.coach.ask(text, self.state.lang)
        if result.status != "confident" or result.matches[0].id == self.argument.id:
            return None
        return result.matches[0].claim

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data."""
        return self.state.to_dict()

    @classmethod
    def from_dict(cls, data: Any, kb: KnowledgeBase, coach: Coach | None = None) -> PracticeSession:
        """Rebuild a session from :meth:`to_dict` output; bad data raises InputError."""
        if not isinstance(data, dict):
            raise InputError("Practice state must be a mapping.")
        fields = dict(data)
        fields.pop("version", None)
        try:
            state = PracticeState(
                argument_id=str(fields["argument_id"]),
                lang=fields["lang"],
                empathic_step=int(fields.get("empathic_step", 0)),
                hostile_step=int(fields.get("hostile_step", 0)),
                turns=int(fields.get("turns", 0)),
                max_turns=int(fields.get("max_turns", 8)),
                outcome=fields.get("outcome", "open"),
                scores=tuple(int(s) for s in fields.get("scores", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"Practice state is not valid: {exc}") from None
        if (
            state.outcome not in ("open", "closed", "abandoned")
            or min(state.empathic_step, state.hostile_step, state.turns) < 0
        ):
            raise InputError("Practice state is not valid: bad outcome or negative counter.")
        return cls(kb, state, coach)
