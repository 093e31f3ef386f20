"""Read the MaLP release (dialogues and profiles), clean it, and split off the held-out part.

The evaluation must only ever see dialogues that LoRA training never saw, or the ablation would
measure memorisation. The toolchain owns that split: ``export.dialogues`` holds a MaLP dialogue
out when the sha256 of its cleaned messages falls in a fixed 10% (``malp_dialogue(i).heldout``),
and ``edgemem-export train`` drops those whatever file they arrive in. We ask it, dialogue by
dialogue, so the two can never disagree. Profiles are not trained on by the toolchain; the
evaluation still draws only from a fixed 10% of them (sha256("malp/profile/<index>")[0] < 26) so
that a later trainer that does use profiles has a rule to respect.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("EDGEMEM_MALP_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "malp"))
HELDOUT_FRACTION = 0.10
PREFERENCES = ("concise", "detailed", "polite")

_PREFIX = re.compile(r"^\s*(?:doctor|patient|assistant|user)\s*:\s*", re.I)
_BROKEN = re.compile(r"as an ai|language model|i am an ai|i'm an ai", re.I)


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    text: str


@dataclass(frozen=True)
class Profile:
    index: int
    personal_information: str
    symptoms: str
    preference: str  # one of PREFERENCES


def clean_text(text: str) -> str:
    """Strip the role prefixes and stray quotes the simulated chats left in their turns."""
    t = text.strip()
    for _ in range(2):
        t = t.strip().strip('"').strip("'").strip()
        t = _PREFIX.sub("", t)
    return " ".join(t.split())


def is_heldout(kind: str, index: int) -> bool:
    """The index rule for profiles: held out iff sha256("malp/<kind>/<index>")[0] < 0.1 * 256."""
    return hashlib.sha256(f"malp/{kind}/{index}".encode()).digest()[0] < int(HELDOUT_FRACTION * 256)


def heldout_dialogue_indices(folder: Path = DEFAULT_DIR) -> set[int]:
    """Indices of the dialogues the toolchain holds out (``export.dialogues``, the one rule)."""
    from export.dialogues import malp_dialogue

    raw = json.loads((Path(folder) / "dialogues.json").read_text(encoding="utf-8"))
    out = set()
    for i, rounds in enumerate(raw):
        d = malp_dialogue(i, rounds)
        if d is not None and d.heldout:
            out.add(i)
    return out


def normalize_preference(raw: str) -> str | None:
    """Map the release's preference strings (and their free-text variants) to three labels."""
    r = (raw or "").lower()
    hits = [p for p, keys in (("concise", ("concise", "brief", "short")),
                              ("detailed", ("detail",)),
                              ("polite", ("polite",))) if any(k in r for k in keys)]
    return hits[0] if len(hits) == 1 else None


def load_dialogues(folder: Path = DEFAULT_DIR) -> list[list[Turn]]:
    """All 555 dialogues as alternating turns (the doctor greets first), cleaned.

    A turn in which the simulated patient breaks character ("as an AI language model") is dropped
    together with the rest of that dialogue, so the chat stays coherent up to that point.
    """
    raw = json.loads((Path(folder) / "dialogues.json").read_text(encoding="utf-8"))
    out: list[list[Turn]] = []
    for dialogue in raw:
        turns: list[Turn] = []
        for rnd in dialogue:
            (_, pair), = rnd.items()
            a, u = clean_text(pair.get("Assistant", "")), clean_text(pair.get("User", ""))
            if _BROKEN.search(a) or _BROKEN.search(u):
                break
            if a:
                turns.append(Turn("assistant", a))
            if u:
                turns.append(Turn("user", u))
        out.append(turns)
    return out


def load_profiles(folder: Path = DEFAULT_DIR) -> list[Profile | None]:
    """All 2,800 profiles by index; None where the string is not JSON or lacks a usable preference."""
    raw = json.loads((Path(folder) / "profiles.json").read_text(encoding="utf-8"))
    out: list[Profile | None] = []
    for i, s in enumerate(raw):
        try:
            obj = json.loads(s)
        except (json.JSONDecodeError, TypeError):
            out.append(None)
            continue
        if isinstance(obj, list) and obj and isinstance(obj[0], dict):
            obj = obj[0]
        if not isinstance(obj, dict):
            out.append(None)
            continue
        pref = normalize_preference(str(obj.get("dialogue_preference") or ""))
        pi = clean_text(str(obj.get("personal_information") or ""))
        sy = clean_text(str(obj.get("symptoms") or ""))
        out.append(Profile(i, pi, sy, pref) if pref and (pi or sy) else None)
    return out


def heldout_dialogues(folder: Path = DEFAULT_DIR, min_turns: int = 6) -> list[tuple[int, list[Turn]]]:
    held = heldout_dialogue_indices(folder)
    return [(i, d) for i, d in enumerate(load_dialogues(folder)) if i in held and len(d) >= min_turns]


def heldout_profiles(folder: Path = DEFAULT_DIR) -> list[Profile]:
    return [p for p in load_profiles(folder) if p is not None and is_heldout("profile", p.index)]
