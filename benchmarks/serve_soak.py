"""A clinic's day on one kiosk server: many patient sessions in a row, watching for drift.

A kiosk runs from opening to closing without a restart. Whatever a session leaves behind (KV
state, prompt plans, cached vectors, threads, file handles, rehearsal work) adds up over a day.
This starts ``edgemem serve`` on a real bundle in a fresh home and runs ``--sessions`` kiosk
sessions one after another, the way the page does them: ``POST /api/session`` for a patient from
a pool of ``--patients`` (so patients come back and their memories are recalled), ``--turns``
questions through ``/v1/chat/completions`` with the session token, ``POST /api/session/end``
(consolidation; the model's rehearsal follows on its own thread). Every ``--sample-every``
sessions it records the server's RSS, peak RSS, threads, open file descriptors and the home
folder's bytes outside the bundles. It prints the series, the RSS slope over the second half (MB
per 100 sessions: the leak figure), non-200 answers, and the time to answer in the first and the
last fifth of the sessions.

The loop is bounded by ``--sessions`` and only ever talks to 127.0.0.1.

    python -m benchmarks.serve_soak --bundle B --trust KEY.pub [--sessions 100] [--turns 4] [--json F]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from .report import emit
from .serve_load import start_server

UTTERANCES = (
    "I was diagnosed with type 2 diabetes last year and I take metformin twice a day.",
    "I am allergic to penicillin, it gave me a rash as a child.",
    "My blood pressure was 150 over 95 at the pharmacy last week.",
    "I have had a dry cough for two weeks, worse at night.",
    "Can I take ibuprofen with my blood pressure tablets?",
    "I sleep badly since I started the night shifts at the warehouse.",
    "What should I eat before my fasting blood test tomorrow?",
    "My knee hurts when I climb stairs, it started after a fall in March.",
    "I stopped smoking three months ago and I feel short of breath sometimes.",
    "Is it normal to feel dizzy when I stand up quickly?",
    "My daughter has a fever of 38.5 since this morning.",
    "I am pregnant, 20 weeks, and I get heartburn after dinner.",
    "Do you remember which medicine I told you I take?",
    "What did I say about my allergies last time?",
    "Please keep your answers short, I am reading on my phone.",
    "I would like a detailed explanation, I like to understand things.",
)


def _proc_figures(pid: int) -> dict[str, float]:
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    return {"rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
            "peak_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1),
            "threads": int(status["Threads"]), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def _home_bytes(home: Path) -> int:
    """Bytes under the home folder outside ``bundles/`` and ``export-cache/``: the database, the
    indexes, short-term memory, logs - what grows with patients."""
    total = 0
    for path in home.rglob("*"):
        rel = path.relative_to(home).parts
        if rel and rel[0] in ("bundles", "export-cache", "build"):
            continue
        if path.is_file():
            total += path.stat().st_size
    return total


def _sample(client: httpx.Client, pid: int, home: Path, sessions: int, t_start: float) -> dict[str, Any]:
    ready = client.get("/readyz").json()
    return {"sessions": sessions, **_proc_figures(pid), "home_bytes": _home_bytes(home),
            "rehearsals_pending": ready["rehearsals_pending"], "t_s": round(time.monotonic() - t_start, 1)}


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def _flat(rows: list[list[Any]]) -> list[Any]:
    return [t for row in rows for t in row]


def soak(url: str, pid: int, home: Path, sessions: int, turns: int, patients: int, max_tokens: int,
         sample_every: int, pause_s: float, seed: int = 0) -> dict[str, Any]:
    """Run the sessions against a ready server; the figures as a dict."""
    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    answer_s: list[list[float]] = []
    cached: list[float] = []
    prompt_tokens: list[list[int]] = []
    t_start = time.monotonic()
    with httpx.Client(base_url=url, timeout=120) as client:
        samples = [_sample(client, pid, home, 0, t_start)]
        for n in range(sessions):
            patient = f"p{rng.randrange(patients):03d}"
            r = client.post("/api/session", json={"patient": patient})
            statuses[f"session {r.status_code}"] = statuses.get(f"session {r.status_code}", 0) + 1
            if r.status_code != 200:
                continue
            auth = {"Authorization": "Bearer " + r.json()["token"]}
            times: list[float] = []
            prompts: list[int] = []
            for _ in range(turns):
                if pause_s:
                    time.sleep(pause_s)  # the patient reads and types: the server's idle prefill runs here
                body = {"model": "edgemem", "stream": False, "max_tokens": max_tokens,
                        "messages": [{"role": "user", "content": rng.choice(UTTERANCES)}]}
                t0 = time.monotonic()
                r = client.post("/v1/chat/completions", json=body, headers=auth)
                times.append(time.monotonic() - t0)
                statuses[f"chat {r.status_code}"] = statuses.get(f"chat {r.status_code}", 0) + 1
                if r.status_code == 200:
                    usage = r.json().get("usage") or {}
                    details = usage.get("prompt_tokens_details") or {}
                    if usage.get("prompt_tokens"):
                        prompts.append(usage["prompt_tokens"])
                        cached.append(details.get("cached_tokens", 0) / usage["prompt_tokens"])
            answer_s.append(times)
            prompt_tokens.append(prompts)
            r = client.post("/api/session/end", headers=auth)
            statuses[f"end {r.status_code}"] = statuses.get(f"end {r.status_code}", 0) + 1
            if (n + 1) % sample_every == 0 or n + 1 == sessions:
                samples.append(_sample(client, pid, home, n + 1, t_start))
    half = [s for s in samples if s["sessions"] >= sessions / 2]
    fifth = max(1, len(answer_s) // 5)
    errors = {k: v for k, v in statuses.items() if not k.endswith(" 200")}
    return {
        "sessions": sessions, "turns": turns, "patients": patients, "max_tokens": max_tokens, "pause_s": pause_s,
        "wall_s": round(time.monotonic() - t_start, 1),
        "statuses": statuses, "errors": errors,
        "rss_mb_first_last": [samples[0]["rss_mb"], samples[-1]["rss_mb"]],
        "rss_slope_mb_per_100_sessions_second_half": round(100 * _slope([s["sessions"] for s in half],
                                                                         [s["rss_mb"] for s in half]), 2),
        "threads_first_last": [samples[0]["threads"], samples[-1]["threads"]],
        "fds_first_last": [samples[0]["fds"], samples[-1]["fds"]],
        "home_bytes_per_session": round((samples[-1]["home_bytes"] - samples[0]["home_bytes"]) / sessions),
        "answer_s_median_by_fifth": [round(statistics.median(_flat(answer_s[i * fifth:(i + 1) * fifth])), 3)
                                     for i in range(min(5, len(answer_s) // fifth))],
        "prompt_tokens_median_by_fifth": [statistics.median(_flat(prompt_tokens[i * fifth:(i + 1) * fifth]) or [0])
                                          for i in range(min(5, len(prompt_tokens) // fifth))],
        "rehearsals_pending_max": max(s["rehearsals_pending"] for s in samples),
        "cached_share_median": round(statistics.median(cached), 3) if cached else None,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True, help="a bundle with an embedder (memory on)")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--trust", type=Path, action="append", default=[],
                    help="public key file (.pub) the bundle is signed with, trusted in the soak's home")
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--turns", type=int, default=4, help="questions a session")
    ap.add_argument("--patients", type=int, default=20, help="sessions draw patients from this many (they return)")
    ap.add_argument("--max-tokens", type=int, default=32, help="reply length a question")
    ap.add_argument("--sample-every", type=int, default=5)
    ap.add_argument("--pause-s", type=float, default=0.0, help="pause before each question (reading, typing)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    if args.sessions < 2 or args.turns < 1 or args.patients < 1 or args.sample_every < 1:
        raise SystemExit("serve_soak: --sessions >= 2, --turns, --patients and --sample-every >= 1")
    args.max_new_tokens = None  # start_server's option; replies are capped per request here
    home, url, _env, proc = start_server(args, "edgemem-soak-")
    try:
        result = soak(url, proc.pid, home, args.sessions, args.turns, args.patients, args.max_tokens,
                      args.sample_every, args.pause_s)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except Exception:  # noqa: BLE001 - a server that does not stop is killed; the figures stand
            proc.kill()
    result.update({"bundle": str(args.bundle), "profile": args.profile})
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
