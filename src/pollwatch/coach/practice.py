"""Practice mode: the coach plays the relative, the user answers, the rubric gives feedback.

A pure state machine, no I/O: :class:`PracticeSession` holds a frozen, JSON-serialisable
:class:`PracticeState` (argument, language, positions in the two tracks, scores — never the
user's text), so the terminal, the web page and the Telegram bot can each keep it their way
(in memory, a signed cookie, the bot's storage).

Transitions (``reply(text)``):

* the reply is scored by :func:`~pollwatch.coach.feedback.score_reply`;
* an *empathic* reply moves along the ``empathic`` track (the relative softens and opens
  up); after the last empathic line, the next empathic reply gets the ``closing`` line and
  the session ends with outcome ``"closed"``;
* any other reply gets the next ``hostile`` line (the relative gets defensive; the last one
  repeats); after ``max_turns`` replies the relative changes the subject and the session ends
  with outcome ``"abandoned"``.

This is how deep canvassing and "Angry Uncle"-style bots train: the reward for listening is
that the other person keeps talking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from pollwatch.coach.feedback import Feedback, score_reply
from pollwatch.coach.loader import KnowledgeBase
from pollwatch.coach.schema import Argument
from pollwatch.coach.text import Lang
from pollwatch.errors import InputError

__all__ = ["Outcome", "PracticeSession", "PracticeState", "PracticeTurn", "next_state"]

Outcome = Literal["open", "closed", "abandoned"]
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
    track: Literal["empathic", "hostile", "closing", "abandoned"]
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


def next_state(
    state: PracticeState, argument: Argument, empathic: bool, score: int
) -> tuple[PracticeState, str, Literal["empathic", "hostile", "closing", "abandoned"]]:
    """The pure transition: new state, the relative's line and which track it came from."""
    if state.finished:
        raise InputError("This practice has ended; start a new one.")
    lines = getattr(argument.practice, state.lang)
    turns = state.turns + 1
    scores = (*state.scores, score)
    if empathic:
        if state.empathic_step >= len(lines.empathic):
            new = replace(state, turns=turns, scores=scores, outcome="closed")
            return new, lines.closing, "closing"
        line = lines.empathic[state.empathic_step]
        new = replace(state, turns=turns, scores=scores, empathic_step=state.empathic_step + 1)
        if turns >= state.max_turns:
            new = replace(new, outcome="closed")
            return new, f"{line} {lines.closing}", "closing"
        return new, line, "empathic"
    line = lines.hostile[min(state.hostile_step, len(lines.hostile) - 1)]
    new = replace(state, turns=turns, scores=scores, hostile_step=state.hostile_step + 1)
    if turns >= state.max_turns:
        return replace(new, outcome="abandoned"), line, "abandoned"
    return new, line, "hostile"


class PracticeSession:
    """A practice conversation over one argument.

    Start with :meth:`start`; answer with :meth:`reply`; keep ``session.state`` (or
    ``to_dict()``) between requests and rebuild with :meth:`from_dict`.
    """

    def __init__(self, kb: KnowledgeBase, state: PracticeState) -> None:
        self.kb = kb
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
    ) -> PracticeSession:
        """Begin a practice on ``argument_id`` (or a random active argument drawn with
        ``seed``). ``max_turns`` defaults to the empathic lines + 3."""
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
        return cls(kb, PracticeState(argument_id=argument_id, lang=lang, max_turns=max_turns))

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
        feedback = score_reply(text, self.state.lang, self.argument, variant=self.state.turns)
        state, line, track = next_state(
            self.state, self.argument, feedback.is_empathic, feedback.total
        )
        self.state = state
        return PracticeTurn(feedback, line, track, state)

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data."""
        return self.state.to_dict()

    @classmethod
    def from_dict(cls, data: Any, kb: KnowledgeBase) -> PracticeSession:
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
        return cls(kb, state)
