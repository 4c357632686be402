"""Working days (Mon–Fri by default, French public holidays optional) and an injectable clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def _easter(year: int) -> date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = ((h + l_ - 7 * m + 114) % 31) + 1
    return date(year, month, day)


@lru_cache(maxsize=64)
def french_holidays(year: int) -> frozenset[date]:
    easter = _easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    moving = [easter + timedelta(days=1), easter + timedelta(days=39), easter + timedelta(days=50)]
    return frozenset([date(year, m, d) for m, d in fixed] + moving)


class WorkingCalendar:
    def __init__(self, weekdays: frozenset[int], holidays: bool = True, tz: str = "Europe/Paris") -> None:
        self.weekdays = weekdays or frozenset(range(5))
        self.holidays = holidays
        self.tz = ZoneInfo(tz)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() not in self.weekdays:
            return False
        return not (self.holidays and day in french_holidays(day.year))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` working days after ``start`` (same local time of day)."""
        local = start.astimezone(self.tz)
        count = 0
        while count < days:
            local = local + timedelta(days=1)
            if self.is_working_day(local.date()):
                count += 1
        return local.replace(tzinfo=None).replace(tzinfo=self.tz).astimezone(UTC)
