"""edgemem's dialogue JSONL, the MaLP importer, and the fixed held-out split.

One conversation per line::

    {"id": "malp-0007", "patient": "malp-0007" | null,
     "preference": "concise" | "detailed" | "polite" | null,
     "messages": [{"role": "system" | "user" | "assistant", "content": "..."}, ...]}

The held-out split is a function of a conversation's *messages* (sha256 of their canonical JSON),
not of its position or id: the same conversation is held out in every file, every run, on every
machine, and renaming or reordering a file cannot leak it into training. ``train`` drops held-out
conversations whatever file they arrive in; the quality gate and the LoRA evaluation use them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from edgemem.errors import InputError

ROLES = ("system", "user", "assistant")
PREFERENCES = ("concise", "detailed", "polite")
HELDOUT_PERCENT = 10


@dataclass
class Dialogue:
    id: str
    messages: list[dict[str, str]]
    patient: str | None = None
    preference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # not written; importer bookkeeping

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "patient": self.patient, "preference": self.preference,
                "messages": [{"role": m["role"], "content": m["content"]} for m in self.messages]}

    @property
    def heldout(self) -> bool:
        return is_heldout(self.messages)


def content_hash(messages: Iterable[dict[str, str]]) -> str:
    body = [[m["role"], m["content"]] for m in messages]
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


def is_heldout(messages: Iterable[dict[str, str]], percent: int = HELDOUT_PERCENT) -> bool:
    """True for the fixed ~``percent``% of conversations that are never trained on."""
    return int(content_hash(messages)[:8], 16) % 100 < percent


def _validate(obj: Any, where: str) -> Dialogue:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object")
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise InputError(f"{where}: 'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise InputError(f"{where}: message {i} needs role in {ROLES} and string content")
        out.append({"role": m["role"], "content": m["content"]})
    if not any(m["role"] == "assistant" for m in out):
        raise InputError(f"{where}: no assistant message to learn from")
    pref = obj.get("preference")
    if pref is not None and pref not in PREFERENCES:
        raise InputError(f"{where}: preference must be one of {PREFERENCES} or null, got {pref!r}")
    patient = obj.get("patient")
    if patient is not None and not isinstance(patient, str):
        raise InputError(f"{where}: patient must be a string or null")
    did = obj.get("id")
    if not isinstance(did, str) or not did:
        did = content_hash(out)[:12]
    return Dialogue(id=did, messages=out, patient=patient, preference=pref)


def read_jsonl(path: str | os.PathLike[str], *, allow_empty: bool = False) -> list[Dialogue]:
    """Read and validate a dialogue file; errors name the file and line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"dialogue file not found: {p}") from None
    except UnicodeDecodeError:
        raise InputError(f"{p} is not UTF-8 text") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{p}:{n}: not valid JSON ({e.msg})") from None
        out.append(_validate(obj, f"{p}:{n}"))
    if not out and not allow_empty:
        raise InputError(f"{p} holds no dialogues")
    return out


def write_jsonl(dialogues: Iterable[Dialogue], path: str | os.PathLike[str]) -> int:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(p, "w", encoding="utf-8") as f:
        for d in dialogues:
            f.write(json.dumps(d.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n


def split(dialogues: Iterable[Dialogue]) -> tuple[list[Dialogue], list[Dialogue]]:
    """(train, heldout) by the fixed content hash."""
    train, held = [], []
    for d in dialogues:
        (held if d.heldout else train).append(d)
    return train, held


# ---------------------------------------------------------------- MaLP importer

_PREFIX = re.compile(r"^\s*[\"'“”]*\s*(doctor|patient|assistant|user|ai|bot|human)\s*:\s*", re.I)
_BROKEN = re.compile(r"\bas an ai\b|\blanguage model\b|\bi am an ai\b|\bi'm an ai\b|\bas a chatbot\b", re.I)
_QUOTES = "\"'“”"


def clean_turn(text: str) -> str:
    """Strip role prefixes ("Doctor: ", "Patient: ", possibly inside quotes), stray wrapping
    quotes and runs of whitespace."""
    t = text.strip()
    for _ in range(3):  # prefixes and quotes nest: '"Patient: "I have..."'
        before = t
        t = _PREFIX.sub("", t).strip()
        if len(t) >= 2 and t[0] in _QUOTES and t[-1] in _QUOTES:
            t = t[1:-1].strip()
        elif t.count('"') == 1 and (t.startswith('"') or t.endswith('"')):
            t = t.strip('"').strip()
        if t == before:
            break
    return re.sub(r"[ \t]+", " ", t).strip()


def breaks_character(text: str) -> bool:
    return bool(_BROKEN.search(text))


def malp_dialogue(index: int, rounds: list[dict[str, Any]], system_prompt: str | None = None) -> Dialogue | None:
    """One MaLP dialogue -> a Dialogue, or None if nothing usable is left.

    MaLP's rounds are ``{"k": {"Assistant": ..., "User": ...}}``: the assistant speaks first in
    round 0 (a greeting) and then answers the user's previous line. The conversation is cut at the
    first turn that breaks character, and a trailing user turn with no answer is dropped.
    """
    turns: list[dict[str, str]] = []
    ordered = sorted(((int(k), v) for r in rounds for k, v in r.items()), key=lambda kv: kv[0])
    for _, r in ordered:
        for role, key in (("assistant", "Assistant"), ("user", "User")):
            raw = r.get(key)
            if not isinstance(raw, str):
                break
            text = clean_turn(raw)
            if not text or breaks_character(text):
                break
            turns.append({"role": role, "content": text})
        else:
            continue
        break
    while turns and turns[-1]["role"] != "assistant":
        turns.pop()
    if sum(1 for t in turns if t["role"] == "user") < 1:
        return None
    msgs = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + turns
    did = f"malp-{index:04d}"
    return Dialogue(id=did, patient=did, preference=None, messages=msgs)


def import_malp(src: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                system_prompt: str | None = None) -> dict[str, Any]:
    """Convert ``dialogues.json`` of the MaLP release into ``train.jsonl`` + ``heldout.jsonl``.

    ``src`` is the release folder or the ``dialogues.json`` file. Returns counts.
    """
    s = Path(src)
    f = s / "dialogues.json" if s.is_dir() else s
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no MaLP dialogues.json at {f}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{f} is not valid JSON ({e})") from None
    if not isinstance(data, list) or not data:
        raise InputError(f"{f}: expected a non-empty list of dialogues")
    kept: list[Dialogue] = []
    dropped = 0
    for i, rounds in enumerate(data):
        if not isinstance(rounds, list):
            raise InputError(f"{f}: dialogue {i} is not a list of rounds")
        d = malp_dialogue(i, rounds, system_prompt)
        if d is None:
            dropped += 1
        else:
            kept.append(d)
    train, held = split(kept)
    out = Path(out_dir)
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(held, out / "heldout.jsonl")
    return {"source": str(f), "dialogues": len(data), "kept": len(kept), "dropped": dropped,
            "train": len(train), "heldout": len(held),
            "turns": sum(len(d.messages) for d in kept), "out": str(out)}


def iter_texts(dialogues: Iterable[Dialogue]) -> Iterator[list[dict[str, str]]]:
    for d in dialogues:
        yield d.messages
