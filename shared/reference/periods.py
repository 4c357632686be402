"""Periods written in French (« mars », « du 2 au 27 mars », « 12/01 au 06/02 », « de mars à juin 2027 »),
parsed into day ranges of the school year, compared and written back in French.

Used by the catalog (PFMP periods the RBE types per class), the matcher (the company's free-text period
against those PFMP periods) and intake (what the form understood). PFMP calendars recur every school year,
so a period is a set of (month, day) ranges and **years are ignored**: « mars 2027 » meets a PFMP typed
« du 2 au 27 mars ». A range may cross the new year (« décembre à février »).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MONTHS = {
    "janvier": 1, "janv": 1, "jan": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4, "avr": 4,
    "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9, "sept": 9, "sep": 9,
    "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12, "dec": 12,
}
MONTH_NAMES = ("", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
               "octobre", "novembre", "décembre")
DAYS_IN = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29 February is read as the 28th
SCHOOL_YEAR = (9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8)
_OFFSET = {}
_acc = 0
for _m in SCHOOL_YEAR:
    _OFFSET[_m] = _acc
    _acc += DAYS_IN[_m]
YEAR_DAYS = _acc  # 365
SCHOOL_END = (6, 30)  # « à partir de mars »: until the end of the school year

_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_TOKEN = re.compile(
    rf"(?P<iso>\b(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})\b)"
    rf"|(?P<dmy>\b(?P<nd>\d{{1,2}})[/.](?P<nm>\d{{1,2}})(?:[/.](?:\d{{4}}|\d{{2}}))?\b)"
    rf"|(?P<my>\b(?P<mym>\d{{1,2}})/\d{{4}}\b)"
    rf"|(?P<part>\b(?P<which>debut|mi|fin)[\s-]+(?:d[eu]?\s+|d')?(?P<pm>{_MONTH_RE})\b\.?)"
    rf"|(?P<dm>\b(?P<dd>\d{{1,2}})(?:er)?\s+(?P<dmm>{_MONTH_RE})\b\.?)"
    rf"|(?P<month>\b(?P<mm>{_MONTH_RE})\b\.?)"
    rf"|(?P<from>\b(?:a\s+partir\s+d[eu']?|(?:des|apres)(?=\s+(?:le\s+)?(?:\d|{_MONTH_RE}))))"
    rf"|(?P<year>\b\d{{4}}\b)"
    rf"|(?P<day>\b\d{{1,2}}(?:er)?\b)"
    rf"|(?P<to>\bau\b|\ba\b|\bjusqu'?\s*(?:au|a|en|fin)?\b|-|–|—)"
    rf"|(?P<sep>\bet\b|,|;|\bpuis\b|\+|\bou\b)"
)


_STRENGTH = {"sep": 1, "to": 2, "from": 3}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().replace("’", "'")


def _de(word: str) -> str:
    return f"d'{word}" if word[0] in "aeiouéèê" else f"de {word}"


def _index(month: int, day: int) -> int:
    """Days since 1 September (0..364)."""
    return _OFFSET[month] + min(day, DAYS_IN[month]) - 1


@dataclass(frozen=True, slots=True)
class DayRange:
    start: tuple[int, int]  # (month, day)
    end: tuple[int, int]

    def spans(self) -> list[tuple[int, int]]:
        """Index intervals in the school year (two when the range crosses 31 August)."""
        a, b = _index(*self.start), _index(*self.end)
        return [(a, b)] if a <= b else [(a, YEAR_DAYS - 1), (0, b)]

    def overlaps(self, other: DayRange) -> bool:
        return any(a <= d and c <= b for a, b in self.spans() for c, d in other.spans())

    def whole_months(self) -> bool:
        return self.start[1] == 1 and self.end[1] == DAYS_IN[self.end[0]]

    def french(self) -> str:
        (m1, d1), (m2, d2) = self.start, self.end
        if self.whole_months():
            return MONTH_NAMES[m1] if m1 == m2 else f"{_de(MONTH_NAMES[m1])} à {MONTH_NAMES[m2]}"
        day1 = "1er" if d1 == 1 else str(d1)
        if (m1, d1) == (m2, d2):
            return f"le {day1} {MONTH_NAMES[m1]}"
        if m1 == m2:
            return f"du {day1} au {d2} {MONTH_NAMES[m1]}"
        return f"du {day1} {MONTH_NAMES[m1]} au {d2} {MONTH_NAMES[m2]}"

    def code(self) -> str:
        return f"{self.start[0]:02d}-{self.start[1]:02d}/{self.end[0]:02d}-{self.end[1]:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    ranges: tuple[DayRange, ...]

    def overlaps(self, other: Period) -> bool:
        return any(a.overlaps(b) for a in self.ranges for b in other.ranges)

    def french(self) -> str:
        parts = [r.french() for r in self.ranges]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]

    def code(self) -> str:
        """Compact, stable form for storage and the snapshot: « 03-02/03-27;05-04/05-29 »."""
        return ";".join(r.code() for r in self.ranges)

    @classmethod
    def from_code(cls, code: str) -> Period | None:
        ranges = []
        for part in code.split(";"):
            m = re.fullmatch(r"(\d\d)-(\d\d)/(\d\d)-(\d\d)", part.strip())
            if m:
                a, b, c, d = (int(x) for x in m.groups())
                if _valid(a, b) and _valid(c, d):
                    ranges.append(DayRange((a, b), (c, d)))
        return cls(tuple(ranges)) if ranges else None


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else DAYS_IN[month])


class PeriodError(ValueError):
    """A period that cannot be read; the message is in French."""


@dataclass(slots=True)
class _Point:
    start: tuple[int, int]
    end: tuple[int, int]
    day_only: int | None = None  # « du 2 au 27 mars »: the 2 waits for its month


def _points(text: str, strict: bool) -> list[tuple[str, _Point | None]]:
    """The text as a list of (connector, point): connector is "to", "sep", "from" or "" before each point."""
    out: list[tuple[str, _Point | None]] = []
    pending = ""
    folded = re.sub(r"\bentre\b(.*?)\bet\b", r"\1 au ", _fold(text))  # « entre mars et mai »
    for m in _TOKEN.finditer(folded):
        kind = m.lastgroup
        point: _Point | None = None
        if kind == "iso":
            month, day = int(m["im"]), int(m["id"])
            point = _Point((month, day), (month, day)) if _valid(month, day) else None
        elif kind == "dmy":
            day, month = int(m["nd"]), int(m["nm"])
            point = _Point((month, day), (month, day)) if _valid(month, day) else None
        elif kind == "my":
            month = int(m["mym"])
            point = _Point((month, 1), (month, DAYS_IN[month])) if 1 <= month <= 12 else None
        elif kind == "part":
            month = MONTHS[m["pm"]]
            last = DAYS_IN[month]
            bounds = {"debut": (1, 10), "mi": (11, 20), "fin": (21, last)}[m["which"]]
            point = _Point((month, bounds[0]), (month, bounds[1]))
        elif kind == "dm":
            day, month = int(m["dd"]), MONTHS[m["dmm"]]
            point = _Point((month, day), (month, day)) if _valid(month, day) else None
        elif kind == "month":
            month = MONTHS[m["mm"]]
            point = _Point((month, 1), (month, DAYS_IN[month]))
        elif kind == "day":
            day = int(m.group().removesuffix("er"))
            point = _Point((0, day), (0, day), day_only=day) if 1 <= day <= 31 else None
        elif kind in ("to", "sep", "from"):
            if _STRENGTH[kind] > _STRENGTH.get(pending, 0):
                pending = kind
            continue
        else:  # a year: ignored (PFMP calendars recur every school year)
            continue
        if point is None:
            if strict:
                raise PeriodError(f"Date impossible : « {m.group().strip()} ».")
            continue
        out.append((pending, point))
        pending = ""
    return out


def parse_period(text: str | None, *, strict: bool = False) -> Period | None:
    """The period a text describes, or None when it names no date. ``strict`` (the RBE's form) raises
    PeriodError on an impossible date (« 31 février ») or a day without a month."""
    if not text or not text.strip():
        return None
    points = _points(text[:500], strict)
    # A bare day takes the month of the next dated point: « du 2 au 27 mars ».
    for i, (_, p) in enumerate(points):
        if p is not None and p.day_only is not None:
            month = next((q.start[0] for _, q in points[i + 1:] if q is not None and q.day_only is None), None)
            if month is None or not _valid(month, p.day_only):
                if strict:
                    raise PeriodError(f"Précisez le mois du {p.day_only} (par exemple « du {p.day_only} au 27 mars »).")
                points[i] = ("", None)
                continue
            p.start = p.end = (month, p.day_only)
            p.day_only = None
    ranges: list[DayRange] = []
    previous: _Point | None = None
    for connector, p in points:
        if p is None:
            continue
        if connector == "to" and previous is not None:
            ranges[-1] = DayRange(previous.start, p.end)
            previous = None
            continue
        ranges.append(DayRange(p.start, SCHOOL_END if connector == "from" else p.end))
        previous = p if connector != "from" else None
    return Period(tuple(ranges)) if ranges else None


# ------------------------------------------------------------------ PFMP periods per class
# code -> (label on forms and pages, « la PFMP des … »)
PFMP_CLASSES: dict[str, tuple[str, str]] = {
    "2de": ("Seconde (2de)", "des 2de"), "1re": ("Première (1re)", "des 1re"), "tle": ("Terminale", "des Terminale"),
    "cap1": ("CAP, 1re année", "des CAP 1re année"), "cap2": ("CAP, 2e année", "des CAP 2e année"),
    "bts1": ("BTS, 1re année", "des BTS 1re année"), "bts2": ("BTS, 2e année", "des BTS 2e année"),
    "autre": ("Autre classe", "d'une classe"),
}


def classes_during(company: Period, periods: list[tuple[str, Period]]) -> list[str]:
    """The class codes whose PFMP meets the company's dates, in the order given, without repeats."""
    out: list[str] = []
    for classe, period in periods:
        if classe not in out and company.overlaps(period):
            out.append(classe)
    return out


def fit_sentence(company: Period, classes: list[str]) -> str:
    """« vos dates (mars) tombent pendant la PFMP des 1re » (classes: codes of PFMP_CLASSES)."""
    who = [PFMP_CLASSES.get(c, PFMP_CLASSES["autre"])[1] for c in classes]
    joined = who[0] if len(who) == 1 else ", ".join(who[:-1]) + " et " + who[-1]
    return f"vos dates ({company.french()}) tombent pendant la PFMP {joined}"


def miss_sentence(company: Period) -> str:
    return f"vos dates ({company.french()}) ne tombent pendant aucune PFMP déclarée par le lycée"
