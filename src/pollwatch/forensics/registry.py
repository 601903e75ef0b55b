"""The one declared list of forensic methods.

Every method pollwatch runs is listed here once — its name, where its function lives,
its title in English and Russian, what it detects, its reference and its default
options. The battery, the report, the CLI, the docs test and the conformance suite all
read this list; adding a method means adding one :class:`Method` entry.

Functions are imported lazily (on first use of :attr:`Method.function`) so that the list
can be read — and pickled into worker processes — without importing every method module.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pollwatch.errors import InputError, NotFoundError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.result import MethodResult

__all__ = ["METHODS", "Method", "get_method", "method_names", "resolve_methods"]


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Method:
    """One forensic method as the rest of pollwatch sees it.

    Attributes
    ----------
    name:
        Snake-case id; the public function's name and the result's key in JSON.
    module:
        Module under :mod:`pollwatch.forensics` that defines the function.
    title, detects:
        ``{"en": ..., "ru": ...}``: a short title and one sentence on what it detects.
    reference:
        Short citation (the result class carries the full one).
    options:
        Default keyword options passed to the function (besides ``seed``/``resamples``).
    max_resamples:
        Cap on ``resamples`` for methods whose cost grows with it and whose answer does
        not improve past it (spikes: the R package's default of 1,000; klimek: each
        resample is a whole refit, and 30 bootstrap fits give its interval; shpilkin:
        2,000 Poisson-bootstrap draws put the ends of a 95 % percentile interval within
        about 0.06 standard errors of their limit, and each draw re-estimates every
        region, which made it the slowest method at 10,000).
    """

    name: str
    module: str
    title: Mapping[str, str]
    detects: Mapping[str, str]
    reference: str
    options: Mapping[str, Any] = field(default_factory=_frozen)
    max_resamples: int | None = None

    @property
    def function(self) -> Callable[..., MethodResult]:
        """The method's public function, imported on first use."""
        mod = importlib.import_module(f"pollwatch.forensics.{self.module}")
        fn: Callable[..., MethodResult] = getattr(mod, self.name)
        return fn

    def parameters(self) -> frozenset[str]:
        """Names of the keyword options the function accepts."""
        return frozenset(inspect.signature(self.function).parameters)

    def run(
        self,
        data: StationArrays,
        *,
        seed: int | None = 0,
        resamples: int | None = None,
        **options: Any,
    ) -> MethodResult:
        """Call the method with its default options, ``seed`` and ``resamples`` where taken.

        ``seed`` and ``resamples`` are passed only to methods that accept them, so the
        battery can hand the same pair to every method.
        """
        params = self.parameters()
        kwargs: dict[str, Any] = dict(self.options)
        kwargs.update(options)
        if "seed" in params:
            kwargs["seed"] = seed
        if resamples is not None and "resamples" in params:
            cap = self.max_resamples
            kwargs["resamples"] = resamples if cap is None else min(resamples, cap)
        unknown = sorted(set(kwargs) - params)
        if unknown:
            raise InputError(
                f"The option(s) {', '.join(repr(u) for u in unknown)} are not parameters of "
                f"{self.name}; it takes {', '.join(sorted(params - {'data'}))}"
            )
        return self.function(data, **kwargs)

    def text(self, lang: str) -> tuple[str, str]:
        """Title and description in ``lang`` (English when the language is missing)."""
        return self.title.get(lang, self.title["en"]), self.detects.get(lang, self.detects["en"])


