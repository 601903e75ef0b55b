"""`pollwatch pvt sample` stores the sample; `pollwatch pvt estimate` prints the quick count."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests.store.databases import database_url
from tests.store.test_store_pvt import copy_protocols, synthetic_results

from pollwatch.cli import main
from pollwatch.store import attach_results, list_audit, load_sample, open_store

SAMPLE = ["pvt", "sample", "--election", "e", "--size", "24", "--strata", "region", "--seed", "3"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        monkeypatch.setenv("POLLWATCH_DATABASE_URL", url)
        monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path / "home"))
        engine = open_store(url)
        attach_results(engine, "e", synthetic_results())
        engine.dispose()
        yield url


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_is_printed_and_stored(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(SAMPLE, capsys)
    assert code == 0, err
    printed = pd.read_csv(io.StringIO(out), dtype={"station": str})
    assert len(printed) == 24 and "stored as the quick-count sample" in err
    engine = open_store(db)
    stored = load_sample(engine, "e")
    assert stored is not None and sorted(stored.stations) == sorted(printed["station"])
    assert stored.seed == 3 and stored.strata_column == "region"

    target = tmp_path / "sample.csv"
    code, out, _ = run([*SAMPLE[:-1], "4", "--out", str(target)], capsys)
    assert code == 0 and "stored" in out and target.is_file()
    replaced = load_sample(engine, "e")
    assert replaced is not None and replaced.seed == 4
    written = pd.read_csv(target, dtype={"station": str})
    assert sorted(replaced.stations) == sorted(written["station"])
    actors = [a["actor"] for a in list_audit(engine) if a["action"] == "store_pvt_sample"]
    engine.dispose()
    assert actors == ["cli", "cli"]


def test_estimate_prints_intervals_response_and_one_joint_test(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    estimate = ["pvt", "estimate", "--election", "e"]
    code, _, err = run(estimate, capsys)
    assert code == 1 and err.startswith("Error:") and "pvt sample" in err
    code, out, _ = run(SAMPLE, capsys)
    assert code == 0
    engine = open_store(db)
    copy_protocols(
        engine,
        synthetic_results(),
        list(pd.read_csv(io.StringIO(out), dtype={"station": str})["station"]),
    )

    code, text, err = run(estimate, capsys)
    assert code == 0, err
    assert "24 of 24 sampled stations" in text
    assert "6 of     6 sampled protocols in" in text  # per stratum
    lines = {line.split()[0]: line for line in text.splitlines() if line[:1] in ("A", "B", "t")}
    assert "%" in lines["A"] and "turnout" in lines
    assert "within what sampling error explains (p = " in text

    code, raw, _ = run([*estimate, "--json"], capsys)
    result = json.loads(raw)
    assert code == 0 and all(s["inside95"] and s["inside99"] for s in result["shares"])
    assert result["shares"][0]["margin95"] < result["shares"][0]["margin99"]

    attach_results(engine, "e", synthetic_results(shift=80))
    engine.dispose()
    code, text, _ = run(estimate, capsys)
    assert code == 0 and "larger than sampling error explains (p " in text
    assert "inside" not in text.lower()  # no verdict per row

    code, _, err = run([*estimate, "--denominator", "all"], capsys)
    assert code == 1 and "--denominator" in err
