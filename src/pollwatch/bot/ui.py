"""Buttons, their callback data (Telegram allows at most 64 bytes), and long messages.

Callback data carry short codes, never free text: a station is its index in the observer's
list, an argument its id (at most :data:`pollwatch.observe.ids.ID_LIMIT` characters), so
every packed value fits in 64 bytes; aiogram refuses to pack anything longer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

__all__ = [
    "CALLBACK_LIMIT",
    "MESSAGE_LIMIT",
    "Coach",
    "Flow",
    "Guide",
    "Handlers",
    "Menu",
    "Setting",
    "keyboard",
    "split_message",
]

CALLBACK_LIMIT = 64
"""Most bytes of callback data Telegram accepts."""

MESSAGE_LIMIT = 4096
"""Most characters of one Telegram message."""

F = TypeVar("F", bound=Callable[..., Any])


class Menu(CallbackData, prefix="m"):
    """The observer's menu: a report kind, or ``mine``."""

    item: str


class Flow(CallbackData, prefix="f"):
    """A step's answer in a report flow: ``act`` is pick / skip / ok / cancel / station."""

    act: str
    value: str = ""


class Coach(CallbackData, prefix="c"):
    """The coach: ``act`` is arg / topic / practice / topics, ``value`` an id."""

    act: str
    value: str = ""


class Guide(CallbackData, prefix="g"):
    """Voter guidance: a section of the page by its index, or ``all``."""

    part: str


class Setting(CallbackData, prefix="s"):
    """Settings: the interface language."""

    lang: str


def keyboard(rows: Sequence[Sequence[tuple[str, CallbackData]]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=label[:64], callback_data=data.pack())
                for label, data in row
            ]
            for row in rows
        ]
    )


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Text cut into messages of at most ``limit`` characters, at paragraph or line ends."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest or not parts:
        parts.append(rest)
    return parts


class Handlers:
    """A part's handlers, registered on a fresh :class:`aiogram.Router` per dispatcher
    (an aiogram router can belong to one dispatcher only; tests and the webhook build
    several)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = []

    def message(self, *filters: Any) -> Callable[[F], F]:
        """Register a message handler with these filters."""
        return self._add("message", filters)

    def callback_query(self, *filters: Any) -> Callable[[F], F]:
        """Register a button handler with these filters."""
        return self._add("callback_query", filters)

    def _add(self, kind: str, filters: tuple[Any, ...]) -> Callable[[F], F]:
        def register(func: F) -> F:
            self._items.append((kind, func, filters))
            return func

        return register

    def router(self) -> Router:
        """A new router with every handler, in the order they were declared."""
        router = Router(name=self.name)
        for kind, func, filters in self._items:
            getattr(router, kind).register(func, *filters)
        return router
