"""The dialogue coach in Telegram: answers, the topics menu, practice.

Anything written outside a flow is taken as what a relative said and goes to
:meth:`pollwatch.coach.Coach.ask` (the same call as the web page's); a confident match gets
the three steps with sources (:func:`pollwatch.coach.render_answer`, split at 4,096
characters), an unsure one buttons for the three closest arguments, none the general answer
and the topics. Practice keeps only the coach's own state (argument, counters, scores) in
the conversation's memory, never what the user wrote; nothing typed is stored.
"""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from pollwatch.bot.context import Who
from pollwatch.bot.i18n import content_language
from pollwatch.bot.services import BotServices
from pollwatch.bot.ui import Coach, Handlers, keyboard, split_message
from pollwatch.coach import PracticeSession, render_answer
from pollwatch.coach.answer import Answer
from pollwatch.coach.feedback import Feedback
from pollwatch.coach.stats import record_ask
from pollwatch.errors import InputError

__all__ = ["MAX_TEXT", "REF_LIMIT", "Practice", "argument_of", "argument_ref", "handlers"]

handlers = Handlers("coach")

MAX_TEXT = 2000
"""Longest remark the coach takes from a message (a relative's remark fits easily)."""

CLAIM_BUTTON = 60
"""Characters of a claim shown on a button."""


REF_LIMIT = 48
"""Longest argument id carried in a button as it is; a longer one (slugs may have 80
characters) goes by its position among the active arguments, so every button's data stays
within Telegram's 64 bytes."""


def argument_ref(argument_id: str, services: BotServices) -> str:
    """What a button carries for an argument."""
    if len(argument_id.encode()) <= REF_LIMIT:
        return argument_id
    ids = sorted(a.id for a in services.coach.kb.active)
    return f"#{ids.index(argument_id)}"


def argument_of(ref: str, services: BotServices) -> str:
    """The argument id a button carries (InputError for an unknown reference)."""
    if not ref.startswith("#"):
        return ref
    ids = sorted(a.id for a in services.coach.kb.active)
    index = int(ref[1:]) if ref[1:].isdigit() else -1
    if not 0 <= index < len(ids):
        raise InputError("this button is no longer valid", column="argument")
    return ids[index]


class Practice(StatesGroup):
    """A practice conversation (the coach's state is in the data, not the user's text)."""

    active = State()


def _claim_button(claim: str) -> str:
    return claim if len(claim) <= CLAIM_BUTTON else claim[: CLAIM_BUTTON - 1] + "…"


async def _send_answer(bot: Bot, who: Who, services: BotServices, answer: Answer) -> None:
    _ = who._
    parts = split_message(render_answer(answer))
    buttons = keyboard(
        [
            [
                (
                    _("Practise this conversation"),
                    Coach(act="practice", value=argument_ref(answer.argument_id, services)),
                )
            ],
            [(_("Topics"), Coach(act="topics"))],
        ]
    )
    for i, part in enumerate(parts):
        await bot.send_message(
            who.chat_id, part, reply_markup=buttons if i == len(parts) - 1 else None
        )


async def _send_topics(bot: Bot, who: Who, services: BotServices) -> None:
    _ = who._
    groups = services.coach.topics(content_language(who.lang))
    rows = [[(g.label, Coach(act="topic", value=g.topic))] for g in groups]
    await bot.send_message(who.chat_id, _("Topics I know:"), reply_markup=keyboard(rows))


@handlers.message(Command("topics"))
async def topics(message: Message, bot: Bot, who: Who, services: BotServices) -> None:
    """The topics menu."""
    await _send_topics(bot, who, services)


@handlers.message(Command("practice"))
async def practice(
    message: Message, bot: Bot, who: Who, services: BotServices, state: FSMContext
) -> None:
    """Practise on a random argument."""
    await _start_practice(bot, who, services, state, None)


async def _start_practice(
    bot: Bot, who: Who, services: BotServices, state: FSMContext, argument: str | None
) -> None:
    _ = who._
    session = PracticeSession.start(
        services.coach.kb, argument, content_language(who.lang), coach=services.coach
    )
    await state.set_state(Practice.active)
    await state.set_data({"practice": session.to_dict()})
    claim = getattr(session.argument.claim, session.state.lang)
    await bot.send_message(
        who.chat_id,
        _(
            "Practice: I play your relative, you answer as you would. /stop ends it.\n\n"
            "Topic: {claim}\n\nRelative: {line}",
            claim=claim,
            line=session.opening,
        ),
    )


