"""`pollwatch coach` commands: thin wrappers over :mod:`pollwatch.coach`."""

from __future__ import annotations

import json
from typing import Literal

import typer

from pollwatch.coach import (
    AskResult,
    Coach,
    PracticeSession,
    check_knowledge_base,
    default_coach,
    load_knowledge_base,
    render_answer,
)
from pollwatch.coach.feedback import Feedback
from pollwatch.coach.i18n import t
from pollwatch.coach.loader import sources_to_review
from pollwatch.coach.safety import render_safety_note, safety_note
from pollwatch.coach.stats import forget_stats, read_stats, record_ask, stats_path
from pollwatch.coach.text import Lang
from pollwatch.config import load_settings
from pollwatch.errors import InputError

coach_app = typer.Typer(
    help=(
        "Dialogue coach: what to say to a relative who repeats propaganda, and practice. "
        "The starter content is a sample for organisations to review and extend."
    ),
    no_args_is_help=True,
)

LANG_HELP = "Language: ru or en (default: detected from the text)."


def _lang(value: str | None) -> Lang | None:
    if value is None:
        return None
    if value not in ("ru", "en"):
        raise InputError(f"The '--lang' option must be 'ru' or 'en'; got {value!r} instead.")
    return "ru" if value == "ru" else "en"


def _coach() -> Coach:
    return default_coach()


def _print_result(result: AskResult) -> None:
    lang = result.lang
    if result.status == "confident" and result.answer is not None:
        best = result.matches[0]
        line = t(
            "Closest argument: {claim} ({id}, score {score:.2f})",
            lang,
            claim=best.claim,
            id=best.id,
            score=best.score,
        )
        if result.answer.status == "draft":
            line += " " + t("(draft, not yet reviewed)", lang)
        typer.echo(line)
        typer.echo("")
        typer.echo(render_answer(result.answer))
    elif result.status == "choose":
        typer.echo(t("Not sure which one you mean. The closest arguments:", lang))
        for m in result.matches:
            typer.echo(f"  {m.id:24} {m.score:.2f}  {m.claim}")
        typer.echo(t("Show one with: pollwatch coach show ID", lang))
    else:
        typer.echo(t("No argument in the knowledge base is close to this. Topics we cover:", lang))
        for group in result.topics:
            typer.echo(f"  {group.label}")
            for arg_id, claim in group.arguments:
                typer.echo(f"    {arg_id:24} {claim}")
        typer.echo(
            t("Rephrase, or pick an argument from the list (pollwatch coach show ID).", lang)
        )
    typer.echo("")
    typer.echo(
        t(
            "Starter content: a sample written for this project, "
            "for organisations to review and extend.",
            lang,
        )
    )


