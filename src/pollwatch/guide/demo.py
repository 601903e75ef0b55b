"""The voter guide of ``make run``'s SIMULATED election: addresses, guidance, key dates.

``pollwatch demo-observe`` stores a simulated observed election (:mod:`pollwatch.observe.simulate`);
this module gives it what a voter reads: a street address for each station, guidance pages
in English, Russian and Serbian, and a registration deadline. Everything is fictional and
says so — in each address and at the top of each page — so no one mistakes a demo for
real instructions. Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

__all__ = [
    "DEMO_DEADLINE_TIMEZONE",
    "DEMO_GUIDANCE",
    "demo_addresses",
    "demo_registration_deadline",
]

DEMO_DEADLINE_TIMEZONE = "Europe/Moscow"
"""Registration deadlines of Russian elections are announced in Moscow time."""

_STREETS: tuple[str, ...] = (
    "Embassy Road",
    "Consulate Street",
    "Station Square",
    "Library Lane",
    "School Street",
    "Harbour Way",
)


def demo_addresses(stations: Sequence[str]) -> dict[str, str]:
    """A fictional, clearly labelled address for each station id (deterministic).

    Every third station shares the building of the one before it, as stations in one
    embassy do, so the finder's grouping by address has something to group.

    >>> demo_addresses(["1", "2", "3"])["1"]
    'Embassy Road 1 (simulated address)'
    """
    found: dict[str, str] = {}
    address = ""
    for i, station in enumerate(stations):
        if i % 3 != 2 or not address:
            address = f"{_STREETS[i % len(_STREETS)]} {i + 1} (simulated address)"
        found[station] = address
    return found


def demo_registration_deadline(voting_day: date) -> str:
    """The deadline, as ``YYYY-MM-DD HH:MM`` Moscow time: 23:59 five days before voting.

    >>> demo_registration_deadline(date(2024, 3, 17))
    '2024-03-12 23:59'
    """
    return f"{(voting_day - timedelta(days=5)).isoformat()} 23:59"


_EN = """\
**SIMULATED: this is demo content of a fictional election, not real voting guidance.**

# Register to vote abroad

1. Apply for remote registration at the station where you want to vote, online or in
   person, until the deadline shown above (Moscow time).
2. Check that your application was accepted: you get a confirmation with the station's
   number.
3. Without registration you may still vote at a station abroad on election day, in the
   additional list, if you bring your passport.

# What to bring

- Your passport (the foreign travel passport is accepted abroad).
- The registration confirmation (a screenshot is enough).

# If you are refused

- Ask for the refusal **in writing**, with the reason and the time.
- Ask the observers at the station to record it; tell us through the form "report a problem".

# Whom to call

The demo hotline (a fictional number, nobody answers): 000 000 000.
"""

_RU = """\
**СИМУЛЯЦИЯ: это демонстрационный текст вымышленных выборов, а не настоящие инструкции.**

# Как зарегистрироваться за границей

1. Подайте заявление о голосовании по месту нахождения на участке, где хотите голосовать,
   онлайн или лично, до срока, указанного выше (по московскому времени).
2. Проверьте, что заявление принято: придёт подтверждение с номером участка.
3. Без заявления за границей можно проголосовать в день выборов по дополнительному списку,
   если взять с собой паспорт.

# Что взять с собой

- Паспорт (за границей принимается и заграничный).
- Подтверждение регистрации (достаточно снимка экрана).

# Если вам отказали

- Попросите отказ **письменно**, с причиной и временем.
- Попросите наблюдателей на участке зафиксировать отказ; сообщите нам через форму «сообщить
  о проблеме».

# Куда звонить

Демонстрационная горячая линия (вымышленный номер, никто не ответит): 000 000 000.
"""

_SR = """\
**SIMULACIJA: ovo je demonstracioni tekst izmišljenih izbora, a ne pravo uputstvo.**

# Kako se registrovati u inostranstvu

1. Podnesite zahtev za glasanje na biračkom mestu gde želite da glasate, onlajn ili lično,
   do roka navedenog gore (po moskovskom vremenu).
2. Proverite da je zahtev prihvaćen: dobićete potvrdu sa brojem biračkog mesta.
3. Bez zahteva možete glasati u inostranstvu na dan izbora, po dodatnom spisku, ako
   ponesete pasoš.

# Šta poneti

- Pasoš (u inostranstvu važi i putni pasoš).
- Potvrdu o registraciji (dovoljan je snimak ekrana).

# Ako vas odbiju

- Tražite odbijanje **pismeno**, sa razlogom i vremenom.
- Zamolite posmatrače na biračkom mestu da to zabeleže; javite nam preko obrasca „prijavi
  problem”.

# Koga pozvati

Demo dežurni telefon (izmišljen broj, niko se ne javlja): 000 000 000.
"""

DEMO_GUIDANCE: dict[str, str] = {"en": _EN, "ru": _RU, "sr": _SR}
"""The demo election's guidance pages by language, each labelled SIMULATED in its first line."""
