"""Fixtures of the coach tests: the shipped knowledge base and a tiny fixture one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pollwatch.coach import Coach, KnowledgeBase, load_knowledge_base

FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture(scope="session")
def fixture_kb_path() -> Path:
    """Folder of the fixture knowledge base (read-only; copy it to edit)."""
    return FIXTURE_KB


@pytest.fixture(scope="session")
def fixture_kb() -> KnowledgeBase:
    """Two made-up arguments (roads, taxes) that tests can rely on exactly."""
    return load_knowledge_base(FIXTURE_KB)


@pytest.fixture(scope="session")
def fixture_coach(fixture_kb: KnowledgeBase) -> Coach:
    """A coach over the fixture knowledge base."""
    return Coach(fixture_kb)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The shipped knowledge base (must be valid)."""
    return load_knowledge_base()


@pytest.fixture(scope="session")
def coach(kb: KnowledgeBase) -> Coach:
    """A coach over the shipped knowledge base."""
    return Coach(kb)
