"""LLM rehearsal while another patient chats: does the chat keep its cache and its speed?

The kiosk rehearses a closed session (``ChoiceExtractor``, at session end) on the same engine that
answers the next patient. This runs one patient's 12-turn conversation and, in a second thread,
rehearses 8 patient turns (the held-out MaLP pool, as ``benchmarks.rehearsal_quality`` uses),
while the chatting patient sends a follow-up every 0.4 s. Two modes:

* ``scratch`` (shipped): scoring borrows the KV rows (``Engine.scratch``) and hands the engine to
  a waiting reply between score calls;
* ``plain``: the same scoring through plain ``Engine.score``, which evicts the conversation.

Reported: the follow-up's time to first token alone and during rehearsal (median, max), the
tokens it reused from the cache, and rehearsal seconds per turn alone and under chat.

    nice -n 5 python -m benchmarks.rehearsal_contention --bundle DIR [--no-verify] [--json F]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

from .ablation import load_engine
from .rehearsal_quality import load_gold
from .report import emit


class PlainScorer:
    """The engine seen without ``scratch()``: what rehearsal did before it existed."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def encode(self, text: str) -> list[int]:
        return self.engine.encode(text)

    def render_chat(self, messages: Any, add_generation_prompt: bool = True) -> list[int]:
        return self.engine.render_chat(messages, add_generation_prompt)

    def score(self, prompt_ids: Any, continuations: Any) -> list[float]:
        return self.engine.score(prompt_ids, continuations)


def run(engine: Any, mode: str, turns: list[str]) -> dict[str, Any]:
    from edgemem.interfaces import ChatMessage, GenerationConfig
    from edgemem.memory.rehearsal_choice import ChoiceExtractor

    ex = ChoiceExtractor(engine if mode == "scratch" else PlainScorer(engine))
    conv = [ChatMessage("system", "You are a helpful medical assistant.")]
    for i in range(6):
        conv += [ChatMessage("user", f"Question {i}: I have had a sore throat and a mild fever since yesterday, "
                                     "and my ears hurt a bit. What should I do about it today?"),
                 ChatMessage("assistant", "Rest, drink plenty of fluids, and take paracetamol for the fever if you "
                                          "need it. If it gets worse or lasts more than three days, see a doctor. " * 2)]
    one = GenerationConfig(max_new_tokens=1)

    def followup(k: int) -> tuple[float, int, int]:
        msgs = conv + [ChatMessage("user", f"Thanks. One more thing, number {k}: can I go to work tomorrow?")]
        t0 = time.perf_counter()
        for _ in engine.stream_chat(msgs, one):
            pass
        st = engine.last_stats
        return (time.perf_counter() - t0) * 1e3, st.reused_tokens, st.prompt_tokens

    engine.reset()
    for _ in engine.stream_chat(conv + [ChatMessage("user", "hi")], one):
        pass
    quiet = [followup(k) for k in range(5)][1:]
    t0 = time.perf_counter()
    for text in turns[:3]:
        ex.extract("t", "user", text)
    alone = (time.perf_counter() - t0) / 3
    done = threading.Event()
    under: list[float] = []

    def rehearse() -> None:
        t = time.perf_counter()
        for text in turns:
            ex.extract("t", "user", text)
        under.append((time.perf_counter() - t) / len(turns))
        done.set()

    th = threading.Thread(target=rehearse)
    th.start()
    got, k = [], 100
    while not done.is_set():
        time.sleep(0.4)
        got.append(followup(k))
        k += 1
    th.join()
    during = sorted(g[0] for g in got)
    q = sorted(x[0] for x in quiet)
    return {
        "followup_prompt_tokens": got[0][2] if got else quiet[0][2],
        "followup_ttft_ms_alone": {"median": round(q[len(q) // 2], 1), "max": round(q[-1], 1)},
        "followup_ttft_ms_during_rehearsal": {"n": len(during), "median": round(during[len(during) // 2], 1),
                                              "max": round(during[-1], 1)},
        "followup_reused_tokens_min": min(g[1] for g in got) if got else None,
        "rehearsal_s_per_turn_alone": round(alone, 2),
        "rehearsal_s_per_turn_under_chat": round(under[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="LLM rehearsal while another patient chats.")
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--modes", default="scratch,plain")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    engine = load_engine(a.bundle, not a.no_verify, a.profile)
    turns = [g["text"] for g in load_gold("dev")][:8]
    result = {"bundle": str(a.bundle), "turns": len(turns)}
    for mode in a.modes.split(","):
        result[mode] = run(engine, mode.strip(), turns)
    emit(result, a.json, indent=2)


if __name__ == "__main__":
    main()
