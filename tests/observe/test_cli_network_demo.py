"""``pollwatch demo-observe``: the simulated election is flagged simulated and its silent
stations raise every kind of alert; a second run stores nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from pollwatch.cli import main
from pollwatch.store import list_audit, open_store
from pollwatch.store.alerts import election_alerts
from pollwatch.store.elections import get_election
from pollwatch.store.incidents import list_incidents
from pollwatch.store.pvt import pvt_estimate


def test_the_demo_is_simulated_and_its_alerts_fire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("POLLWATCH_DATABASE_URL", url)
    monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path / "home"))
    assert main(["demo-observe", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    for kind in ("no_opening", "silence", "count_gap", "revoked_sending"):
        assert kind in out, out
    assert main(["demo-observe", "--seed", "7"]) == 0
    engine = open_store(url)
    try:
        assert get_election(engine, "demo")["simulated"] is True
        found = {(a["kind"], a["station"]) for a in election_alerts(engine, "demo")["alerts"]}
        assert {
            ("no_opening", "net-silent"),
            ("silence", "net-quiet"),
            ("count_gap", "net-quiet"),
            ("revoked_sending", "net-seized"),
        } <= found
        hotline = [a for a in list_audit(engine) if a["action"] == "reports.hotline"]
        assert len(hotline) == 1  # the second run told no story twice
        incidents = list_incidents(engine, "demo", status="acknowledged")["incidents"]
        assert [i["via"] for i in incidents] == ["hotline"]
        quick = pvt_estimate(engine, "demo")  # every station still has official figures
        assert all(share["official"] is not None for share in quick["shares"])
    finally:
        engine.dispose()
