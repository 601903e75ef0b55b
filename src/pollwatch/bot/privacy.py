"""What the bot keeps, and forgetting it: ``/privacy``, ``/forget``, ``/language``.

The text of ``/privacy`` is the whole list (:data:`PRIVACY_TEXT`); :mod:`pollwatch.store.telegram`
is where it is true.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from pollwatch.bot.context import Who
from pollwatch.bot.i18n import LANGUAGES, translator
from pollwatch.bot.services import BotServices
from pollwatch.bot.ui import Handlers, Setting, keyboard
from pollwatch.store.telegram import forget_account, set_language

__all__ = ["LANGUAGE_NAMES", "PRIVACY_TEXT", "fallback", "handlers"]

handlers = Handlers("privacy")

PRIVACY_TEXT = (
    "What this bot keeps, and for how long:\n\n"
    "• A keyed hash of your Telegram user id (not the id, never your phone number, name or "
    "username), only if you linked an observer account, chose a language or follow a "
    "station. Until /forget.\n"
    "• Your chat id, encrypted, only while the bot has something to send you: a linked "
    "observer (messages from coordinators) or a followed station. Erased by /forget, by "
    "/unfollow of the last station, when you block the bot, and when the election's data are "
    "deleted.\n"
    "• The language you chose with /language. Until /forget.\n"
    "• Observers: the reports you send, as from the observer app (under your code name). "
    "They are the election's record and are not erased by /forget.\n\n"
    "Nothing you write to the coach is kept. An unfinished report (the values typed so far) "
    "or practice is kept in the bot's database under the keyed hash, so a restart of the bot "
    "does not lose it, until you send or cancel it, or 24 hours after your last step. "
    "/forget erases everything above except sent reports; an observer can link again with "
    "a new code."
)
"""The /privacy message (English source; translated in bot.po)."""

LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "sr": "Srpski"}


@handlers.message(Command("privacy"))
async def privacy(message: Message, bot: Bot, who: Who) -> None:
    """Exactly what is kept and for how long."""
    await bot.send_message(who.chat_id, who._(PRIVACY_TEXT))


@handlers.message(Command("forget"))
async def forget(
    message: Message, bot: Bot, who: Who, services: BotServices, state: FSMContext
) -> None:
    """Erase the account's row, follows and queued messages; end any flow."""
    await state.clear()
    existed = await services.run(forget_account, services.engine, who.user_hash)
    text = (
        who._("Done: the bot no longer keeps anything about you.")
        if existed
        else who._("The bot kept nothing about you.")
    )
    await bot.send_message(who.chat_id, text)


@handlers.message(Command("language"))
async def language(message: Message, bot: Bot, who: Who) -> None:
    """Offer the interface languages."""
    rows = [[(LANGUAGE_NAMES[code], Setting(lang=code)) for code in LANGUAGES]]
    await bot.send_message(who.chat_id, who._("Choose a language:"), reply_markup=keyboard(rows))


@handlers.callback_query(Setting.filter())
async def language_pick(
    query: CallbackQuery, callback_data: Setting, bot: Bot, who: Who, services: BotServices
) -> None:
    """Remember the language chosen."""
    await query.answer()
    await services.run(set_language, services.engine, who.user_hash, callback_data.lang)
    _ = translator(callback_data.lang)
    await bot.send_message(who.chat_id, _("Language changed."))


fallback = Handlers("fallback")
"""The last router: a button no handler knows (an old message, forged data)."""


@fallback.callback_query()
async def stale_button(query: CallbackQuery, bot: Bot, who: Who) -> None:
    """Answer the tap (or the client keeps spinning) and say the button is gone."""
    await query.answer()
    await bot.send_message(who.chat_id, who._("This button is no longer valid."))
