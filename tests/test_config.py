"""Settings: one declared list feeds the class, the environment reader and the docs table."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from pollwatch.config import SETTINGS, Settings, default_data_dir, load_settings
from pollwatch.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_MD = ROOT / "docs" / "deploy.md"


def _docs_script() -> ModuleType:
    """scripts/write_settings_docs.py, loaded by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "write_settings_docs", ROOT / "scripts" / "write_settings_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deploy_md_settings_table_is_current() -> None:
    docs = _docs_script()
    text = DEPLOY_MD.read_text(encoding="utf-8")
    assert docs.settings_table() in text, (
        f"the settings table in docs/deploy.md is out of date; run `{docs.COMMAND}` and commit it"
    )
    for setting in SETTINGS:
        assert f"`{setting.env}`" in text


def test_the_docs_script_rewrites_only_the_table(tmp_path: Path) -> None:
    docs = _docs_script()
    stale = f"# Title\n\n{docs.BEGIN}\n| old | table |\n{docs.END}\n\nProse after.\n"
    fresh = docs.with_table(stale)
    assert fresh.startswith("# Title\n\n") and fresh.endswith("\n\nProse after.\n")
    assert docs.settings_table() in fresh and "| old | table |" not in fresh
    with pytest.raises(ValueError, match="markers"):
        docs.with_table("# no markers here\n")


def test_every_field_of_settings_is_declared_once() -> None:
    fields = [f.name for f in dataclasses.fields(Settings)]
    declared = [s.name for s in SETTINGS]
    assert sorted(declared) == sorted(fields)
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)
    assert all(s.env.startswith("POLLWATCH_") and s.help for s in SETTINGS)


def test_defaults_come_from_the_class() -> None:
    loaded = load_settings({})
    assert loaded == Settings(data_dir=Path("pollwatch-data") / "datasets")
    shown = {s.name: s.default for s in SETTINGS}
    assert shown["rate_limit"] == "600" and shown["coach_stats"] == "off"
    assert shown["events_poll_seconds"] == "1"


def test_every_setting_is_read_from_its_variable(tmp_path: Path) -> None:
    env = {
        "POLLWATCH_DATA": str(tmp_path / "data"),
        "POLLWATCH_HOME": str(tmp_path / "home"),
        "POLLWATCH_COACH_STATS": "on",
        "POLLWATCH_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "POLLWATCH_RATE_LIMIT": "0",
        "POLLWATCH_EVENTS_POLL_SECONDS": "0.25",
        "POLLWATCH_EVENTS_KEEPALIVE_SECONDS": "5",
        "POLLWATCH_EVENTS_MAX_SECONDS": "60",
        "POLLWATCH_INVITE_TTL_HOURS": "12",
        "POLLWATCH_PUBLIC_URL": "https://observe.example.org/",
        "POLLWATCH_TRUSTED_PROXIES": "127.0.0.1",
        "POLLWATCH_OBSERVER_KEEP_SENT": "5",
        "POLLWATCH_REDIS_URL": "redis://127.0.0.1:6379/0",
        "POLLWATCH_METRICS_FROM": "10.0.0.0/8",
        "POLLWATCH_PUBLIC_DELAY_MINUTES": "0",
        "POLLWATCH_GUIDE_TILES": "https://tiles.example.org/{z}/{x}/{y}.png",
        "POLLWATCH_TELEGRAM_TOKEN": "123456:ABC-def",
        "POLLWATCH_TELEGRAM_API": "http://127.0.0.1:8081/",
        "POLLWATCH_TELEGRAM_WEBHOOK_SECRET": "s3cret_webhook-token",
        "POLLWATCH_TELEGRAM_KEY": "k" * 40,
        "POLLWATCH_TELEGRAM_ELECTION": "ru-2024",
        "POLLWATCH_TELEGRAM_ALERTS_CHAT": "-1001234567890",
        "POLLWATCH_TELEGRAM_ALERTS_LANG": "sr",
    }
    assert set(env) == {s.env for s in SETTINGS}
    assert load_settings(env) == Settings(
        data_dir=tmp_path / "data",
        home=tmp_path / "home",
        coach_stats=True,
        database_url="postgresql+psycopg://u@h/db",
        rate_limit=0,
        events_poll_seconds=0.25,
        events_keepalive_seconds=5.0,
        events_max_seconds=60.0,
        invite_ttl_hours=12,
        public_url="https://observe.example.org",
        trusted_proxies="127.0.0.1",
        observer_keep_sent=5,
        redis_url="redis://127.0.0.1:6379/0",
        metrics_from="10.0.0.0/8",
        public_delay_minutes=0,
        guide_tiles="https://tiles.example.org/{z}/{x}/{y}.png",
        telegram_token="123456:ABC-def",
        telegram_api="http://127.0.0.1:8081",
        telegram_webhook_secret="s3cret_webhook-token",
        telegram_key="k" * 40,
        telegram_election="ru-2024",
        telegram_alerts_chat=-1001234567890,
        telegram_alerts_lang="sr",
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POLLWATCH_TELEGRAM_ALERTS_LANG", "de"),
        ("POLLWATCH_RATE_LIMIT", "-1"),
        ("POLLWATCH_RATE_LIMIT", "many"),
        ("POLLWATCH_COACH_STATS", "maybe"),
        ("POLLWATCH_EVENTS_POLL_SECONDS", "0"),
        ("POLLWATCH_EVENTS_MAX_SECONDS", "nan"),
        ("POLLWATCH_INVITE_TTL_HOURS", "9000"),
        ("POLLWATCH_PUBLIC_URL", "observe.example.org"),
        ("POLLWATCH_OBSERVER_KEEP_SENT", "51"),
        ("POLLWATCH_PUBLIC_DELAY_MINUTES", "1441"),
        ("POLLWATCH_PUBLIC_DELAY_MINUTES", "ten"),
        ("POLLWATCH_GUIDE_TILES", "https://tiles.example.org/tile.png"),
        ("POLLWATCH_TELEGRAM_API", "api.telegram.org"),
        ("POLLWATCH_TELEGRAM_WEBHOOK_SECRET", "short"),
        ("POLLWATCH_TELEGRAM_WEBHOOK_SECRET", "has spaces in it, not allowed"),
        ("POLLWATCH_TELEGRAM_ALERTS_CHAT", "coordinators"),
    ],
)
def test_a_malformed_variable_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(InputError) as refused:
        load_settings({variable: value})
    assert refused.value.column == variable and variable in refused.value.reason


def test_no_development_folder_is_built_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ../shared/data beside the working folder is not picked up: the Makefile says so."""
    (tmp_path / "shared" / "data" / "ru").mkdir(parents=True)
    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.chdir(work)
    assert default_data_dir({}) == Path("pollwatch-data") / "datasets"
    assert default_data_dir({"POLLWATCH_HOME": "/srv/pw"}) == Path("/srv/pw/datasets")
    assert default_data_dir({"POLLWATCH_DATA": "../shared/data"}) == Path("../shared/data")
