"""This process's resident memory, and the firmware profile's RSS budget as a contract.

Why a module of its own: a Pi Zero 2 W has 512 MB for the OS and the whole assistant, so the
profile's ``rss_budget_mb`` is a promise the server must be able to check about itself, not a
number in a TOML file. ``/proc/self/status`` gives the figures the kernel keeps (``VmHWM`` is the
peak resident set, never reset), read in ~20 µs, so the server can look after every reply.
Stdlib only: the engine's benchmark children and the server share it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("edgemem.rss")

STATUS = "/proc/self/status"
# Warn again only when the peak has grown this much past the last warning (one line, not a flood).
REWARN_MB = 10.0


def status_mb(path: str = STATUS) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile of a process in MB ({} where /proc is not readable)."""
    out: dict[str, float] = {}
    try:
        with open(path) as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return {}
    return out


def peak_rss_mb(path: str = STATUS) -> float:
    """The peak resident set (VmHWM) in MB. Not ``ru_maxrss``: Linux carries that across
    ``execve``, so a child started by a big parent would report the parent's peak."""
    found = status_mb(path).get("VmHWM")
    if found is not None:
        return found
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb(path: str = STATUS) -> float:
    """The current resident set (VmRSS) in MB (0.0 where unknown)."""
    return status_mb(path).get("VmRSS", 0.0)


@dataclass
class BudgetCheck:
    """What ``RssBudget.check`` found; ``to_dict`` is the ``rss`` block of ``/readyz``."""

    current_mb: float
    peak_mb: float
    budget_mb: int | None
    over_budget: bool
    warned: bool  # this check wrote a warning

    def to_dict(self) -> dict[str, Any]:
        return {"current_mb": round(self.current_mb, 1), "peak_mb": round(self.peak_mb, 1),
                "budget_mb": self.budget_mb, "over_budget": self.over_budget}


class RssBudget:
    """Compares this process's peak RSS with a budget and warns in the log when it is exceeded.

    One warning when the peak first passes the budget, another only each time it grows by
    ``REWARN_MB`` more: a server that keeps growing says so, one that sits just over does not
    fill the log. Thread-safe (the generation thread and the event loop both check).
    """

    def __init__(self, budget_mb: int | None, *, name: str = "", status_path: str = STATUS) -> None:
        self.budget_mb = budget_mb
        self.name = name
        self.status_path = status_path
        self._warned_at: float | None = None
        self._lock = threading.Lock()

    def check(self, where: str = "") -> BudgetCheck:
        s = status_mb(self.status_path)
        peak, current = s.get("VmHWM", 0.0), s.get("VmRSS", 0.0)
        over = self.budget_mb is not None and peak > self.budget_mb
        warned = False
        if over:
            with self._lock:
                if self._warned_at is None or peak >= self._warned_at + REWARN_MB:
                    self._warned_at = peak
                    warned = True
            if warned:
                log.warning("peak RSS %.1f MB exceeds the %s profile's rss_budget_mb = %d%s "
                            "(benchmarks/serve_memory.py gives the breakdown)", peak, self.name or "current",
                            self.budget_mb, f" ({where})" if where else "")
        return BudgetCheck(current, peak, self.budget_mb, over, warned)