METHODS: tuple[Method, ...] = (
    Method(
        name="fingerprint",
        module="fingerprint",
        title={
            "en": "Election fingerprint (turnout × leader share)",
            "ru": "«Отпечаток» выборов (явка × доля лидера)",
        },
        detects={
            "en": "Ballot stuffing and extreme fraud pull stations into a comet tail towards "
            "100% turnout and 100% for the leader; clean elections form one round blob.",
            "ru": "Вбросы и приписки вытягивают участки в «хвост кометы» к 100% явки и 100% за "
            "лидера; чистые выборы дают одно округлое облако.",
        },
        reference="Klimek, Yegorov, Hanel & Thurner (2012), PNAS 109(41):16469-16473",
    ),
    Method(
        name="integer_percentages",
        module="integer_percentages",
        title={
            "en": "Integer percentages",
            "ru": "Целые проценты",
        },
        detects={
            "en": "Protocols written to hit a target (e.g. 70% turnout) show too many stations "
            "whose turnout or leader share is a round whole percentage.",
            "ru": "Протоколы, подогнанные под план (например, 70% явки), дают слишком много "
            "участков с целым процентом явки или результата лидера.",
        },
        reference="Kobak, Shpilkin & Pshenichnikov (2016), Annals of Applied Statistics "
        "10(1):54-73",
    ),
    Method(
        name="shpilkin",
        module="shpilkin",
        title={
            "en": "Shpilkin's estimate of anomalous votes",
            "ru": "Оценка аномальных голосов по Шпилькину",
        },
        detects={
            "en": "Votes for the leader that rise with turnout while the others' do not: the "
            "leader's votes above the clean reference are counted as anomalous.",
            "ru": "Голоса за лидера, растущие вместе с явкой при неизменных голосах остальных: "
            "превышение над «чистым» эталоном считается аномальным.",
        },
        reference="Shpilkin (2009, 2011); Kobak, Shpilkin & Pshenichnikov (2016)",
        max_resamples=2000,
    ),
    Method(
        name="klimek",
        module="klimek",
        title={
            "en": "Klimek's fraud model (incremental and extreme fraud)",
            "ru": "Модель Климека (постепенные и крайние фальсификации)",
        },
        detects={
            "en": "Fits the share of stations with incremental ballot stuffing (f_i) and with "
            "extreme, near-100% results (f_e) to the turnout × share distribution.",
            "ru": "Оценивает долю участков с постепенными вбросами (f_i) и с крайними, почти "
            "100-процентными результатами (f_e) по распределению явки и доли.",
        },
        reference="Klimek, Yegorov, Hanel & Thurner (2012), PNAS 109(41):16469-16473",
        max_resamples=30,
    ),
    Method(
        name="digits",
        module="digits",
        title={
            "en": "Digit tests (second and last digits)",
            "ru": "Тесты цифр (вторая и последняя цифры)",
        },
        detects={
            "en": "Invented numbers: a second-digit mean away from what the counts' own "
            "binomial model expects, and last digits that are not uniform.",
            "ru": "Выдуманные числа: среднее второй цифры вдали от того, что ожидает "
            "биномиальная модель самих подсчётов, и неравномерные последние цифры.",
        },
        reference="Mebane (2006); Beber & Scacco (2012), Political Analysis 20(2):211-234",
    ),
    Method(
        name="relations",
        module="relations",
        title={
            "en": "Relations between turnout and votes",
            "ru": "Связь явки и голосов",
        },
        detects={
            "en": "In clean elections, extra turnout splits among all candidates; when only the "
            "leader gains with turnout, votes were likely added.",
            "ru": "На чистых выборах дополнительная явка делится между всеми кандидатами; если "
            "с явкой растут только голоса лидера, вероятны вбросы.",
        },
        reference="Myagkov, Ordeshook & Shakin (2009), The Forensics of Election Fraud, CUP",
    ),
    Method(
        name="spikes",
        module="spikes",
        title={
            "en": "Spikes in the distribution of shares",
            "ru": "Пики в распределении долей",
        },
        detects={
            "en": "Sharp peaks of stations at particular (often round) values of the leader's "
            "share or turnout, beyond what a smooth distribution predicts.",
            "ru": "Острые пики числа участков на отдельных (часто круглых) значениях доли "
            "лидера или явки сверх гладкого распределения.",
        },
        reference="Rozenas (2017), Political Analysis 25(1):41-56",
        max_resamples=1000,
    ),
    Method(
        name="identical_protocols",
        module="identical",
        title={
            "en": "Identical protocols",
            "ru": "Одинаковые протоколы",
        },
        detects={
            "en": "Neighbouring stations reporting exactly the same figures — a sign that "
            "protocols were written, not counted.",
            "ru": "Соседние участки с точно совпадающими цифрами — признак того, что протоколы "
            "написали, а не посчитали.",
        },
        reference="Kobak, Shpilkin & Pshenichnikov (2018), Significance 15(4)",
    ),
)

_BY_NAME: Mapping[str, Method] = MappingProxyType({m.name: m for m in METHODS})


def method_names() -> tuple[str, ...]:
    """Names of every registered method, in report order."""
    return tuple(m.name for m in METHODS)


def get_method(name: str) -> Method:
    """The registered method called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise NotFoundError(
            f"unknown forensic method {name!r}; methods are: {', '.join(method_names())}"
        ) from None


def resolve_methods(names: Sequence[str] | None) -> tuple[Method, ...]:
    """The methods to run: all of them (``None``) or the named ones, in registry order."""
    if names is None:
        return METHODS
    wanted = [str(n) for n in names]
    for n in wanted:
        get_method(n)
    return tuple(m for m in METHODS if m.name in wanted)
