"""A long kiosk session through the real chat path: how much of each prompt the engine re-reads.

``edgemem bench`` measures the engine's follow-up on a synthetic conversation that only grows. A
patient at the kiosk goes through ``Assistant`` instead: the memory stores each turn, retrieves
memories for the question and packs the prompt within the kiosk's prompt budget (1,024 tokens by
default). Whatever that packing changes before the end of the previous prompt is fed again, so
this benchmark runs one session of ``--turns`` patient questions (the user turns of the shipped
test dialogues, in order) with the real engine, the real memory (SQLite, usearch, the bundle's or
``--embedder``'s ONNX embedder) and greedy replies, and prints per turn:

* ``prompt`` / ``reused`` / ``fed``: prompt tokens, how many came from the KV cache, how many were
  prefilled;
* ``prepare_ms``: the memory's work before the engine (store the turn, retrieve, pack);
* ``ttft_ms``: the engine's time to first token;
* with ``--warm``, ``warm_fed`` / ``warm_ms``: what ``Assistant.warm`` prefilled after the session
  started and after each reply (the kiosk server does this while the patient reads and types).

and the medians over the follow-ups (every turn after the first).

    python -m benchmarks.chat_session --bundle DIR --embedder DIR [--turns 16] [--max-new-tokens 48]
        [--prompt-budget 1024] [--warm] [--json F]

The bundle is loaded without verification (``Engine.from_parts``); the home is a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .report import emit

ROOT = Path(__file__).resolve().parent.parent
DIALOGUES = ROOT / "tests" / "data" / "dialogues.jsonl"


def patient_turns(path: Path, n: int) -> list[str]:
    """The first ``n`` user turns of the dialogues file, in file order: one long session."""
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out += [m["content"] for m in json.loads(line)["messages"] if m["role"] == "user"]
        if len(out) >= n:
            break
    if len(out) < n:
        raise SystemExit(f"chat_session: {path} has only {len(out)} user turns")
    return out[:n]


def run(bundle: Path, embedder_dir: Path | None, turns: list[str], *, max_new_tokens: int, prompt_budget: int | None,
        profile: str, home: Path, warm: bool = False) -> list[dict[str, Any]]:
    from edgemem.assistant import Assistant
    from edgemem.engine.engine import Engine
    from edgemem.interfaces import GenerationConfig
    from edgemem.memory.embedder import OnnxEmbedder
    from edgemem.memory.service import MemoryService

    model_info = json.loads((bundle / "manifest.json").read_text())["model"]
    engine = Engine.from_parts(bundle, model_info, profile=profile, home=home)
    if embedder_dir is None and (bundle / "embedder" / "model.onnx").is_file():
        embedder_dir = bundle / "embedder"
    embedder = OnnxEmbedder(embedder_dir) if embedder_dir is not None else None
    memory = MemoryService(home, embedder, None, engine.profile)
    assistant = Assistant(memory, engine.profile, prompt_budget=prompt_budget)
    user = "bench-patient"
    session = assistant.start_session(user)
    config = GenerationConfig(max_new_tokens=max_new_tokens)  # greedy: the same replies every run
    rows = []

    def warm_up() -> dict[str, Any]:
        if not warm:
            return {}
        t = time.perf_counter()
        fed = assistant.warm(user, session, engine, max_new_tokens=max_new_tokens)
        return {"warm_fed": fed, "warm_ms": round((time.perf_counter() - t) * 1000, 1)}

    idle = warm_up()  # the patient is typing their first question
    for i, text in enumerate(turns):
        t0 = time.perf_counter()
        turn = assistant.prepare(user, session, text, engine)
        prepare_ms = (time.perf_counter() - t0) * 1000
        reply = "".join(assistant.generate(turn, engine, config))
        s = engine.last_stats
        assistant.record(turn, reply)
        rows.append({"turn": i + 1, "prompt": s.prompt_tokens, "reused": s.reused_tokens,
                     "fed": s.prompt_tokens - s.reused_tokens, "prepare_ms": round(prepare_ms, 1),
                     "ttft_ms": round(s.ttft_s * 1000, 1), "reply_tokens": s.new_tokens, **idle})
        idle = warm_up()  # the patient reads the reply and types the next question
    assistant.end_session(user, session)
    memory.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--embedder", type=Path, default=None, help="embedder folder (default: the bundle's embedder/)")
    ap.add_argument("--turns", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--prompt-budget", type=int, default=1024, help="the kiosk's default (serve --prompt-budget)")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--warm", action="store_true", help="prefill each next prompt's known start in the idle time, as the server does")
    ap.add_argument("--dialogues", type=Path, default=DIALOGUES)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.bundle / "manifest.json").is_file():
        raise SystemExit(f"chat_session: {args.bundle} has no manifest.json")
    turns = patient_turns(args.dialogues, args.turns)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.bundle, args.embedder, turns, max_new_tokens=args.max_new_tokens,
                   prompt_budget=args.prompt_budget, profile=args.profile, home=Path(tmp), warm=args.warm)
    follow = rows[1:] or rows
    result = {
        "bundle": str(args.bundle), "turns": len(rows), "max_new_tokens": args.max_new_tokens,
        "prompt_budget": args.prompt_budget, "warm": args.warm,
        "followups": {k: statistics.median(r[k] for r in follow) for k in ("prompt", "reused", "fed", "prepare_ms", "ttft_ms")},
        "followups_max": {k: max(r[k] for r in follow) for k in ("fed", "prepare_ms", "ttft_ms")},
        "fed_total": sum(r["fed"] for r in rows),
        "rows": rows,
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
