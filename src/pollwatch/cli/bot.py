"""`pollwatch bot`: run the Telegram bot by long polling; give an observer a link code;
point Telegram at the web app's webhook. Thin commands over pollwatch.bot and the store."""

from __future__ import annotations

import typer

from pollwatch.config import load_settings

__all__ = ["register"]

bot_app = typer.Typer(
    name="bot",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _extra_missing() -> None:
    try:
        import aiogram  # noqa: F401
    except ImportError:
        typer.echo("Error: the bot needs its extra: pip install 'pollwatch[bot]'", err=True)
        raise typer.Exit(1) from None


@bot_app.callback()
def bot(ctx: typer.Context) -> None:
    """The Telegram bot: without a sub-command, run it by long polling.

    Observers report, voters follow a station, anyone uses the coach. Needs
    POLLWATCH_TELEGRAM_TOKEN and POLLWATCH_TELEGRAM_KEY.

    Stop it with Ctrl-C; reports it is storing are committed first. For a webhook instead,
    set POLLWATCH_TELEGRAM_WEBHOOK_SECRET for `pollwatch serve` and run `pollwatch bot
    webhook URL` once.
    """
    if ctx.invoked_subcommand is not None:
        return
    _extra_missing()
    import asyncio
    import logging

    from pollwatch.bot.app import run_polling

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run_polling(load_settings()))


@bot_app.command("link-code")
def link_code(
    code_name: str = typer.Argument(..., help="The observer's code name."),
    election: str = typer.Option(..., "--election", help="The observer's election."),
) -> None:
    """Print an observer's one-time link code, t.me deep link and QR code (24 hours, once)."""
    _extra_missing()
    import asyncio

    from pollwatch.bot.links import link_for_observer

    link = asyncio.run(link_for_observer(load_settings(), election, code_name))
    typer.echo(
        f"code: {link.code}\nlink: {link.url}\nexpires: {link.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    typer.echo(link.qr_text)


@bot_app.command("webhook")
def webhook(
    url: str = typer.Argument(
        ..., help="Public https address of the web app's webhook, ending in /telegram/webhook."
    ),
) -> None:
    """Tell Telegram to deliver updates to the web app (with the webhook secret)."""
    _extra_missing()
    import asyncio

    from pollwatch.bot.links import set_webhook

    asyncio.run(set_webhook(load_settings(), url))
    typer.echo(f"Telegram now sends updates to {url}")


@bot_app.command("send")
def send() -> None:
    """Run only the paced sender and the followed stations' watch (with a webhook, where
    `pollwatch serve` takes the updates); `pollwatch bot` includes both."""
    _extra_missing()
    import asyncio

    from pollwatch.bot.app import run_sender

    asyncio.run(run_sender(load_settings()))


@bot_app.command("broadcast")
def broadcast(
    text: str = typer.Argument(..., help="The message (at most 4096 characters)."),
    election: str = typer.Option(..., "--election", help="Whose observers get it."),
    wait: float = typer.Option(
        0.0,
        "--wait",
        min=0.0,
        max=3600.0,
        help="Seconds to wait for the running bot to deliver it, then print the counts.",
    ),
) -> None:
    """Queue a message to every observer of an election linked in Telegram; the running
    bot's paced sender delivers it (about 30 messages a second). Prints the chats queued,
    and with --wait those Telegram accepted (delivered), those given up (failed: blocked the
    bot, chat gone) and those still pending; `pollwatch bot deliveries` shows them later."""
    import time

    from pollwatch.store import open_store
    from pollwatch.store.telegram import queue_to_observers
    from pollwatch.store.telegram_batches import batch_status

    engine = open_store(load_settings().resolved_database_url())
    sent = queue_to_observers(engine, election, text)
    typer.echo(f"queued for {sent.queued} observer(s) as batch {sent.batch}")
    if not wait:
        return
    deadline = time.monotonic() + wait
    status = batch_status(engine, sent.batch)
    while status["pending"] > 0 and time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        status = batch_status(engine, sent.batch)
    typer.echo(
        f"queued {status['queued']}, delivered {status['delivered']}, "
        f"failed {status['failed']}, pending {status['pending']}"
    )


@bot_app.command("deliveries")
def deliveries(
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="How many batches."),
) -> None:
    """The latest broadcasts and coordinators' messages in Telegram: chats queued, delivered
    (Telegram accepted the message), failed (blocked the bot, chat gone) and still pending."""
    from pollwatch.store import open_store
    from pollwatch.store.telegram_batches import list_batches

    engine = open_store(load_settings().resolved_database_url())
    rows = list_batches(engine, limit=limit)
    if not rows:
        typer.echo("nothing sent through Telegram yet")
        return
    typer.echo(f"{'batch':<16} {'queued':>7} {'delivered':>9} {'failed':>6} {'pending':>7}")
    for r in rows:
        typer.echo(
            f"{r['batch']:<16} {r['queued']:>7} {r['delivered']:>9} {r['failed']:>6} "
            f"{r['pending']:>7}"
        )


@bot_app.command("forget-election")
def forget_election_command(
    election: str = typer.Argument(..., help="The election that is over."),
) -> None:
    """Erase the bot's chat ids, links and follows of an election that is over (sent
    reports stay)."""
    from pollwatch.store import open_store
    from pollwatch.store.telegram import forget_election

    engine = open_store(load_settings().resolved_database_url())
    touched = forget_election(engine, election)
    typer.echo(f"erased the Telegram data of {touched} account(s)")


def register(app: typer.Typer) -> None:
    """Add `pollwatch bot` to the main app."""
    app.add_typer(bot_app)
