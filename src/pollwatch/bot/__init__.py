"""The Telegram bot: one more face over the same service layer as the web app.

Routers per part, each handler a thin call to a library function:

* :mod:`pollwatch.bot.observers` — linking (one-time link codes, invites) and the report
  flows (count window, incident, protocol, station status), ``/mine``;
* :mod:`pollwatch.bot.coach` — the dialogue coach: answers, practice, topics;
* :mod:`pollwatch.bot.voters` — ``/where``, a station's public status, ``/follow``;
* :mod:`pollwatch.bot.privacy` — ``/privacy``, ``/forget``, ``/language``.

Reports go through :func:`pollwatch.store.reports.prepare_report` and the group-commit
writer (:class:`pollwatch.store.ingest.IngestWriter`) exactly as the web API's; every
interface string comes from the gettext domain ``bot`` (``web/locale/*/LC_MESSAGES/bot.po``).
Build and run: :func:`pollwatch.bot.app.run_polling`, or the web app's webhook
(:mod:`pollwatch.web.telegram`). aiogram is an extra: ``pip install 'pollwatch[bot]'``.
"""

from __future__ import annotations

__all__: list[str] = []
