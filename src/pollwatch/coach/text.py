"""The one text pipeline of the coach: cleaning, normalisation, tokens and lemmas.

Everything the coach compares — knowledge-base paraphrases, a user's query, the lexicons of
the feedback rubric — goes through the same functions here, so that "путина", "Путин" and
"putin" meet on the same lemma.

Steps
-----
1. :func:`clean_text` checks user input at the boundary (type, length, control characters).
2. :func:`normalize` lowercases, folds ``ё`` into ``е``, removes stress marks, repairs
   Latin homoglyphs inside Cyrillic words ("пpопаганда") and, when most Latin words of the
   text read as Russian in Latin letters ("esli ne putin to kto"), transliterates them into
   Cyrillic.
3. :func:`tokenize` splits into runs of letters and digits.
4. :func:`lemma` maps a Cyrillic token to its pymorphy3 normal form and a Latin token to its
   Snowball (Porter2) stem; mixed-language text is handled token by token.

References
----------
Korobov, M. (2015). Morphological analyzer and generator for Russian and Ukrainian
languages. AIST 2015, 320–332 (pymorphy2, continued as pymorphy3).
Porter, M. F. (2001). Snowball: a language for stemming algorithms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING, Any, Literal

from pollwatch.errors import InputError

if TYPE_CHECKING:
    import pymorphy3

__all__ = [
    "MAX_TEXT_CHARS",
    "Analysis",
    "Lang",
    "analyse",
    "char_ngrams",
    "clean_text",
    "detect_language",
    "lemma",
    "lemmas",
    "normalize",
    "proper_names",
    "tokenize",
    "transliterate_word",
]

Lang = Literal["ru", "en"]

#: Longest text accepted from a user (a relative's words, a practice reply).
MAX_TEXT_CHARS = 5000

_TOKEN_RE = re.compile(r"[^\W_]+")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[a-z]")
_STRESS = "\u0301\u0300"

# Latin letters that look like Cyrillic ones; repaired inside mostly-Cyrillic words.
_HOMOGLYPHS = str.maketrans("aeopcxykmthb", "аеорсхукмтнв")

# Common English words whose Latin spelling is also a Russian word once transliterated
# ("to" → "то", "my" → "мы"); they never count as evidence of transliterated Russian.
_ENGLISH_COMMON = frozenset(
    """a about after all also am an and any are as at be because been but by can could day
    did do does dont done for from get go going got had has have he her him his how i if in
    into is it its just know like make me more most much my no not now of on one only or other
    our out people said say says see she so some than that the their them then there these they
    think this those to too up us very was we well were what when where which who why will with
    would you your nato war west ok okay lol yes yeah yep nope""".split()  # noqa: SIM905
)

# Transliteration: Latin sequences (longest first) → Cyrillic candidates, most likely first.
_TRANSLIT: dict[str, tuple[str, ...]] = {
    "shch": ("щ",),
    "sch": ("щ", "сч"),
    "sh": ("ш",),
    "ch": ("ч",),
    "zh": ("ж",),
    "kh": ("х",),
    "ts": ("ц", "тс"),
    "tz": ("ц",),
    "ya": ("я", "ыа"),
    "ja": ("я",),
    "ia": ("ия", "я"),
    "yu": ("ю",),
    "ju": ("ю",),
    "iu": ("ю", "иу"),
    "yo": ("е", "йо"),
    "jo": ("е",),
    "ye": ("е", "ье", "ые"),
    "je": ("е",),
    "a": ("а",),
    "b": ("б",),
    "c": ("ц", "к"),
    "d": ("д",),
    "e": ("е", "э"),
    "f": ("ф",),
    "g": ("г",),
    "h": ("х",),
    "i": ("и", "й"),
    "j": ("й",),
    "k": ("к",),
    "l": ("л",),
    "m": ("м",),
    "n": ("н",),
    "o": ("о",),
    "p": ("п",),
    "q": ("к",),
    "r": ("р",),
    "s": ("с",),
    "t": ("т",),
    "u": ("у",),
    "v": ("в",),
    "w": ("в",),
    "x": ("кс", "х"),
    "y": ("ы", "й", "и"),
    "z": ("з",),
    "4": ("ч",),
    "6": ("ш",),
}
# Frequent words whose first dictionary candidate is wrong ("eto" → "ето", "ego" → "эго").
_TRANSLIT_WORDS = {
    "eto": "это",
    "etot": "этот",
    "eta": "эта",
    "eti": "эти",
    "etom": "этом",
    "etu": "эту",
    "etogo": "этого",
    "etih": "этих",
    "ego": "его",
    "ee": "ее",
    "eshe": "еще",
    "eshche": "еще",
    "esche": "еще",
    "vse": "все",
    "chto": "что",
    "4to": "что",
}
_TRANSLIT_KEYS = sorted(_TRANSLIT, key=len, reverse=True)
_MAX_CANDIDATES = 64

_morph: pymorphy3.MorphAnalyzer | None = None
_morph_lock = threading.Lock()
_stem_lock = threading.Lock()
_stemmer: Any = None


def _analyzer() -> pymorphy3.MorphAnalyzer:
    """The process-wide pymorphy3 analyser, created on first use (about 0.1 s)."""
    global _morph
    if _morph is None:
        with _morph_lock:
            if _morph is None:
                import pymorphy3

                _morph = pymorphy3.MorphAnalyzer(lang="ru")
    return _morph


def clean_text(text: object, *, max_chars: int = MAX_TEXT_CHARS, field: str = "text") -> str:
    """Check user text at the boundary and strip control characters.

    Raises
    ------
    InputError
        When ``text`` is not a string, is empty (or only whitespace and control characters)
        or longer than ``max_chars`` characters.
    """
    if not isinstance(text, str):
        raise InputError(f"The {field!r} must be a string; got {type(text).__name__} instead.")
    if len(text) > max_chars:
        raise InputError(
            f"The {field!r} is too long: {len(text):,} characters; the coach accepts at most "
            f"{max_chars:,}. Paste the key sentence only."
        )
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} and ch != "\u200d" else ch
        for ch in text
    )
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InputError(f"The {field!r} is empty; type what was said.")
    return cleaned


@lru_cache(maxsize=65536)
def _known_ru(word: str) -> bool:
    return bool(_analyzer().word_is_known(word))


@lru_cache(maxsize=65536)
def transliterate_word(word: str) -> str:
    """Read a Latin-letter word as Russian: ``"esli"`` → ``"если"``, ``"kakoy"`` → ``"какой"``.

    Ambiguous letters (``e`` → е/э, ``y`` → ы/й/и, ``c`` → ц/к, ...) produce several
    candidates; the first one pymorphy3 knows as a Russian word wins, else the first.
    """
    if word in _TRANSLIT_WORDS:
        return _TRANSLIT_WORDS[word]
    segments: list[tuple[str, ...]] = []
    i = 0
    while i < len(word):
        for key in _TRANSLIT_KEYS:
            if word.startswith(key, i):
                segments.append(_TRANSLIT[key])
                i += len(key)
                break
        else:
            segments.append((word[i],))
            i += 1
    candidates: list[str] = []
    for combo in product(*segments):
        candidates.append("".join(combo))
        if len(candidates) >= _MAX_CANDIDATES:
            break
    for cand in candidates:
        if _known_ru(cand):
            return cand
    for cand in candidates:  # a soft sign is rarely typed: "govorish" → "говоришь"
        if _known_ru(cand + "ь"):
            return cand + "ь"
    return candidates[0] if candidates else word


def _reads_as_russian(word: str) -> bool:
    return (
        len(word) >= 2
        and word not in _ENGLISH_COMMON
        and _LATIN_RE.search(word) is not None
        and _known_ru(transliterate_word(word))
    )


def _fix_homoglyphs(token: str) -> str:
    if _CYRILLIC_RE.search(token) and _LATIN_RE.search(token):
        n_cyr = len(_CYRILLIC_RE.findall(token))
        n_lat = len(_LATIN_RE.findall(token))
        if n_cyr >= n_lat:
            return token.translate(_HOMOGLYPHS)
    return token


def normalize(text: str, *, translit: bool = True) -> str:
    """Lowercase, fold ``ё``, drop stress marks, fix homoglyphs, transliterate when Russian.

    Transliteration is decided for the whole text: when more than half of its Latin words
    (two letters or more, not common English words) read as known Russian words, every Latin
    word is transliterated; otherwise Latin words stay English. ``translit=False`` turns it
    off (text known to be English, such as the English lexicon).
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if ch not in _STRESS)
    text = unicodedata.normalize("NFC", text).replace("ё", "е")
    raw = _TOKEN_RE.findall(text)
    fixed = {tok: _fix_homoglyphs(tok) for tok in raw}
    latin = [tok for tok in fixed.values() if _LATIN_RE.search(tok) and len(tok) >= 2]
    translit = translit and bool(latin) and sum(map(_reads_as_russian, latin)) * 2 > len(latin)

    def repl(match: re.Match[str]) -> str:
        tok = fixed[match.group(0)]
        if translit and _LATIN_RE.search(tok) and not _CYRILLIC_RE.search(tok):
            return transliterate_word(tok)
        return tok

    return _TOKEN_RE.sub(repl, text)