def _feedback_text(feedback: Feedback, who: Who) -> str:
    _ = who._
    lines = [
        _(
            "Feedback: {total}/{max_total} ({verdict})",
            total=feedback.total,
            max_total=feedback.max_total,
            verdict=feedback.to_dict()["verdict_label"],
        )
    ]
    lines += [f"[{d.score}/{d.max_score}] {d.label}: {d.reason}" for d in feedback.dimensions]
    if feedback.suggestion and not feedback.is_empathic:
        lines.append(_("You could say: {text}", text=feedback.suggestion))
    return "\n".join(lines)


@handlers.message(Practice.active, Command("stop"))
async def stop(message: Message, bot: Bot, who: Who, state: FSMContext) -> None:
    """End the practice."""
    await state.clear()
    await bot.send_message(who.chat_id, who._("Practice ended."))


@handlers.message(Practice.active, F.text)
async def practice_reply(
    message: Message, bot: Bot, who: Who, services: BotServices, state: FSMContext
) -> None:
    """Score the reply; the relative answers."""
    _ = who._
    text = message.text or ""
    if len(text) > MAX_TEXT:
        raise InputError(
            _("the message is too long: at most {n} characters", n=MAX_TEXT), column="text"
        )
    data = await state.get_data()
    session = PracticeSession.from_dict(data.get("practice"), services.coach.kb, services.coach)
    turn = session.reply(text)
    reply = (
        f"{_feedback_text(turn.feedback, who)}\n\n{_('Relative: {line}', line=turn.relative_line)}"
    )
    if turn.finished:
        await state.clear()
        scores = turn.state.scores
        reply += "\n\n" + _(
            "Practice finished: {n} replies, average {avg:.1f}. /practice starts another.",
            n=len(scores),
            avg=sum(scores) / max(len(scores), 1),
        )
    else:
        await state.set_data({"practice": turn.state.to_dict()})
    for part in split_message(reply):
        await bot.send_message(who.chat_id, part)


@handlers.callback_query(Coach.filter())
async def coach_button(
    query: CallbackQuery,
    callback_data: Coach,
    bot: Bot,
    who: Who,
    services: BotServices,
    state: FSMContext,
) -> None:
    """An argument, a topic, the topics menu or practice."""
    await query.answer()
    lang = content_language(who.lang)
    act, value = callback_data.act, callback_data.value
    if act == "arg":
        argument = argument_of(value, services)
        await _send_answer(bot, who, services, services.coach.answer(argument, lang))
    elif act == "topics":
        await _send_topics(bot, who, services)
    elif act == "topic":
        groups = {g.topic: g for g in services.coach.topics(lang)}
        group = groups.get(value)
        if group is None:
            raise InputError(who._("unknown topic"), column="topic")
        rows = [
            [(_claim_button(claim), Coach(act="arg", value=argument_ref(i, services)))]
            for i, claim in group.arguments
        ]
        await bot.send_message(who.chat_id, group.label, reply_markup=keyboard(rows))
    elif act == "practice":
        await _start_practice(
            bot, who, services, state, argument_of(value, services) if value else None
        )


@handlers.message(F.text & ~F.text.startswith("/"))
async def ask(message: Message, bot: Bot, who: Who, services: BotServices) -> None:
    """What a relative said: the answer, the three closest arguments, or the topics."""
    _ = who._
    text = message.text or ""
    if len(text) > MAX_TEXT:
        raise InputError(
            _("the message is too long: at most {n} characters", n=MAX_TEXT), column="text"
        )
    result = await services.run(services.coach.ask, text)
    record_ask(services.settings, result)
    if result.status == "confident" and result.answer is not None:
        await _send_answer(bot, who, services, result.answer)
        return
    if result.status == "choose" and result.matches:
        rows = [
            [(_claim_button(m.claim), Coach(act="arg", value=argument_ref(m.id, services)))]
            for m in result.matches
        ]
        await bot.send_message(
            who.chat_id,
            _("Which of these is closest to what they said?"),
            reply_markup=keyboard(rows),
        )
        return
    lines = []
    if result.general is not None:
        lines.append(f"{result.general.acknowledge}\n{result.general.question}")
    lines.append(_("I did not find anything close to that. These are the topics I know:"))
    rows = [[(g.label, Coach(act="topic", value=g.topic))] for g in result.topics]
    await bot.send_message(who.chat_id, "\n\n".join(lines), reply_markup=keyboard(rows))
