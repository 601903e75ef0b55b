"""Interface strings of the coach in English and Russian (content lives in the YAML).

A small dictionary catalogue: ``t("key", lang, **values)``. Every key exists in both
languages (a test checks it). The web page and the bot may use it too.
"""

from __future__ import annotations

from pollwatch.coach.text import Lang

__all__ = ["CATALOGUE", "t", "topic_label"]

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "sample_note": (
            "Starter content: a sample written for this project, for organisations to "
            "review and extend."
        ),
        "match": "Closest argument: {claim} ({id}, score {score:.2f})",
        "draft": "(draft, not yet reviewed)",
        "step_bridge": "1. Show you understand",
        "step_counterargument": "2. What we share, and the facts",
        "step_question": "3. Ask an open question",
        "sources": "Sources",
        "archived": "archived copy",
        "risk": "Caution",
        "choose": "Not sure which one you mean. The closest arguments:",
        "choose_hint": "Show one with: pollwatch coach show ID",
        "none": "No argument in the knowledge base is close to this. Topics we cover:",
        "none_hint": "Rephrase, or pick an argument from the list (pollwatch coach show ID).",
        "practice_intro": (
            "Practice: I play your relative. Answer as you would; type /quit to stop."
        ),
        "relative": "Relative",
        "you": "You",
        "feedback": "Feedback ({total}/{max_total}, {verdict})",
        "suggestion": "You could say",
        "practice_end": "End of practice. Replies: {n}; average score {avg:.1f}/{max_total}.",
        "practice_abandoned": "The relative changes the subject. Try again another time.",
        "verdict_empathic": "empathic",
        "verdict_mixed": "mixed",
        "verdict_hostile": "hostile",
        "stats_off": (
            "Anonymous counts are off (set POLLWATCH_COACH_STATS=on to help curators; "
            "no text is ever kept)."
        ),
        "stats_header": "Anonymous counts (no text is kept) in {path}",
        "stats_empty": "No counts recorded.",
        "stats_no_match": "Queries with no match: {n}",
        "forgot": "Removed {path}.",
        "nothing_to_forget": "Nothing stored.",
        "dim_acknowledge": "Acknowledges the feeling",
        "dim_common_ground": "Finds common ground",
        "dim_no_contempt": "No labels or contempt",
        "dim_i_statements": '"I" rather than "you always"',
        "dim_hedges": "Leaves room (hedges)",
        "dim_open_question": "Ends with an open question",
        "dim_short": "Short enough to say aloud",
        "r_found": "found: {words}",
        "r_ack_none": 'no word for the other\'s feeling (e.g. "I understand", "it\'s scary")',
        "r_common_none": 'nothing shared named (e.g. "we both", "I also want")',
        "r_toxic": "label or contempt: {words}",
        "r_toxic_none": "no labels",
        "r_you": 'blaming "you": {words}',
        "r_i_none": 'no "I" statement; say how you see it',
        "r_hedge_none": 'sounds categorical; try "maybe", "I think"',
        "r_question_open": "ends with an open question",
        "r_question_closed": "a yes/no question; ask what/how/why",
        "r_question_none": "no question at the end; ask what/how/why",
        "r_short": "{words} words, {chars} characters",
        "r_long": (
            "{words} words, {chars} characters: too long to say aloud (max {max_words}/{max_chars})"
        ),
    },
    "ru": {
        "sample_note": (
            "Стартовое содержание: образец, написанный для проекта; организации могут "
            "проверить и дополнить его."
        ),
        "match": "Ближайший довод: {claim} ({id}, оценка {score:.2f})",
        "draft": "(черновик, ещё не проверен)",
        "step_bridge": "1. Покажите, что понимаете",
        "step_counterargument": "2. Что нас объединяет, и факты",
        "step_question": "3. Задайте открытый вопрос",
        "sources": "Источники",
        "archived": "архивная копия",
        "risk": "Осторожно",
        "choose": "Не уверен, какой довод вы имеете в виду. Ближайшие:",
        "choose_hint": "Показать один: pollwatch coach show ID",
        "none": "В базе нет близкого довода. Темы, которые мы разбираем:",
        "none_hint": "Переформулируйте или выберите довод из списка (pollwatch coach show ID).",
        "practice_intro": (
            "Тренировка: я играю вашего родственника. Отвечайте, как ответили бы; /quit — выход."
        ),
        "relative": "Родственник",
        "you": "Вы",
        "feedback": "Отзыв ({total}/{max_total}, {verdict})",
        "suggestion": "Можно сказать так",
        "practice_end": "Тренировка окончена. Ответов: {n}; средняя оценка {avg:.1f}/{max_total}.",
        "practice_abandoned": "Родственник меняет тему. Попробуйте в другой раз.",
        "verdict_empathic": "с эмпатией",
        "verdict_mixed": "смешанно",
        "verdict_hostile": "враждебно",
        "stats_off": (
            "Анонимный счёт выключен (POLLWATCH_COACH_STATS=on поможет редакторам; "
            "текст не сохраняется никогда)."
        ),
        "stats_header": "Анонимный счёт (без текста) в {path}",
        "stats_empty": "Ничего не записано.",
        "stats_no_match": "Запросов без совпадения: {n}",
        "forgot": "Удалено: {path}.",
        "nothing_to_forget": "Ничего не сохранено.",
        "dim_acknowledge": "Признаёт чувства",
        "dim_common_ground": "Находит общее",
        "dim_no_contempt": "Без ярлыков и презрения",
        "dim_i_statements": "«Я» вместо «ты всегда»",
        "dim_hedges": "Оставляет место сомнению",
        "dim_open_question": "Заканчивается открытым вопросом",
        "dim_short": "Можно сказать вслух",
        "r_found": "найдено: {words}",
        "r_ack_none": "нет слов о чувствах собеседника (например, «понимаю», «страшно»)",
        "r_common_none": "не названо общее (например, «мы оба», «я тоже хочу»)",
        "r_toxic": "ярлык или презрение: {words}",
        "r_toxic_none": "ярлыков нет",
        "r_you": "обвинение через «ты»: {words}",
        "r_i_none": "нет высказывания от первого лица; скажите, как видите вы",
        "r_hedge_none": "звучит категорично; попробуйте «мне кажется», «может быть»",
        "r_question_open": "заканчивается открытым вопросом",
        "r_question_closed": "вопрос с ответом «да» или «нет»; спросите «что», «как», «почему»",
        "r_question_none": "в конце нет вопроса; спросите «что», «как», «почему»",
        "r_short": "{words} слов, {chars} знаков",
        "r_long": (
            "{words} слов, {chars} знаков: слишком длинно (не больше {max_words}/{max_chars})"
        ),
    },
}

_TOPICS: dict[str, dict[str, str]] = {
    "en": {
        "elections": "Elections",
        "leadership": "Leadership",
        "war": "War",
        "nato-west": "NATO and the West",
        "history": "History",
        "media": "Media and facts",
        "economy": "Economy",
        "emigration": "Those who left",
        "protest": "Protest",
        "politics": "Politics",
    },
    "ru": {
        "elections": "Выборы",
        "leadership": "Власть",
        "war": "Война",
        "nato-west": "НАТО и Запад",
        "history": "История",
        "media": "СМИ и факты",
        "economy": "Экономика",
        "emigration": "Уехавшие",
        "protest": "Протест",
        "politics": "Политика",
    },
}


def t(key: str, lang: Lang, **values: object) -> str:
    """The interface string ``key`` in ``lang`` (English when missing), formatted."""
    table = CATALOGUE.get(lang, CATALOGUE["en"])
    template = table.get(key) or CATALOGUE["en"][key]
    return template.format(**values) if values else template


def topic_label(topic: str, lang: Lang) -> str:
    """The human label of a topic id."""
    return _TOPICS.get(lang, _TOPICS["en"]).get(topic, topic)
