"""Compile the care content (cards, medicines, classes, conditions, conflicts) into the bundle.

The sources are hand-written TOML under ``export/data/care/`` (reviewed like code). The bundle
gets one JSON file of each, so the device parses no TOML and every file is hashed and signed
with the rest of the bundle. Checks here refuse a build whose content is inconsistent: duplicate
card ids, a drug a card names that the medicine table does not know.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Callable

from edgemem.errors import EdgememError

CARE = Path(__file__).resolve().parent / "data" / "care"
TABLES = {"medicines": "medicine", "classes": "class", "conditions": "condition", "conflicts": "conflict"}


def load_cards(folder: Path = CARE) -> list[dict[str, Any]]:
    cards: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted((folder / "cards").glob("*.toml")):
        for card in tomllib.loads(path.read_text(encoding="utf-8")).get("card", []):
            cid = str(card.get("id", ""))
            if not cid or cid in seen:
                raise EdgememError(f"{path.name}: card id {cid!r} is empty or duplicated")
            seen.add(cid)
            cards.append(card)
    return cards


def load_table(name: str, folder: Path = CARE) -> list[dict[str, Any]]:
    path = folder / f"{name}.toml"
    if not path.is_file():
        return []
    return list(tomllib.loads(path.read_text(encoding="utf-8")).get(TABLES[name], []))


def compile_content(dest: Path, say: Callable[[str], None] = lambda s: None,
                    folder: Path = CARE) -> dict[str, Any] | None:
    """Write ``dest/{cards,medicines,classes,conditions,conflicts}.json``; the manifest entry."""
    cards = load_cards(folder)
    if not cards:
        say("warning: no care cards under export/data/care/cards; the bundle carries none")
        return None
    dest.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {"cards": len(cards)}
    payloads: dict[str, Any] = {"cards": cards}
    for name in TABLES:
        payloads[name] = load_table(name, folder)
        counts[name] = len(payloads[name])
    for name, rows in payloads.items():
        (dest / f"{name}.json").write_text(json.dumps(rows, ensure_ascii=False, sort_keys=True) + "\n",
                                           encoding="utf-8")
    digest = hashlib.sha256(b"".join((dest / f"{n}.json").read_bytes() for n in sorted(payloads))).hexdigest()
    say(f"care content: {counts}")
    return {"counts": counts, "sha256": digest}
