"""Personalization ablation in the MaLP paper's setting, on the device's own parts.

For held-out MaLP patients (profiles not used by ``benchmarks.data.build_longchat``'s patients
either): **session 1** — the patient tells their symptoms and who they are (the profile's
``symptoms`` and ``personal_information``) and, in the *explicit* variant, their answer-style
preference in words the memory's detector has never been tuned on (the MaLP profile's own
"I prefer concise answer" phrasing, or one of the held-out paraphrases below); the session ends
(rehearsal, consolidation, summary, preference). **Restart**: a new ``MemoryService`` on the same
home. **Session 2** asks the paper's follow-up: "I'm uncomfortable again in terms of my previous
symptoms, can you also give me some advice?".

Four memory conditions build the prompt for that question with the memory's own assembler
(``edgemem.memory.prompt.assemble``, the token budget of the profile):
* ``base``: system prompt + the question, no memory;
* ``short``: + the short-term ring's notes (the persisted STM), no profile style;
* ``long``: + core facts (allergies, medications, conditions), hits of ``search`` from long-term
  tiers (notes, summaries, raw turns), and the stored preference's style instruction;
* ``full``: all of it, as ``MemoryService.build_prompt`` does (DPeM).
Each is answered by every bundle given (``--bundle`` base, ``--adapter-bundle`` with the LoRA
adapter from ``edgemem-export train``), greedy, ``--max-new-tokens``.

Metrics, per condition (and bundle):
* fact recall in prompt: share of the patient's key terms present in the prompt's system messages.
  Key terms: the profile text's words (symptoms + personal information) of >= 4 letters, not stop
  words, the 8 rarest across all MaLP profiles (so "pain" counts less than "Duphaston");
* fact presence in reply: the same share in the generated reply;
* style match: concise = reply of <= 40 words; detailed = >= 60 words; polite = at least one
  politeness marker (please, thank, sorry, glad, hope, appreciate, ...); plus mean words per style;
* preference accuracy (memory only): ``MemoryService.preference(user)`` after session 1 against
  the profile's label, with the explicit statement and without it (style of the turns alone).

Run (memory-side only: no bundle given):  nice -n 10 python -m benchmarks.ablation --json artifacts/bench/ablation.json
With the model:  ... --bundle DIR [--adapter-bundle DIR] [--no-verify]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .data import build_longchat, malp
from .memory_retrievers import STOPWORDS, tokenize

FOLLOW_UP = "I'm uncomfortable again in terms of my previous symptoms, can you also give me some advice?"
SYSTEM_PROMPT = ("You are a careful medical assistant at a clinic kiosk. Use the patient's notes when they "
                 "help, and advise seeing a doctor for anything serious.")
# Held-out phrasings: none of these is in the longchat builder, so a detector tuned on that set
# gets no free points here. The first of each is the MaLP profile's own label, said in words.
PREF_SAID = {
    "concise": ["I prefer concise answer.", "Just tell me the essentials please, nothing long.",
                "I don't have much time, a couple of sentences is enough for me."],
    "detailed": ["I prefer detailed description.", "I want to know all the reasons and every step, please.",
                 "Tell me as much as you can, I like thorough answers."],
    "polite": ["I prefer polite response.", "Please talk to me kindly, I'm nervous about this.",
               "I'd like you to be courteous and considerate with me."],
}
POLITE_MARKERS = re.compile(r"\b(please|thank|thanks|sorry|glad|hope|appreciate|kindly|dear|happy to|"
                            r"understand how|take care|wish you)\b", re.I)
CONDITIONS = ("base", "short", "long", "full")


def key_terms(profile: malp.Profile, df: Counter[str], n_docs: int, n: int = 8) -> list[str]:
    text = f"{profile.symptoms} {profile.personal_information}"
    words = {w for w in tokenize(text) if len(w) >= 4 and w not in STOPWORDS and not w.isdigit()}
    words -= {"insert", "name", "address", "years", "year", "patient", "doctor", "have", "been", "experiencing"}
    return sorted(words, key=lambda w: (df.get(w, 0), w))[:n]


def share(terms: list[str], text: str) -> float:
    if not terms:
        return 0.0
    got = set(tokenize(text))
    return sum(1 for t in terms if t in got) / len(terms)


def style_match(style: str, reply: str) -> float:
    words = len(reply.split())
    if style == "concise":
        return float(words <= 40)
    if style == "detailed":
        return float(words >= 60)
    return float(bool(POLITE_MARKERS.search(reply)))


def pick_patients(n: int, seed: int) -> list[malp.Profile]:
    """Held-out profiles with a symptom story, not used by the longchat set, balanced by style."""
    _, _, meta = build_longchat.build()
    used = set(meta["malp_profiles"])
    pool = [p for p in malp.heldout_profiles() if p.index not in used and len(p.symptoms.split()) >= 5]
    rng = random.Random(seed)
    by_style: dict[str, list[malp.Profile]] = defaultdict(list)
    for p in pool:
        by_style[p.preference].append(p)
    for v in by_style.values():
        rng.shuffle(v)
    out: list[malp.Profile] = []
    while len(out) < n and any(by_style.values()):
        for s in malp.PREFERENCES:
            if by_style[s] and len(out) < n:
                out.append(by_style[s].pop())
    return out


def session_one(svc: Any, user: str, p: malp.Profile, explicit: bool, rng: random.Random) -> None:
    sid = svc.start_session(user, time="2025-03-03T10:00:00Z")
    turns = [("assistant", "Hello, how can I help you today?"),
             ("user", p.symptoms or p.personal_information),
             ("assistant", "I see. Can you tell me a little about yourself?"),
             ("user", p.personal_information or "I'd rather not say much about myself.")]
    if explicit:
        turns += [("assistant", "Thank you. Is there anything about how I should answer you?"),
                  ("user", rng.choice(PREF_SAID[p.preference]))]
    turns += [("assistant", "Thank you, I have noted all of this. Please rest, drink water and come back if it gets worse.")]
    for i, (role, text) in enumerate(turns):
        svc.add_turn(user, sid, role, text, time=f"2025-03-03T10:{i:02d}:00Z")
    svc.end_session(user, sid)


def prompts_for(svc: Any, user: str, budget: int, count_tokens: Any, k: int = 8) -> dict[str, Any]:
    """The four conditions' PromptPlans for the follow-up question."""
    from edgemem.memory.prompt import CORE_KINDS, assemble

    working = [{"role": "user", "text": FOLLOW_UP, "tid": "follow-up"}]
    hits = svc.search(user, FOLLOW_UP, k, now="2025-03-20T10:00:00Z", reinforce=False)
    core = [m for m in svc.list_memories(user, tier="long") if m.get("kind") in CORE_KINDS]
    core.sort(key=lambda m: (CORE_KINDS.index(m["kind"]), -(m.get("updated") or 0)))
    core = core[:12]
    short = [SimpleNamespace(**n) if isinstance(n, dict) else n for n in svc.short_term(user)]
    short = [n for n in reversed(short) if getattr(n, "kind", "other") != "other"][:8]
    style = svc.preference(user)
    parts = {
        "base": dict(style=None, core=[], hits=[], short_notes=[]),
        "short": dict(style=None, core=[], hits=[], short_notes=short),
        "long": dict(style=style, core=core, hits=[h for h in hits if h.tier in ("long", "summary", "turn")],
                     short_notes=[]),
        "full": dict(style=style, core=core, hits=hits, short_notes=short),
    }
    return {c: assemble(system_prompt=SYSTEM_PROMPT, working=working, budget_tokens=budget,
                        count_tokens=count_tokens, **kw) for c, kw in parts.items()}


