"""The package's structure: private names stay private, web modules import in one direction,
and every exception is in the one tree of ``pollwatch.errors``.

These are static checks on the source (``ast``), so lazy imports inside functions count too:
a cycle that only an import inside ``create_app`` closes is still a cycle.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import pollwatch
import pollwatch.errors
from pollwatch.errors import InputError, PollwatchError, RateLimited

SRC = Path(pollwatch.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # Alembic's revision files are loaded by Alembic, not imported
        yield _module_name(path), path, ast.parse(path.read_text("utf-8"), str(path))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _imports(module: str, path: Path, tree: ast.Module) -> Iterator[tuple[str, str | None]]:
    """(imported module, imported name or None) for every pollwatch import, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pollwatch"):
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.startswith("pollwatch"):
                for alias in node.names:
                    yield base, alias.name


def _private_imports() -> list[str]:
    found = []
    for module, path, tree in _modules():
        for target, name in _imports(module, path, tree):
            owner = target
            if name is not None and _is_private(name):
                found.append(f"{module} imports {name} from {target}")
            # a private module is its package's own: importable only from inside the package
            parts = owner.split(".")
            for i, part in enumerate(parts):
                if _is_private(part):
                    package = ".".join(parts[:i])
                    if not (module == package or module.startswith(package + ".")):
                        found.append(f"{module} imports the private module {owner}")
                    break
    return found


def test_no_module_imports_a_private_name_of_another_module() -> None:
    assert _private_imports() == []


def _import_graph(prefix: str) -> dict[str, set[str]]:
    modules = {module: (path, tree) for module, path, tree in _modules()}
    graph: dict[str, set[str]] = {m: set() for m in modules if m.startswith(prefix + ".")}
    for module in graph:
        path, tree = modules[module]
        for target, name in _imports(module, path, tree):
            submodule = f"{target}.{name}" if name is not None else target
            for candidate in (submodule, target):
                if candidate in graph and candidate != module:
                    graph[module].add(candidate)
                    break
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's members, found as strongly connected components (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_web_modules_import_each_other_without_cycles() -> None:
    graph = _import_graph("pollwatch.web")
    assert "pollwatch.web.observe_api" in graph["pollwatch.web.app"]  # the graph is read
    assert _cycles(graph) == []


def test_only_the_app_imports_an_api_router() -> None:
    """A JSON API router (``web/*_api.py``) is mounted by the app and imported by nothing
    else: what a page and an API route share (a permission's ``locate``, a body's rule)
    lives in a module of its own, so neither depends on the other's routes."""
    graph = _import_graph("pollwatch")
    routers = {m for m in graph if m.startswith("pollwatch.web.") and m.endswith("_api")}
    assert "pollwatch.web.network_api" in graph["pollwatch.web.app"]  # the graph is read
    assert {"pollwatch.web.network_api", "pollwatch.web.dashboard_api"} <= routers
    importers = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module != "pollwatch.web.app"
        for target in targets & routers
    )
    assert importers == []


def test_no_module_of_the_package_is_part_of_an_import_cycle() -> None:
    """Imports inside functions count too: a lazy import hides a cycle, it does not end it."""
    graph = _import_graph("pollwatch")
    assert "pollwatch.store.day_shapes" in graph["pollwatch.store.station_record"]
    assert _cycles(graph) == []


# --- the exception tree ----------------------------------------------------------------------


def _tree() -> list[type[PollwatchError]]:
    found: list[type[PollwatchError]] = [PollwatchError]
    for cls in found:
        found.extend(sorted(cls.__subclasses__(), key=lambda c: c.__name__))
    return found


def test_every_exception_class_is_defined_in_errors_py() -> None:
    tree_names = {cls.__name__ for cls in _tree()}
    outside = []
    for module, _path, tree in _modules():
        if module == "pollwatch.errors":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base).rpartition(".")[2] for base in node.bases}
                if bases & tree_names or any(
                    b.endswith(("Error", "Exception")) or b == "Exception" for b in bases
                ):
                    outside.append(f"{module}.{node.name}")
    assert outside == []
    assert all(cls.__module__ == "pollwatch.errors" for cls in _tree())


def test_the_errors_docstring_draws_the_whole_tree_with_each_status() -> None:
    """Each class stands under its base in the drawing, with its HTTP status."""
    doc = inspect.getdoc(pollwatch.errors) or ""
    rows = re.findall(r"^([ │├└─]*)(\w+)\s+(\d{3})\s", doc, flags=re.MULTILINE)
    drawn: dict[str, tuple[int, str | None, int]] = {}
    parents: list[tuple[int, str]] = []
    for prefix, name, status in rows:
        depth = len(prefix)
        while parents and parents[-1][0] >= depth:
            parents.pop()
        drawn[name] = (depth, parents[-1][1] if parents else None, int(status))
        parents.append((depth, name))
    classes = _tree()
    assert set(drawn) == {cls.__name__ for cls in classes}
    for cls in classes:
        _depth, parent, status = drawn[cls.__name__]
        assert status == cls.status, cls
        expected = None if cls is PollwatchError else cls.__bases__[0].__name__
        assert parent == expected, cls


@pytest.mark.parametrize("cls", _tree(), ids=lambda c: c.__name__)
def test_every_error_becomes_its_status_and_the_one_body(cls: type[PollwatchError]) -> None:
    from pollwatch.web.errors import error_response

    exc: PollwatchError
    if issubclass(cls, InputError):
        exc = cls("what went wrong", column="field")
    elif issubclass(cls, RateLimited):
        exc = cls("nope", retry_after=7)
    else:
        exc = cls("nope")
    response = error_response(exc)
    assert response.status_code == cls.status
    retry_after = response.headers.get("retry-after")
    assert retry_after == ("7" if issubclass(cls, RateLimited) else None)
    error = __import__("json").loads(response.body)["error"]
    if issubclass(cls, InputError):
        assert error == {"status": cls.status, "message": "what went wrong", "field": "field"}
    else:
        assert error == {"status": cls.status, "message": "nope", "field": None}


def test_no_two_test_modules_share_a_name() -> None:
    """The suite imports test modules by their basename (no packages under tests/): two files
    of one name stop the whole run at collection, whichever folder each part's author chose."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, list[str]] = {}
    for path in tests.rglob("test_*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(tests)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


def test_no_test_calls_asyncio_run_on_its_own_thread() -> None:
    """The browser fixture keeps Playwright's loop running in the worker's main thread for the
    session, so a later ``asyncio.run`` there fails, depending only on how xdist shared out the
    tests: ``tests.asyncrun.run_async`` runs the coroutine on a thread of its own instead."""
    tests = Path(__file__).resolve().parent
    calls = [
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if path.name != "asyncrun.py"
        and re.search(r"(?<![\w.])asyncio\.run\(", path.read_text(encoding="utf-8"))
    ]
    assert calls == [], "use tests.asyncrun.run_async"
