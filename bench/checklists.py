"""What checklists cost the reports' writer, and how fast the results page's data is.

Stores the same number of reports through the group-commit path (``prepare_report`` then
``store_prepared`` in batches of 256, as the web service's writer does), once as status
reports and once as checklist reports of a 12-question checklist (checked against their
version in the same transaction), and prints reports per second for each. Then times
``checklist_results`` (distribution, flagged and missing stations) over all of them.

Run: ``.venv/bin/python bench/checklists.py --db sqlite --stations 3000``
(``--db postgresql`` uses the test server of tests/store/databases.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.store.databases import database_url

from pollwatch.store import create_election, import_stations, open_store
from pollwatch.store.checklists import checklist_results, save_checklist
from pollwatch.store.reports import prepare_report, store_prepared

QUESTIONS = "\n".join(
    f"  - {{id: q{i}, kind: yes_no, text: Question {i}, flag: no}}" for i in range(8)
)
CHECKLIST = f"""id: opening
title: Opening
questions:
{QUESTIONS}
  - {{id: why, kind: text, text: Why, when: {{question: q0, equals: no}}}}
  - {{id: staff, kind: number, text: Staff, min: 0, max: 40, flag: {{below: 3}}}}
  - {{id: booths, kind: choice, text: Booths, options: [{{id: a, text: A}}, {{id: b, text: B}}]}}
  - {{id: note, kind: text, text: Note}}
"""


def _bodies(
    election: str, stations: list[str], kind: str, rng: random.Random
) -> list[dict[str, Any]]:
    now = datetime.now(UTC) - timedelta(minutes=5)
    out = []
    for station in stations:
        body: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "election": election,
            "station": station,
            "kind": kind,
            "observed_at": now.isoformat(),
        }
        if kind == "status":
            body.update(status="opened", queue=rng.randrange(40))
        else:
            answers: dict[str, Any] = {f"q{i}": rng.random() > 0.05 for i in range(8)}
            if not answers["q0"]:
                answers["why"] = "seal missing"
            answers.update(staff=rng.randrange(1, 12), booths=rng.choice("ab"))
            body.update(checklist="opening", version=1, answers=answers)
        out.append(body)
    return out


def _store(engine: Any, bodies: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    known: set[tuple[str, str]] = set()
    for first in range(0, len(bodies), 256):
        items = [prepare_report(b, observer=None) for b in bodies[first : first + 256]]
        outcomes = store_prepared(engine, items, known_stations=known)
        assert all(getattr(o, "status", None) == 201 for o in outcomes), outcomes[:1]
    return time.perf_counter() - started


def run(url: str, stations: int) -> None:
    engine = open_store(url)
    rng = random.Random(13)
    names = [f"{i:05d}" for i in range(stations)]
    for election in ("bench-status", "bench-checklist"):
        create_election(engine, election, name=election)
        import_stations(engine, election, [{"station": s} for s in names])
    save_checklist(engine, "bench-checklist", CHECKLIST, actor="bench")
    status = _store(engine, _bodies("bench-status", names, "status", rng))
    checklist = _store(engine, _bodies("bench-checklist", names, "checklist", rng))
    started = time.perf_counter()
    result = checklist_results(engine, "bench-checklist", "opening")
    took = time.perf_counter() - started
    print(f"{engine.dialect.name}: {stations} reports, batches of 256")
    print(f"  status reports     {stations / status:8.0f} reports/s")
    print(f"  checklist reports  {stations / checklist:8.0f} reports/s (12 questions, checked)")
    print(
        f"  checklist_results  {took * 1000:8.0f} ms ({len(result.submitted)} stations, "
        f"{len(result.flagged_stations)} flagged)"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--stations", type=int, default=3000)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        with tempfile.TemporaryDirectory() as folder, database_url(kind, Path(folder)) as url:
            run(url, args.stations)


if __name__ == "__main__":
    main()
