"""A forensics report served under /reports/ looks exactly as the file: its styles apply,
its figures draw, no Content-Security-Policy violation is logged, and no script may run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pollwatch.config import Settings
from pollwatch.forensics.battery import run_battery
from pollwatch.forensics.report import render_html
from pollwatch.forensics.synthetic import synthetic_election


@pytest.fixture(scope="module")
def report_url(settings: Settings, live_server: str) -> str:
    results = synthetic_election(1_500, seed=3, incremental=0.1, rounding=0.05).results
    report = run_battery(results, resamples=30, seed=0)
    folder = settings.home / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "synthetic-ru.html").write_text(render_html(report, "ru"), encoding="utf-8")
    return f"{live_server}/reports/synthetic-ru.html"


def test_report_policy_allows_its_own_styles_and_no_script(report_url: str) -> None:
    page = httpx.get(report_url)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "'sha256-" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    home = httpx.get(report_url.split("/reports/")[0] + "/")
    assert "style-src 'self'" in home.headers["content-security-policy"]


@pytest.mark.browser
def test_served_report_is_styled_and_logs_no_csp_violation(page: Any, report_url: str) -> None:
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.goto(report_url)
    page.wait_for_load_state("load")
    # the report's own <style>: the body is limited to 60rem and uses no serif font
    assert page.evaluate("getComputedStyle(document.body).maxWidth") == "960px"
    summary = page.evaluate("getComputedStyle(document.querySelector('.summary')).borderLeftStyle")
    assert summary == "solid"
    # the figures' style attributes: matplotlib's white background patch is filled white
    fill = page.evaluate(
        "getComputedStyle(document.querySelector('svg [style*=\"fill: #ffffff\"]')).fill"
    )
    assert fill == "rgb(255, 255, 255)"
    violations = [m for m in messages if "Content Security Policy" in m or "error" in m]
    assert not violations, violations