def tokenize(normalized: str) -> tuple[str, ...]:
    """Runs of letters and digits of an already normalised text."""
    return tuple(_TOKEN_RE.findall(normalized))


@lru_cache(maxsize=131072)
def lemma(token: str) -> str:
    """The pymorphy3 normal form of a Cyrillic token, the Snowball stem of a Latin one."""
    if _CYRILLIC_RE.search(token):
        return str(_analyzer().parse(token)[0].normal_form).replace("ё", "е")
    if _LATIN_RE.search(token):
        global _stemmer
        with _stem_lock:
            if _stemmer is None:
                import snowballstemmer

                _stemmer = snowballstemmer.stemmer("english")
            return str(_stemmer.stemWord(token))
    return token


def lemmas(text: str, *, translit: bool = True) -> tuple[str, ...]:
    """Lemmas of a raw text, in order (normalise, tokenise, lemmatise)."""
    return tuple(lemma(tok) for tok in tokenize(normalize(text, translit=translit)))


def detect_language(normalized: str) -> Lang:
    """``"ru"`` when at least 40 % of the letters are Cyrillic (after transliteration)."""
    letters = [ch for ch in normalized if ch.isalpha()]
    if not letters:
        return "ru"
    n_cyr = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff")
    return "ru" if n_cyr >= 0.4 * len(letters) else "en"


