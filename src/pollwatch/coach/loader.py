"""Reading the knowledge base: ``kb/sources.yaml``, ``kb/laws.yaml``, ``kb/safety.yaml`` and one
``kb/arguments/<id>.yaml`` per argument.

Sources may be split over ``sources.yaml`` and further ``sources-<part>.yaml`` (or
``sources_<part>.yaml``) files, so that several curators can work at once; ids must be
unique across them.

:func:`load_knowledge_base` stops at the first problem with an
:class:`~pollwatch.errors.InputError` naming the file and the field; :func:`check_knowledge_base`
collects every problem (for curators and for ``pollwatch coach check``). Beyond the schema,
the cross-file rules are checked here: every source, law and risk note an argument names
exists, risk notes point at variants that exist, and every response that disputes the
official account of the war carries a risk note (:mod:`pollwatch.coach.risk`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pollwatch.coach.risk import unflagged_war_statements
from pollwatch.coach.schema import (
    Argument,
    Law,
    LawsFile,
    Reactions,
    SafetyNote,
    Source,
    SourcesFile,
    is_home_page,
)
from pollwatch.errors import InputError, NotFoundError

__all__ = [
    "KBProblem",
    "KnowledgeBase",
    "check_knowledge_base",
    "default_kb_path",
    "load_knowledge_base",
    "sources_to_review",
]


@dataclass(frozen=True)
class KnowledgeBase:
    """Validated arguments (sorted by id) and the sources they cite.

    ``arguments`` holds every argument including retired ones; :attr:`active` is what the
    coach matches and practises.
    """

    arguments: tuple[Argument, ...]
    sources: Mapping[str, Source]
    path: str = ""
    laws: Mapping[str, Law] = field(default_factory=dict)
    safety: SafetyNote | None = None
    reactions: Reactions | None = None
    _by_id: Mapping[str, Argument] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {a.id: a for a in self.arguments})

    @property
    def active(self) -> tuple[Argument, ...]:
        """Arguments whose status is not ``retired``."""
        return tuple(a for a in self.arguments if a.status != "retired")

    def get(self, argument_id: str) -> Argument:
        """The argument with this id (retired ones included)."""
        try:
            return self._by_id[argument_id]
        except KeyError:
            known = ", ".join(sorted(self._by_id)) or "none"
            raise NotFoundError(
                f"No coach argument with id {argument_id!r}; known ids: {known}"
            ) from None

    def __contains__(self, argument_id: object) -> bool:
        return argument_id in self._by_id

    def __len__(self) -> int:
        return len(self.arguments)


@dataclass(frozen=True)
class KBProblem:
    """One validation problem: the file, the field (dotted path) and the message."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


def default_kb_path() -> Traversable:
    """The knowledge base shipped inside the package (``pollwatch/coach/kb``)."""
    return resources.files("pollwatch.coach").joinpath("kb")


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_problems(file: str, exc: ValidationError) -> list[KBProblem]:
    return [KBProblem(file, _loc(err["loc"]), err["msg"]) for err in exc.errors()]


def _read_yaml(node: Traversable, name: str) -> Any:
    try:
        return yaml.safe_load(node.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"not valid YAML{line}: {exc}", file=name) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=name) from None


