"""Numbers that carry an emergency: a baby's age with a temperature, a blood sugar, oxygen, pills.

Word rules miss "she is 6 weeks and 38.4" and "sugar is 2.1": nothing in them is an alarming word.
These readers pull the number, its unit and what it measures out of the message (and the session's
last few patient turns, where a baby's age is often said first), convert units, and compare with
the thresholds of public guidance:

* fever in a baby: under 3 months and 38 °C / 100.4 °F or more is an emergency, 3-6 months and
  39 °C / 102.2 °F or more is urgent (NICE NG143, the "traffic light" table);
* blood glucose: under 3.0 mmol/L (54 mg/dL) is a severe low, and under 4.0 (72) with confusion,
  drowsiness or shaking is one a person may not treat alone; over 20 mmol/L (360 mg/dL) with
  vomiting, ketones, deep breathing or drowsiness is a possible DKA (NHS: hypoglycaemia, DKA);
* oxygen saturation of 92 % or less (NHS pulse-oximetry advice);
* a number of pills taken (8 or more, "all of them", "the whole packet", "a handful");
* pregnancy weeks with headache, vision changes, swelling or bleeding (NHS: pre-eclampsia).

Numbers are ambiguous without units, so each reader needs its measuring word nearby ("temp",
"sugar", "sats", "tablets") and a plausible range; a reading outside it is ignored, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .normalize import fold


@dataclass(frozen=True)
class NumberHit:
    """An emergency or urgent sign read from a number."""

    category: str
    tier: str  # "emergency" | "urgent"
    evidence: str


_NUM = r"(\d{1,3}(?:[.,]\d{1,2})?)"
_AGE = re.compile(r"\b(\d{1,2}|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[\s-]*"
                  r"(days?|d|weeks?|wks?|wk|w|months?|mths?|mo|mos|m)[\s-]*old\b|"
                  r"\b(?:is|he's|she's|hes|shes|only|just|baby|son|daughter|newborn|aged?)\s+"
                  r"(\d{1,2}|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*"
                  r"(days?|weeks?|wks?|months?|mths?)\b(?!\s*(?:ago|pregnant|gone|along))")
_NEWBORN = re.compile(r"\b(?:newborn|new born|neonate|just born|born (?:yesterday|last week|on))\b")
_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_TEMP = re.compile(r"\b(?:temp(?:erature)?|fever|thermometer|reading|read|burning up|hot|degrees|°)"
                   r"[^0-9]{0,25}" + _NUM + r"\s*(°\s*[cf]|degrees?\s*[cf]?|[cf]\b)?|"
                   + _NUM + r"\s*(°\s*[cf]|degrees?\s*[cf]?|[cf]\b)")
_GLUCOSE_WORD = re.compile(r"\b(?:sugars?|glucose|bg|bm|bgl|bs|blood sugar|reading|meter|cgm|libre|dexcom)\b")
_GLUCOSE = re.compile(_NUM + r"\s*(mmol(?:/l)?|mg/?dl|mg)?")
_GLUCOSE_HI = re.compile(r"\b(?:says|reads|reading|showing|shows|meter)\s+(?:hi|high)\b")
_LOW_SIGNS = re.compile(r"\b(?:confus\w*|drows\w*|shak\w*|trembl\w*|sweat\w*|clammy|not making sense|"
                        r"slurr\w*|will not wake|won'?t wake|cannot wake|can'?t wake|passing out|passed out|"
                        r"fainting|aggressive|acting (?:drunk|strange|weird)|cannot swallow|can'?t swallow|"
                        r"unresponsive|fit|seizure|dizzy)\b")
_HIGH_SIGNS = re.compile(r"\b(?:vomit\w*|throwing up|being sick|ketones?|fruity|pear drops|deep breath\w*|"
                         r"breathing (?:fast|deep|heavy)|drows\w*|confus\w*|very thirsty|will not wake|"
                         r"cannot wake|can'?t wake|tummy pain|stomach pain|belly pain)\b")
_SATS = re.compile(r"\b(?:sats|saturation|spo2|sp02|o2|oxygen(?: level| levels| sat| sats)?|pulse ox\w*|oximeter)"
                   r"[^0-9]{0,20}(\d{2,3})\s*%?")
_PILL = (r"(?:pills?|tablets?|tabs|capsules?|caps|meds|paracetamol|acetaminophen|tylenol|ibuprofen|"
         r"aspirin|sleeping pills?|painkillers?|co-?codamol|codeine|antidepressants?|sertraline|"
         r"citalopram|amitriptyline|diazepam|valium|xanax|insulin|iron|vitamins?|gummies|melatonin)")
_TOOK = r"(?:took|taken|take|swallowed|swallow|had|ate|eaten|downed|necked|popped|chewed|has taken|have taken)"
_PILL_COUNT = re.compile(r"\b" + _TOOK + r"\s+(?:\w+\s+){0,3}?(\d{1,3})\s+(?:\w+\s+){0,3}?" + _PILL + r"\b|"
                         r"\b(\d{1,3})\s+(?:of\s+)?(?:\w+\s+){0,2}?" + _PILL + r"\b")
_PILL_ALL = re.compile(r"\b" + _TOOK + r"\s+(?:\w+\s+){0,3}?(?:all (?:of )?(?:the|her|his|my|their|them)|all of them|"
                       r"the (?:whole|entire|full) (?:packet|pack|box|bottle|strip|blister|tub|jar)|"
                       r"a (?:whole|full|entire) (?:packet|pack|box|bottle|strip)|a handful|handfuls|loads of|"
                       r"a bunch of|a lot of|lots of|too many|a load of|double|triple)"
                       r"(?:\s+\w+){0,3}\s*(?:" + _PILL + r"|them|packet|pack|box|bottle|strip)?\b")
_PREG_WEEKS = re.compile(r"\b(\d{1,2})\s*(?:weeks?|wks?|w)\b\s*(?:pregnant|gone|along|preg)?|\b(?:pregnant|preg)\b")
_PREG_SIGNS = re.compile(r"\b(?:headache|head is pounding|head pounding|blurr\w*|vision|seeing (?:spots|stars|flashing)|"
                         r"flashing lights|swollen (?:face|hands|fingers)|face (?:is )?swollen|puffy face|"
                         r"pain under (?:my|her) ribs)\b")


def _f(x: str) -> float:
    return float(x.replace(",", "."))


def _age_months(text: str) -> float | None:
    """The youngest age in the text, in months, if one is given for a baby or child."""
    if _NEWBORN.search(text):
        return 0.0
    best: float | None = None
    for m in _AGE.finditer(text):
        n_s, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if n_s is None or unit is None:
            continue
        n = _WORDS.get(n_s, None) if not n_s.isdigit() else int(n_s)
        if n is None:
            continue
        u = unit[0]
        if u == "d":
            months = n / 30.0
        elif u == "w":
            months = n / 4.35
        else:
            months = float(n)
        best = months if best is None else min(best, months)
    return best


def _temperature_c(text: str) -> float | None:
    """The highest plausible body temperature in the text, in °C."""
    best: float | None = None
    for m in _TEMP.finditer(text):
        num, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if num is None:
            continue
        v = _f(num)
        u = (unit or "").replace("°", "").replace("degrees", "").replace("degree", "").strip()
        if u == "f" or (not u and 95 <= v <= 110):
            c = (v - 32) * 5 / 9
        elif u == "c" or (not u and 34 <= v <= 43):
            c = v
        elif not u and m.group(3) is not None:
            continue  # a bare number with "degrees" but outside both ranges
        else:
            c = v if 34 <= v <= 43 else (v - 32) * 5 / 9
        if 34 <= c <= 44:
            best = c if best is None else max(best, c)
    return best


def _glucose(text: str) -> list[tuple[float, str]]:
    """(mmol/L, evidence) for numbers said as blood glucose readings."""
    out: list[tuple[float, str]] = []
    for w in _GLUCOSE_WORD.finditer(text):
        window = text[w.end(): w.end() + 30]
        m = _GLUCOSE.search(window)
        if m is None or not re.match(r"^[^0-9]{0,20}$", window[:m.start()]):
            continue
        v, unit = _f(m.group(1)), (m.group(2) or "")
        if unit.startswith("mg") or (not unit and v >= 40):
            mmol = v / 18.0
        else:
            mmol = v
        if 0.5 <= mmol <= 40:
            out.append((mmol, text[w.start(): w.end() + m.end()]))
    return out


def read(text: str, context: Sequence[str] = ()) -> list[NumberHit]:
    """Every number-borne sign in ``text``; ``context`` (earlier patient turns) may give the age
    or the pregnancy, never the measurement itself (that must be new in this message)."""
    t = fold(text)
    ctx = fold(" . ".join(context[-3:])) if context else ""
    hits: list[NumberHit] = []
    temp = _temperature_c(t)
    if temp is not None:
        age = _age_months(t)
        if age is None and ctx:
            age = _age_months(ctx)
        if age is not None and age < 3 and temp >= 38.0:
            hits.append(NumberHit("infant_child", "emergency", f"age {age:.1f} months, {temp:.1f} C"))
        elif age is not None and age < 6 and temp >= 39.0:
            hits.append(NumberHit("infant_child", "urgent", f"age {age:.1f} months, {temp:.1f} C"))
        elif temp >= 41.0:
            hits.append(NumberHit("sepsis_meningitis", "emergency", f"{temp:.1f} C"))
    for mmol, ev in _glucose(t):
        if mmol < 3.0 or (mmol < 4.0 and _LOW_SIGNS.search(t)):
            hits.append(NumberHit("diabetic", "emergency", f"glucose {mmol:.1f} mmol/L: {ev}"))
        elif mmol >= 20.0 and _HIGH_SIGNS.search(t):
            hits.append(NumberHit("diabetic", "emergency", f"glucose {mmol:.1f} mmol/L: {ev}"))
        elif mmol < 4.0 or mmol >= 20.0:
            hits.append(NumberHit("diabetic", "urgent", f"glucose {mmol:.1f} mmol/L: {ev}"))
    if _GLUCOSE_HI.search(t) and _HIGH_SIGNS.search(t) and _GLUCOSE_WORD.search(t):
        hits.append(NumberHit("diabetic", "emergency", "meter reads HI"))
    for m in _SATS.finditer(t):
        v = int(m.group(1))
        if 50 <= v <= 92:
            hits.append(NumberHit("breathing", "emergency", f"oxygen {v}%"))
        elif v in (93, 94):
            hits.append(NumberHit("breathing", "urgent", f"oxygen {v}%"))
    for m in _PILL_COUNT.finditer(t):
        n = int(m.group(1) or m.group(2))
        verb = m.group(1) is not None or re.search(r"\b" + _TOOK + r"\b", t[max(0, m.start() - 40): m.start()])
        if 8 <= n <= 500 and verb and not re.search(r"\b(?:mg|ml|mcg|days?|weeks?|years?)\b", m.group(0)):
            hits.append(NumberHit("overdose", "emergency", m.group(0)))
    m_all = _PILL_ALL.search(t)
    if m_all and re.search(_PILL + r"|\b(?:packet|pack|box|bottle|strip)\b", t):
        hits.append(NumberHit("overdose", "emergency", m_all.group(0)))
    preg = _PREG_WEEKS.search(t) or (_PREG_WEEKS.search(ctx) if ctx else None)
    if preg and preg.group(1) and re.search(r"\bpregnan|\bweeks?\b.*\b(?:pregnant|gone|along)\b|\bexpecting\b",
                                         t + " " + ctx):
        weeks = int(preg.group(1))
        signs = {s.group(0) for s in _PREG_SIGNS.finditer(t)}
        head = any(s.startswith("head") for s in signs)
        other = signs - {"bleeding", "blood", "waters"} - {s for s in signs if s.startswith("head")}
        if 20 <= weeks <= 42 and head and other:
            hits.append(NumberHit("pregnancy", "emergency", f"{weeks} weeks: " + ", ".join(sorted(signs))))
        elif 20 <= weeks <= 42 and (head or other):
            hits.append(NumberHit("pregnancy", "urgent", f"{weeks} weeks: " + ", ".join(sorted(signs))))
    return hits
