"""The coach page in a real browser (Debian's chromium through Playwright), phone-sized.

Every check waits for what it checks (Playwright's auto-retrying ``expect``): the page
fills itself from fetches, so a value read at once may not be there yet.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from pollwatch.coach import default_coach

pytestmark = pytest.mark.browser

UNSURE = "they"
"""A message too vague for one argument: the coach offers choices instead of guessing."""


def test_ask_in_russian_and_see_three_steps(page: Any, live_server: str, screenshot: Any) -> None:
    page.goto(f"{live_server}/coach?lang=ru")
    expect(page.locator("h1")).to_have_text("Тренер разговора")
    expect(page.locator("#sample-note")).to_be_visible()
    page.fill("#ask-text", "ну а кто если не путин, альтернативы то нет")
    page.click("#ask-send")
    answer = page.locator("#ask-result article.answer")
    expect(answer).to_have_attribute("data-argument", "no-alternative", timeout=10_000)
    expect(page.locator("#ask-result .step.question p")).to_have_text(re.compile(r"\?\s*$"))
    expect(page.locator("#ask-result .sources li").first).to_be_visible()
    screenshot(page, "coach-ask-ru")


def test_unsure_match_lets_the_user_choose(page: Any, live_server: str) -> None:
    offered = [m.id for m in default_coach().ask(UNSURE, lang="en").matches]
    assert default_coach().ask(UNSURE, lang="en").status == "choose", "the input must be unsure"
    page.goto(f"{live_server}/coach?lang=en")
    page.fill("#ask-text", UNSURE)
    page.click("#ask-send")
    choices = page.locator("#ask-result button.choice")
    expect(choices).to_have_count(len(offered), timeout=10_000)
    chosen = offered[0]
    page.locator(f"#ask-result button.choice[data-argument='{chosen}']").click()
    expect(page.locator("#ask-result article.answer")).to_have_attribute(
        "data-argument", chosen, timeout=10_000
    )


def test_practice_with_feedback(page: Any, live_server: str, screenshot: Any) -> None:
    page.goto(f"{live_server}/coach?lang=en")
    page.click("#tab-practice")
    page.select_option("#practice-argument", "stability")
    page.click("#practice-start")
    relative = page.locator("#practice-log .bubble.relative")
    expect(relative).to_have_count(1, timeout=10_000)
    page.fill(
        "#practice-text",
        "I understand, the nineties were frightening for our family too. "
        "What do you remember most about those years?",
    )
    page.click("#practice-send")
    feedback = page.locator("#practice-log .feedback")
    expect(feedback).to_be_visible(timeout=10_000)
    expect(feedback.locator("li").nth(4)).to_be_visible()  # five rubric points at least
    expect(relative).to_have_count(2)
    screenshot(page, "coach-practice-en")


def test_page_works_without_javascript(browser: Any, live_server: str) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.goto(f"{live_server}/coach?lang=en")
    pg.fill("#ask-text", "If not Putin, then who?")
    pg.click("#ask-send")
    expect(pg.locator("article.answer")).to_have_attribute("data-argument", "no-alternative")
    context.close()


def test_warnings_come_first_and_the_safety_note_is_one_tap_away(
    page: Any, live_server: str, screenshot: Any
) -> None:
    page.goto(f"{live_server}/coach?lang=ru")
    page.fill("#ask-text", "в Киеве нацисты у власти, бандеровцы")
    page.click("#ask-send")
    answer = page.locator("#ask-result article.answer")
    expect(answer).to_have_attribute("data-argument", "ukraine-nazis", timeout=10_000)
    first = answer.locator(":scope > *").first
    expect(first).to_have_class("warnings")
    expect(first.locator("li.risk").first).to_contain_text("КоАП")
    expect(answer.locator(".reviewed")).to_contain_text("Проверено")
    screenshot(page, "coach-risk-first-ru")
    answer.locator("a.safety-link").click()
    expect(page.locator("h1")).to_contain_text("Памятка о безопасности")
    expect(page.locator(".safety-points li").nth(4)).to_contain_text("141")


def test_out_of_scope_says_so_in_the_browser(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/coach?lang=en")
    page.fill("#ask-text", "Covid vaccines have microchips in them")
    page.click("#ask-send")
    general = page.locator("#ask-result .none .general")
    expect(general).to_contain_text("I have no answer for that yet", timeout=10_000)
    expect(page.locator("#ask-result .none button.choice").first).to_be_visible()