def char_ngrams(tokens: tuple[str, ...], lo: int = 3, hi: int = 5) -> tuple[str, ...]:
    """Character n-grams inside word boundaries (each token padded with spaces).

    Like scikit-learn's ``analyzer="char_wb"``: ``"кто"`` gives ``" кт"``, ``"кто"``,
    ``"то "``, ``" кто"``, ... A short token yields itself padded.
    """
    grams: list[str] = []
    for tok in tokens:
        padded = f" {tok} "
        if len(padded) <= lo:
            grams.append(padded)
            continue
        for n in range(lo, hi + 1):
            if n > len(padded):
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(grams)


_NAME_TAGS = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn", "Trad"})
_CAPITALISED_RE = re.compile(r"(?<![\w'])[A-Z][a-z]{3,}(?![\w'])")


def proper_names(text: str) -> tuple[str, ...]:
    """Lemmas of the names in a text: people, places, organisations.

    Cyrillic tokens (after transliteration) whose likeliest pymorphy3 parse is a name,
    surname, patronymic, place or organisation ("Крым", "Горбачёв", "Лукашенко"); Latin
    words written with a capital ("China", "Gorbachev"), stemmed. A claim about a subject
    the coach has never heard of must not be answered as if it were another one.
    """
    out: list[str] = []
    tokens = list(tokenize(normalize(text, translit=False)))
    translit = normalize(text)
    if detect_language(translit) == "ru":  # Russian in Latin letters; not a stray "and"
        tokens += [t for t in tokenize(translit) if len(t) >= 4]  # "and" is not "Анды"
    for tok in tokens:
        if _CYRILLIC_RE.search(tok) and _NAME_TAGS & set(_analyzer().parse(tok)[0].tag.grammemes):
            out.append(lemma(tok))
    for word in _CAPITALISED_RE.findall(text):
        out.append(lemma(word.lower()))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Analysis:
    """A text as the coach sees it: normalised string, tokens, lemmas, n-grams, language."""

    normalized: str
    tokens: tuple[str, ...]
    lemmas: tuple[str, ...]
    ngrams: tuple[str, ...]
    lang: Lang


def analyse(text: str, *, translit: bool = True) -> Analysis:
    """Run the whole pipeline once on a (cleaned) text."""
    norm = normalize(text, translit=translit)
    toks = tokenize(norm)
    return Analysis(
        normalized=norm,
        tokens=toks,
        lemmas=tuple(lemma(t) for t in toks),
        ngrams=char_ngrams(toks),
        lang=detect_language(norm),
    )