@coach_app.command("ask")
def ask(
    text: str = typer.Argument(..., help="What your relative said, in your own words."),
    lang: str | None = typer.Option(None, "--lang", help=LANG_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: matches, answer, status."),
    variant: int = typer.Option(0, "--variant", min=0, help="Which response variant to show."),
) -> None:
    """Find the closest argument and print the three steps: bridge, counterargument, question."""
    result = _coach().ask(text, _lang(lang), variant=variant)
    record_ask(load_settings(), result)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_result(result)


@coach_app.command("show")
def show(
    argument_id: str = typer.Argument(..., help="Argument id (see `pollwatch coach list`)."),
    lang: str = typer.Option("ru", "--lang", help="Language: ru or en."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
    variant: int = typer.Option(0, "--variant", min=0, help="Which response variant to show."),
) -> None:
    """Print the three steps for one argument by id."""
    answer = _coach().answer(argument_id, _lang(lang) or "ru", variant=variant)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(answer.claim)
        typer.echo("")
        typer.echo(render_answer(answer))


@coach_app.command("list")
def list_arguments(
    lang: str = typer.Option("ru", "--lang", help="Language: ru or en."),
) -> None:
    """List the arguments by topic."""
    use = _lang(lang) or "ru"
    for group in _coach().topics(use):
        typer.echo(group.label)
        for arg_id, claim in group.arguments:
            typer.echo(f"  {arg_id:24} {claim}")
    typer.echo("")
    typer.echo(
        t(
            "Starter content: a sample written for this project, "
            "for organisations to review and extend.",
            use,
        )
    )


def _print_feedback(fb: Feedback) -> None:
    lang = fb.lang
    verdict = t(fb.verdict, lang)
    typer.echo(
        t(
            "Feedback ({total}/{max_total}, {verdict})",
            lang,
            total=fb.total,
            max_total=fb.max_total,
            verdict=verdict,
        )
    )
    for d in fb.dimensions:
        typer.echo(f"  [{d.score}/{d.max_score}] {d.label}: {d.reason}")
    if fb.suggestion and not fb.is_empathic:
        typer.echo(f"  {t('You could say', lang)}: {fb.suggestion}")


@coach_app.command("practice")
def practice(
    argument: str | None = typer.Option(None, "--argument", help="Argument id (default: random)."),
    lang: str = typer.Option("ru", "--lang", help="Language: ru or en."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for the random argument."),
) -> None:
    """Practise: the coach plays your relative; reply line by line, /quit to stop."""
    use: Literal["ru", "en"] = _lang(lang) or "ru"
    session = PracticeSession.start(_coach().kb, argument, use, seed=seed, coach=_coach())
    typer.echo(t("Practice: I play your relative. Answer as you would; type /quit to stop.", use))
    typer.echo(
        t(
            "Starter content: a sample written for this project, "
            "for organisations to review and extend.",
            use,
        )
    )
    typer.echo("")
    typer.echo(f"{t('Relative', use)}: {session.opening}")
    stdin = typer.get_text_stream("stdin")
    max_total = 0
    while not session.finished:
        typer.echo(f"{t('You', use)}: ", nl=False)
        line = stdin.readline()
        if not line or line.strip() in {"/quit", "/exit", "/q"}:
            typer.echo("")
            break
        if not line.strip():
            continue
        try:
            turn = session.reply(line)
        except InputError as exc:
            typer.echo(f"Error: {exc}", err=True)
            continue
        _print_feedback(turn.feedback)
        max_total = turn.feedback.max_total
        typer.echo("")
        typer.echo(f"{t('Relative', use)}: {turn.relative_line}")
        if turn.track == "abandoned":
            typer.echo(t("The relative changes the subject. Try again another time.", use))
    scores = session.state.scores
    if scores:
        avg = sum(scores) / len(scores)
        typer.echo(
            t(
                "End of practice. Replies: {n}; average score {avg:.1f}/{max_total}.",
                use,
                n=len(scores),
                avg=avg,
                max_total=max_total,
            )
        )


@coach_app.command("safety")
def safety(
    lang: str = typer.Option("ru", "--lang", help="Language: ru or en."),
    as_json: bool = typer.Option(False, "--json", help="Print the note as JSON."),
) -> None:
    """The safety note: phones are checked, remarks get reported, what the laws punish."""
    view = safety_note(_coach().kb, _lang(lang) or "ru")
    if as_json:
        typer.echo(json.dumps(view.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render_safety_note(view))


@coach_app.command("check")
def check(
    path: str | None = typer.Argument(None, help="Knowledge-base folder (default: shipped)."),
) -> None:
    """Validate a knowledge-base folder and list every problem (exit 1 if any), then the
    sources whose link names only a site, for a reviewer online to replace."""
    problems = check_knowledge_base(path)
    for p in problems:
        typer.echo(str(p))
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the knowledge base")
    typer.echo("ok")
    review = sources_to_review(load_knowledge_base(path))
    if review:
        typer.echo(f"{len(review)} source(s) link only to a site or a section; replace online:")
        for src in review:
            typer.echo(f"  {src.id:40} {src.url}")


@coach_app.command("evaluate")
def evaluate() -> None:
    """Leave-one-out and near-miss checks of the shipped knowledge base (for curators)."""
    from pollwatch.coach.evaluate import leave_one_out, near_misses

    coach = _coach()
    loo = leave_one_out(coach)
    typer.echo(
        f"leave-one-out: {loo.n} paraphrases, top-1 {loo.top1:.1%}, top-3 {loo.top3:.1%}, "
        f"confident {loo.confident:.1%}, confidently wrong {loo.confident_wrong:.1%}"
    )
    for o in loo.failures():
        got = ", ".join(f"{i} {s:.2f}" for i, s in o.top[:2])
        typer.echo(f"  {o.expected} [{o.lang}] {o.text!r} -> {got}")
    near = near_misses(coach)
    typer.echo(f"near-misses: {near.n}, mapped to their own argument: {near.top1:.1%}")
    for o in near.outcomes:
        if o.hit1:
            typer.echo(f"  {o.expected} [{o.lang}] {o.text!r}")


@coach_app.command("stats")
def stats(lang: str = typer.Option("en", "--lang", help="Language: ru or en.")) -> None:
    """Show the opt-in anonymous counts (argument ids asked, queries with no match)."""
    use = _lang(lang) or "en"
    settings = load_settings()
    if not settings.coach_stats:
        typer.echo(
            t(
                "Anonymous counts are off (set POLLWATCH_COACH_STATS=on to help curators; "
                "no text is ever kept).",
                use,
            )
        )
    counts = read_stats(settings)
    typer.echo(t("Anonymous counts (no text is kept) in {path}", use, path=stats_path(settings)))
    if not counts.asked and not counts.unsure and not counts.no_match:
        typer.echo(t("No counts recorded.", use))
        return
    for arg_id, n in sorted(counts.asked.items(), key=lambda kv: (-kv[1], kv[0])):
        typer.echo(f"  {arg_id:24} {n}")
    for arg_id, n in sorted(counts.unsure.items(), key=lambda kv: (-kv[1], kv[0])):
        typer.echo(f"  {arg_id:24} {n} (?)")
    typer.echo(t("Queries with no match: {n}", use, n=counts.no_match))


@coach_app.command("forget")
def forget(lang: str = typer.Option("en", "--lang", help="Language: ru or en.")) -> None:
    """Delete the anonymous counts file ("forget me")."""
    use = _lang(lang) or "en"
    settings = load_settings()
    if forget_stats(settings):
        typer.echo(t("Removed {path}.", use, path=stats_path(settings)))
    else:
        typer.echo(t("Nothing stored.", use))


def register(app: typer.Typer) -> None:
    """Add `pollwatch coach` to the main app."""
    app.add_typer(coach_app, name="coach")
