"""Time awareness for queries: "last week", "yesterday", "in March", "3 days ago", "recently".

Long multi-session chats answer "when" questions from the session a thing was said in, so a query
that names a time gets a window; hits inside it are boosted (never filtered: people misremember
dates). Times are epoch seconds, relative to the ``now`` the caller passes (the import's clock
for an imported history, the wall clock live).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from .text import fold

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3}
_UNIT = {"day": 1, "week": 7, "month": 30, "year": 365}
# Days named by what happens on them, with their (month, day); moveable feasts are left out.
_HOLIDAYS = {"christmas": (12, 25), "xmas": (12, 25), "boxing day": (12, 26), "new year's": (1, 1),
             "new year": (1, 1), "valentine's": (2, 14), "valentines": (2, 14), "halloween": (10, 31),
             "bonfire night": (11, 5), "guy fawkes": (11, 5), "burns night": (1, 25), "st patrick's": (3, 17)}
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass(frozen=True)
class TimeHint:
    start: float | None = None
    end: float | None = None
    recent: bool = False  # "recently", "latest", "now", "currently": prefer the newest
    first: bool = False  # "first time", "originally": prefer the oldest

    @property
    def window(self) -> bool:
        return self.start is not None and self.end is not None


def parse(query: str, now: float) -> TimeHint:
    q = fold(query)
    today = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    day = 86400.0
    t0 = today.timestamp()
    recent = bool(re.search(r"\b(recent|recently|latest|lately|currently|current|now|these days|last time|"
                            r"most recent|still)\b", q))
    first = bool(re.search(r"\b(first time|originally|initially|at first|in the beginning|earliest|first (visit|met|"
                           r"meet|session|appointment|consultation|came|talked|spoke)|when we (first )?met|very first)\b", q))
    if re.search(r"\byesterday\b", q):
        return TimeHint(t0 - day, t0, recent, first)
    if re.search(r"\btoday\b|\bthis morning\b", q):
        return TimeHint(t0, now + 1, recent, first)
    m = re.search(r"\b(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|couple of|few) (day|week|month|year)s? ago\b", q)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _NUM[m.group(1)]
        span = _UNIT[m.group(2)] * day
        center = now - n * span
        return TimeHint(center - span, center + span, recent, first)
    m = re.search(r"\b(last|this|past) weekend\b", q)
    if m:
        # The Saturday and Sunday before ``now`` (this weekend: the coming or current one).
        back = (today.weekday() - 5) % 7 or (7 if m.group(1) != "this" else 0)
        sat = t0 - back * day
        if m.group(1) != "this" and sat + 2 * day > now:
            sat -= 7 * day
        return TimeHint(sat - day, sat + 3 * day, recent, first)  # Friday evening to Monday
    m = re.search(r"\blast (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", q)
    if m:
        back = (today.weekday() - _WEEKDAYS.index(m.group(1))) % 7 or 7
        d0 = t0 - back * day
        return TimeHint(d0, d0 + day, recent, first)
    m = re.search(r"\b(last|past|previous|this) (week|month|year)\b", q)
    if m:
        span = _UNIT[m.group(2)] * day
        if m.group(1) == "this":
            return TimeHint(now - span, now + 1, recent, first)
        if m.group(1) == "past":
            return TimeHint(now - span, now + 1, recent, first)
        return TimeHint(now - 2 * span, now - 0.0 * span + 1, recent, first)
    m = re.search(r"\b(in|during|since|last|early|late|mid) (" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b(?: (\d{4}))?", q)
    if m and not (m.group(2) == "may" and m.group(1) == "in" and not m.group(3)) or (m and m.group(3)):
        month = _MONTHS[m.group(2)]
        year = int(m.group(3)) if m.group(3) else today.year
        if not m.group(3) and month > today.month:
            year -= 1  # "in March" asked in January means last March
        start = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc)
        end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.timezone.utc)
        if m.group(1) == "since":
            return TimeHint(start.timestamp(), now + 1, recent, first)
        return TimeHint(start.timestamp(), end.timestamp(), recent, first)
    m = re.search(r"\b(since |before |after )?(?:on |at |over )?(" + "|".join(_HOLIDAYS) + r")(?: (?:eve|day))?(?: (\d{4}))?\b", q)
    if m:
        month, dnum = _HOLIDAYS[m.group(2)]
        year = int(m.group(3)) if m.group(3) else today.year
        d = dt.datetime(year, month, dnum, tzinfo=dt.timezone.utc)
        if not m.group(3) and d.timestamp() > now:
            d = d.replace(year=year - 1)
        if m.group(1) == "since " or m.group(1) == "after ":
            return TimeHint(d.timestamp() - 2 * day, now + 1, recent, first)
        if m.group(1) == "before ":
            return TimeHint(d.timestamp() - 30 * day, d.timestamp() + day, recent, first)
        return TimeHint(d.timestamp() - 7 * day, d.timestamp() + 7 * day, recent, first)
    month_re = "|".join(sorted(_MONTHS, key=len, reverse=True))
    m = (re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?(?: of)? (" + month_re + r")\b,?(?: (\d{4}))?", q)
         or re.search(r"\b(" + month_re + r") (\d{1,2})(?:st|nd|rd|th)?\b,?(?: (\d{4}))?", q))
    if m:
        a, b, y = m.group(1), m.group(2), m.group(3)
        dnum, mname = (int(a), b) if a.isdigit() else (int(b), a)
        year = int(y) if y else today.year
        try:
            d = dt.datetime(year, _MONTHS[mname], dnum, tzinfo=dt.timezone.utc)
            if not y and d.timestamp() > now:
                d = d.replace(year=year - 1)
            return TimeHint(d.timestamp() - 2 * day, d.timestamp() + 3 * day, recent, first)
        except ValueError:
            pass
    m = re.search(r"\b(spring|summer|autumn|fall|winter)(?: (?:of )?(\d{4}))?\b", q)
    if m and (m.group(2) or re.search(r"\b(in|during|last|this|over) (the )?" + m.group(1), q)):
        first_month = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}[m.group(1)]
        year = int(m.group(2)) if m.group(2) else today.year
        start = dt.datetime(year, first_month, 1, tzinfo=dt.timezone.utc)
        if not m.group(2) and start.timestamp() > now:
            start = start.replace(year=year - 1)
        end_m = first_month + 3
        end = dt.datetime(start.year + (end_m > 12), (end_m - 1) % 12 + 1, 1, tzinfo=dt.timezone.utc)
        return TimeHint(start.timestamp(), end.timestamp(), recent, first)
    m = re.search(r"\b(?:in|during|since|back in) (\d{4})\b", q)
    if m and 1990 <= int(m.group(1)) <= today.year + 1:
        start = dt.datetime(int(m.group(1)), 1, 1, tzinfo=dt.timezone.utc)
        end = now + 1 if q[m.start():].startswith("since") else dt.datetime(int(m.group(1)) + 1, 1, 1, tzinfo=dt.timezone.utc).timestamp()
        return TimeHint(start.timestamp(), end, recent, first)
    m = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", q)
    if m:
        try:
            d = dt.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=dt.timezone.utc)
            return TimeHint(d.timestamp() - day, d.timestamp() + 2 * day, recent, first)
        except ValueError:
            pass
    return TimeHint(None, None, recent, first)
