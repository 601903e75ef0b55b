"""The coach page in a real browser (Debian's chromium through Playwright), phone-sized."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_ask_in_russian_and_see_three_steps(page: Any, live_server: str, screenshot: Any) -> None:
    page.goto(f"{live_server}/coach?lang=ru")
    assert page.locator("h1").inner_text() == "Тренер разговора"
    assert page.locator("#sample-note").is_visible()
    page.fill("#ask-text", "ну а кто если не путин, альтернативы то нет")
    page.click("#ask-send")
    answer = page.locator("#ask-result article.answer")
    answer.wait_for(timeout=10_000)
    assert answer.get_attribute("data-argument") == "no-alternative"
    assert page.locator("#ask-result .step.question p").inner_text().endswith("?")
    assert page.locator("#ask-result .sources li").count() >= 1
    screenshot(page, "coach-ask-ru")


def test_unsure_match_lets_the_user_choose(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/coach?lang=en")
    page.fill("#ask-text", "the west")
    page.click("#ask-send")
    page.locator("#ask-result .choices, #ask-result .none, #ask-result article").first.wait_for()
    choice = page.locator("#ask-result button.choice").first
    if choice.count():
        chosen = choice.get_attribute("data-argument")
        choice.click()
        page.locator(f"#ask-result article[data-argument='{chosen}']").wait_for(timeout=10_000)


def test_practice_with_feedback(page: Any, live_server: str, screenshot: Any) -> None:
    page.goto(f"{live_server}/coach?lang=en")
    page.click("#tab-practice")
    page.select_option("#practice-argument", "stability")
    page.click("#practice-start")
    page.locator("#practice-log .bubble.relative").first.wait_for(timeout=10_000)
    page.fill(
        "#practice-text",
        "I understand, the nineties were frightening for our family too. "
        "What do you remember most about those years?",
    )
    page.click("#practice-send")
    feedback = page.locator("#practice-log .feedback")
    feedback.wait_for(timeout=10_000)
    assert feedback.locator("li").count() >= 5
    assert page.locator("#practice-log .bubble.relative").count() == 2
    screenshot(page, "coach-practice-en")


def test_page_works_without_javascript(browser: Any, live_server: str) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.goto(f"{live_server}/coach?lang=en")
    pg.fill("#ask-text", "If not Putin, then who?")
    pg.click("#ask-send")
    pg.wait_for_load_state()
    assert pg.locator("article.answer").get_attribute("data-argument") == "no-alternative"
    context.close()