def load_engine(path: Path, verify: bool, profile: str) -> Any:
    from edgemem.engine import Engine

    if verify:
        return Engine.from_bundle(path, profile=profile)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    return Engine.from_parts(path, manifest["model"], profile=profile)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="MaLP personalization ablation: base / short / long / full memory, +- LoRA.")
    ap.add_argument("--patients", type=int, default=30)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--bundle", type=Path, default=None, help="bundle without adapter (omit: memory-side metrics only)")
    ap.add_argument("--adapter-bundle", type=Path, default=None, help="bundle with the LoRA adapter")
    ap.add_argument("--no-verify", action="store_true", help="load bundles without signature checks (dev bundles)")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--budget", type=int, default=0, help="prompt token budget (default: context - max new tokens)")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--rehearsal-bundle", type=Path, default=None,
                    help="rehearse session 1 with this bundle's model (ChoiceExtractor, as rehearsal = \"llm\" "
                         "profiles do); omit for the rules alone")
    ap.add_argument("--embedder", type=Path, default=None,
                    help="an exported embedder folder for the memory (e.g. the distilled student; default MiniLM)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--samples", type=Path, default=None, help="write every prompt and reply here (JSONL)")
    a = ap.parse_args(argv)

    from edgemem.home import Home
    from edgemem.interfaces import ChatMessage, GenerationConfig
    from edgemem.memory import MemoryService
    from edgemem.privacy.cipher import PlainCodec
    from edgemem.profiles import load as load_profile

    from .memory_embedder import load_embedder

    prof = load_profile(a.profile)
    embedder = load_embedder(a.embedder)
    patients = pick_patients(a.patients, a.seed)
    all_profiles = [p for p in malp.load_profiles() if p is not None]
    df: Counter[str] = Counter()
    for p in all_profiles:
        df.update(set(tokenize(f"{p.symptoms} {p.personal_information}")))
    engines: dict[str, Any] = {}
    for name, path in (("base-model", a.bundle), ("lora", a.adapter_bundle)):
        if path is not None:
            engines[name] = load_engine(path, not a.no_verify, a.profile)
    if engines:
        count_tokens = next(iter(engines.values())).count_tokens
        ctx = min(e.context_length for e in engines.values())
    else:
        count_tokens = lambda s: max(1, math.ceil(len(s) / 4))  # noqa: E731  (no tokenizer: ~4 chars a token)
        ctx = prof.context_length
    budget = a.budget or (ctx - a.max_new_tokens - 16)
    rng = random.Random(a.seed)
    rows: list[dict[str, Any]] = []
    pref_rows: list[dict[str, Any]] = []
    samples = open(a.samples, "w", encoding="utf-8") if a.samples else None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgemem-ablation-") as tmp:
        home = Home(Path(tmp)).ensure()
        svc = MemoryService(home, embedder, PlainCodec(), prof)
        if a.rehearsal_bundle is not None:
            from edgemem.memory.rehearsal_choice import ChoiceExtractor

            svc.extractor = ChoiceExtractor(load_engine(a.rehearsal_bundle, not a.no_verify, a.profile), svc.rules)
        for i, p in enumerate(patients):
            for explicit in (True, False):
                user = f"abl{i:03d}{'e' if explicit else 'i'}"
                session_one(svc, user, p, explicit, rng)
        svc.close()
        svc = MemoryService(home, embedder, PlainCodec(), prof)  # the restart
        for i, p in enumerate(patients):
            terms = key_terms(p, df, len(all_profiles))
            for explicit in (True, False):
                user = f"abl{i:03d}{'e' if explicit else 'i'}"
                pref_rows.append({"label": p.preference, "explicit": explicit, "got": svc.preference(user)})
            user = f"abl{i:03d}e"
            plans = prompts_for(svc, user, budget, count_tokens)
            for cond, plan in plans.items():
                # Every system message: the assembler keeps the stable part (system prompt, style,
                # core facts) apart from the memories retrieved for this turn, so the stable part
                # stays a cached prefix; reading only the first one missed the retrieved memories.
                system = "\n".join(m["content"] for m in plan.messages if m["role"] == "system")
                row = {"patient": i, "style": p.preference, "condition": cond, "terms": terms,
                       "prompt_recall": share(terms, system), "prompt_tokens": plan.tokens}
                for ename, eng in engines.items():
                    msgs = [ChatMessage(m["role"], m["content"]) for m in plan.messages]
                    eng.reset() if hasattr(eng, "reset") else None
                    reply = eng.generate(msgs, GenerationConfig(max_new_tokens=a.max_new_tokens, temperature=0.0))
                    row[f"{ename}:reply_recall"] = share(terms, reply)
                    row[f"{ename}:style_match"] = style_match(p.preference, reply)
                    row[f"{ename}:words"] = len(reply.split())
                    if samples:
                        samples.write(json.dumps({"patient": i, "condition": cond, "engine": ename,
                                                  "style": p.preference, "messages": plan.messages,
                                                  "reply": reply}) + "\n")
                rows.append(row)
            print(f"\r  patient {i + 1}/{len(patients)}", end="", file=sys.stderr, flush=True)
        svc.close()
    print(file=sys.stderr)
    if samples:
        samples.close()

    def mean(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 4) if xs else None

    table: dict[str, dict[str, Any]] = {}
    for cond in CONDITIONS:
        rs = [r for r in rows if r["condition"] == cond]
        t: dict[str, Any] = {"prompt_recall": mean([r["prompt_recall"] for r in rs]),
                             "prompt_tokens": mean([r["prompt_tokens"] for r in rs])}
        for ename in engines:
            t[f"{ename}:reply_recall"] = mean([r[f"{ename}:reply_recall"] for r in rs])
            t[f"{ename}:style_match"] = mean([r[f"{ename}:style_match"] for r in rs])
            for s in malp.PREFERENCES:
                t[f"{ename}:words[{s}]"] = mean([float(r[f"{ename}:words"]) for r in rs if r["style"] == s])
        table[cond] = t
    pref = {
        mode: {"accuracy": mean([float(r["got"] == r["label"]) for r in pref_rows if r["explicit"] == (mode == "explicit")]),
               "undetected": mean([float(r["got"] is None) for r in pref_rows if r["explicit"] == (mode == "explicit")]),
               "n": sum(1 for r in pref_rows if r["explicit"] == (mode == "explicit"))}
        for mode in ("explicit", "implicit")
    }
    out = {"patients": len(patients), "styles": dict(Counter(p.preference for p in patients)),
           "engines": {k: str(v) for k, v in (("base-model", a.bundle), ("lora", a.adapter_bundle)) if v},
           "rehearsal": "llm" if a.rehearsal_bundle is not None else "rules",
           "max_new_tokens": a.max_new_tokens, "budget": budget, "conditions": table, "preference": pref,
           "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out, indent=1))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
