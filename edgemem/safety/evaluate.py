"""Measure the detector on a labelled JSONL set: recall and false positives per kind, and latency.

One row a line: ``{"text", "label": "emergency"|"urgent"|"not", "category", "context"?}`` (the
labels ``redflag``/``ok`` of earlier sets are read as ``emergency``/``not``). An emergency counts
as caught only when the detector gives the *emergency* tier; an urgent flag on a look-alike is not
a false alarm (it shows a banner, not the emergency screen), so it is counted apart.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..errors import InputError

_LABELS = {"emergency": "emergency", "redflag": "emergency", "urgent": "urgent", "not": "not", "ok": "not"}


@dataclass
class Row:
    text: str
    label: str
    category: str
    context: list[str] = field(default_factory=list)


def read_rows(paths: Iterable[str | Path]) -> list[Row]:
    """Rows of one or more JSONL files; a one-line ``InputError`` for anything malformed."""
    rows: list[Row] = []
    for path in paths:
        p = Path(path)
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise InputError(f"no such file: {p}") from None
        except UnicodeDecodeError:
            raise InputError(f"{p} is not UTF-8 text") from None
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text, label = obj["text"], _LABELS[obj["label"]]
                if not isinstance(text, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise InputError(f"{p}:{n}: expected a JSON object with a text and a label "
                                 "(emergency, urgent or not)") from None
            ctx = obj.get("context") or []
            rows.append(Row(text=text, label=label, category=str(obj.get("category") or "?"),
                            context=[str(c) for c in ctx] if isinstance(ctx, list) else []))
    return rows


def evaluate(rows: Sequence[Row], detect: Callable[[Row], Any]) -> dict[str, Any]:
    """Run ``detect`` (a Row -> Flag | None) on every row; figures overall and per kind."""
    per: dict[str, dict[str, int]] = {}
    times: list[float] = []
    missed: list[dict[str, str]] = []
    alarms: list[dict[str, str]] = []
    tp = fn = fp = tn = urgent_on_not = 0
    for row in rows:
        t0 = time.perf_counter()
        flag = detect(row)
        times.append(time.perf_counter() - t0)
        tier = getattr(flag, "tier", None) if flag is not None else None
        k = per.setdefault(row.category, {"emergencies": 0, "caught": 0, "look_alikes": 0, "false_alarms": 0})
        if row.label == "emergency":
            k["emergencies"] += 1
            if tier == "emergency":
                tp += 1
                k["caught"] += 1
            else:
                fn += 1
                missed.append({"text": row.text, "category": row.category})
        elif row.label == "not":
            k["look_alikes"] += 1
            if tier == "emergency":
                fp += 1
                k["false_alarms"] += 1
                alarms.append({"text": row.text, "category": row.category,
                               "as": getattr(flag, "category", "?"), "stage": getattr(flag, "stage", "?")})
            else:
                tn += 1
                urgent_on_not += tier == "urgent"
    times.sort()

    def pct(q: float) -> float:
        return round(times[min(len(times) - 1, int(q * len(times)))] * 1000, 3) if times else 0.0

    kinds = {}
    for name, k in sorted(per.items()):
        kinds[name] = {**k, "recall": round(k["caught"] / k["emergencies"], 4) if k["emergencies"] else None,
                       "false_positive_rate": round(k["false_alarms"] / k["look_alikes"], 4)
                       if k["look_alikes"] else None}
    return {
        "emergencies": tp + fn, "look_alikes": fp + tn,
        "recall": round(tp / max(1, tp + fn), 4), "false_positive_rate": round(fp / max(1, fp + tn), 4),
        "urgent_on_look_alikes": urgent_on_not,
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
        "kinds": kinds, "missed": missed, "false_alarms": alarms,
    }