def _iter_argument_files(root: Traversable) -> Iterator[Traversable]:
    folder = root.joinpath("arguments")
    if not folder.is_dir():
        return
    yield from sorted(
        (f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name
    )


def _iter_source_files(root: Traversable) -> Iterator[Traversable]:
    """``sources.yaml`` first, then any ``sources-*.yaml`` / ``sources_*.yaml`` (ids unique)."""
    main = root.joinpath("sources.yaml")
    if main.is_file():
        yield main
    extra = [
        f
        for f in root.iterdir()
        if f.is_file()
        and f.name.endswith(".yaml")
        and (f.name.startswith("sources-") or f.name.startswith("sources_"))
    ]
    yield from sorted(extra, key=lambda f: f.name)


def _as_traversable(path: str | Path | Traversable | None) -> Traversable:
    if path is None:
        return default_kb_path()
    if isinstance(path, (str, Path)):
        p = Path(path)
        if not p.is_dir():
            raise InputError(f"Knowledge-base folder {str(p)!r} does not exist")
        return p
    return path


def _dates_to_date(raw: Any, *keys: str) -> Any:
    # YAML reads "2026-12-05 10:00" as a datetime; the schema wants a date.
    if isinstance(raw, dict):
        for key in keys:
            if isinstance(raw.get(key), dt.datetime):
                raw[key] = raw[key].date()
    return raw


def _collect_laws(root: Traversable, problems: list[KBProblem]) -> dict[str, Law]:
    node = root.joinpath("laws.yaml")
    if not node.is_file():
        problems.append(KBProblem("laws.yaml", "", "file is missing"))
        return {}
    laws: dict[str, Law] = {}
    try:
        for law in LawsFile.model_validate(_read_yaml(node, "laws.yaml")).laws:
            if law.id in laws:
                problems.append(KBProblem("laws.yaml", "laws", f"law id {law.id!r} is repeated"))
            laws[law.id] = law
    except InputError as exc:
        problems.append(KBProblem("laws.yaml", "", exc.reason))
    except ValidationError as exc:
        problems.extend(_validation_problems("laws.yaml", exc))
    return laws


def _collect_safety(root: Traversable, problems: list[KBProblem]) -> SafetyNote | None:
    node = root.joinpath("safety.yaml")
    if not node.is_file():
        problems.append(KBProblem("safety.yaml", "", "file is missing"))
        return None
    try:
        raw = _dates_to_date(_read_yaml(node, "safety.yaml"), "review_date")
        return SafetyNote.model_validate(raw)
    except InputError as exc:
        problems.append(KBProblem("safety.yaml", "", exc.reason))
    except ValidationError as exc:
        problems.extend(_validation_problems("safety.yaml", exc))
    return None


def _cross_problems(
    name: str, arg: Argument, sources: Mapping[str, Source], laws: Mapping[str, Law]
) -> list[KBProblem]:
    """Rules across files: named sources and laws exist, risk notes fit the variants."""
    out: list[KBProblem] = []
    for i, ref in enumerate(arg.sources):
        if sources and ref.id not in sources:
            out.append(KBProblem(name, f"sources[{i}].id", f"{ref.id!r} is not in sources.yaml"))
    for i, risk in enumerate(arg.legal_risks):
        where = f"legal_risks[{i}]"
        if laws and risk.law not in laws:
            out.append(KBProblem(name, f"{where}.law", f"{risk.law!r} is not in laws.yaml"))
        if sources and risk.source not in sources:
            out.append(
                KBProblem(name, f"{where}.source", f"{risk.source!r} is not in sources.yaml")
            )
        for step in risk.steps:
            n = min(len(getattr(getattr(arg.responses, step), lang)) for lang in ("ru", "en"))
            for v in risk.variants or ():
                if v >= n:
                    out.append(KBProblem(name, f"{where}.variants", f"{step} has no variant {v}"))
    for flagged, variant, lang, words in unflagged_war_statements(arg, laws):
        out.append(
            KBProblem(
                name,
                f"responses.{flagged}.{lang}[{variant}]",
                f"disputes the official account of the war ({words}) but no legal_risks "
                "note about the army statutes covers it",
            )
        )
    return out


def _collect(
    root: Traversable,
) -> tuple[list[Argument], dict[str, Source], dict[str, Law], SafetyNote | None, list[KBProblem]]:
    problems: list[KBProblem] = []
    sources: dict[str, Source] = {}
    if not root.joinpath("sources.yaml").is_file():
        problems.append(KBProblem("sources.yaml", "", "file is missing"))
    for src_node in _iter_source_files(root):
        name = src_node.name
        try:
            raw = _read_yaml(src_node, name)
            for s in SourcesFile.model_validate(raw).sources:
                if s.id in sources:
                    problems.append(KBProblem(name, "sources", f"source id {s.id!r} is repeated"))
                sources[s.id] = s
        except InputError as exc:
            problems.append(KBProblem(name, "", exc.reason))
        except ValidationError as exc:
            problems.extend(_validation_problems(name, exc))
    laws = _collect_laws(root, problems)
    for law in laws.values():
        if sources and law.source not in sources:
            problems.append(
                KBProblem("laws.yaml", f"{law.id}.source", f"{law.source!r} is not in sources")
            )
    safety = _collect_safety(root, problems)
    for sid in safety.sources if safety else ():
        if sources and sid not in sources:
            problems.append(KBProblem("safety.yaml", "sources", f"{sid!r} is not in sources"))
    arguments: list[Argument] = []
    for node in _iter_argument_files(root):
        name = f"arguments/{node.name}"
        try:
            raw = _read_yaml(node, name)
        except InputError as exc:
            problems.append(KBProblem(name, "", exc.reason))
            continue
        raw = _dates_to_date(raw, "review_date")
        try:
            arg = Argument.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_validation_problems(name, exc))
            continue
        stem = node.name.removesuffix(".yaml")
        if arg.id != stem:
            problems.append(KBProblem(name, "id", f"{arg.id!r} differs from the file name"))
            continue
        problems.extend(_cross_problems(name, arg, sources, laws))
        arguments.append(arg)
    return arguments, sources, laws, safety, problems


def sources_to_review(kb: KnowledgeBase) -> tuple[Source, ...]:
    """Sources whose link names only a site or a section (``url_is_exact: false`` or a
    home-page URL): these machines have no internet, so a reviewer online replaces them
    with the exact page and an archived copy."""
    return tuple(
        s
        for s in sorted(kb.sources.values(), key=lambda s: s.id)
        if not s.url_is_exact or is_home_page(s.url)
    )


def check_knowledge_base(path: str | Path | Traversable | None = None) -> tuple[KBProblem, ...]:
    """Every validation problem of a knowledge-base folder (empty when it is valid)."""
    *_, problems = _collect(_as_traversable(path))
    return tuple(problems)


def load_knowledge_base(path: str | Path | Traversable | None = None) -> KnowledgeBase:
    """Load and validate a knowledge-base folder (default: the one shipped with pollwatch).

    Raises
    ------
    InputError
        On the first invalid file, naming the file and the field, e.g.
        ``arguments/fakes.yaml: paraphrases.en: List should have at least 15 items``.
    """
    root = _as_traversable(path)
    arguments, sources, laws, safety, problems = _collect(root)
    reactions = None
    node = root.joinpath("reactions.yaml")
    if node.is_file():  # optional: without it the relative only softens or hardens
        try:
            reactions = Reactions.model_validate(_read_yaml(node, "reactions.yaml"))
        except ValidationError as exc:
            problems.extend(_validation_problems("reactions.yaml", exc))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise InputError(f"{first.message}{more}", file=first.file, column=first.field or None)
    return KnowledgeBase(
        arguments=tuple(arguments),
        sources=sources,
        path=str(root),
        laws=laws,
        safety=safety,
        reactions=reactions,
    )
