"""Requests per minute the kiosk server sustains with its queue full, next to the bare engine.

Starts ``edgemem serve`` as a subprocess on a free loopback port (the clients must not share the
server's GIL), then runs ``--clients`` threads that post non-streaming chat completions for
``--seconds`` seconds, retrying a 429 after a short pause so the line stays full. It counts
answers by status: anything other than 200 and the documented 429 is an error. In the same run it
times the bare engine generating the same reply in a loop in this process (no HTTP, no queue),
so the server's figure comes with a ratio to its own ceiling.

The loop is bounded in time and only ever talks to 127.0.0.1.

    python benchmarks/serve_load.py --bundle PATH [--seconds 60] [--clients 8] [--queue-size 4] --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from edgemem.serve.server import free_port

EDGEMEM = [sys.executable, "-c", "from edgemem.cli.main import main; main()"]
PROMPT = "I have had a mild headache since yesterday. What can I do?"


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server not ready in time")


def bare_engine(bundle: Path, profile: str, max_tokens: int, seconds: float, home: Path) -> dict[str, float]:
    """The same generation with no server around it: the ceiling the server is compared to."""
    from edgemem.engine import Engine
    from edgemem.interfaces import ChatMessage, GenerationConfig
    from edgemem.profiles import load

    from edgemem.home import Home

    engine = Engine.from_bundle(bundle, profile=load(profile, home), home=Home(home))
    messages = [ChatMessage("system", "You are a friendly health assistant at a clinic kiosk."),
                ChatMessage("user", PROMPT)]
    cfg = GenerationConfig(max_new_tokens=max_tokens)
    engine.generate(messages, cfg)
    n, times = 0, []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        engine.generate(messages, cfg)
        times.append(time.perf_counter() - t0)
        n += 1
    return {"requests": n, "per_minute": round(n * 60 / seconds, 1),
            "median_s": round(statistics.median(times), 4)}


def capped_profile(home: Path, name: str, max_new_tokens: int) -> str:
    """A copy of profile ``name`` in the bench home with a smaller ``max_new_tokens``."""
    import re

    from edgemem.profiles import available

    text = available(home)[name].read_text()
    text = re.sub(r"(?m)^max_new_tokens\s*=.*$", f"max_new_tokens = {max_new_tokens}", text)
    (home / "profiles").mkdir(parents=True, exist_ok=True)
    (home / "profiles" / f"{name}-bench.toml").write_text(text)
    return f"{name}-bench"


def start_server(args: argparse.Namespace, prefix: str, *extra: str) -> tuple[Path, str, dict[str, str], subprocess.Popen[bytes]]:
    """A bench home trusting ``args.trust``, then ``edgemem serve`` on a free loopback port, ready."""
    from edgemem import signing_keys
    from edgemem.home import Home

    home = Path(tempfile.mkdtemp(prefix=prefix))
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "EDGEMEM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    for pub in args.trust:
        signing_keys.trust(signing_keys.load_public_key(pub), Home(home).ensure())
    if args.max_new_tokens:
        args.profile = capped_profile(home, args.profile, args.max_new_tokens)
    proc = subprocess.Popen([*EDGEMEM, "serve", "--port", url.rsplit(":", 1)[1], "--bundle", str(args.bundle),
                             "--profile", args.profile, "--report-timing", *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(url, proc)
    except BaseException:
        proc.terminate()
        raise
    return home, url, env, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--queue-size", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--patients", type=int, default=4, help="clients cycle over this many patients (0: memoryless chat)")
    ap.add_argument("--trust", type=Path, action="append", default=[],
                    help="public key file (.pub) the bundle is signed with, trusted in the bench's home")
    ap.add_argument("--max-new-tokens", type=int, default=None,
                    help="cap replies (a copy of the profile with this max_new_tokens)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    home, url, env, proc = start_server(args, "edgemem-load-", "--queue-size", str(args.queue_size),
                                        "--timeout", "60")
    try:
        token = subprocess.run([*EDGEMEM, "serve", "--print-token"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        counts: dict[str, int] = {}
        latencies: list[float] = []
        retry_afters: list[int] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def client(i: int) -> None:
            body: dict[str, object] = {"model": "edgemem", "max_tokens": args.max_tokens,
                                       "messages": [{"role": "user", "content": PROMPT}]}
            if args.patients:  # each answer then goes through the patient's memory
                body["user"] = f"load-{i % args.patients}"
            with httpx.Client(base_url=url, timeout=90, headers={"Authorization": f"Bearer {token}"}) as c:
                while time.monotonic() < stop_at:
                    t0 = time.perf_counter()
                    try:
                        r = c.post("/v1/chat/completions", json=body)
                        key = str(r.status_code)
                    except httpx.HTTPError as e:
                        key, r = type(e).__name__, None
                    with lock:
                        counts[key] = counts.get(key, 0) + 1
                        if key == "200":
                            latencies.append(time.perf_counter() - t0)
                        elif key == "429" and r is not None:
                            retry_afters.append(int(r.headers.get("Retry-After", "0")))
                    if key == "429":
                        time.sleep(0.05)  # keep the line full: retry soon, not after Retry-After

        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    ok = counts.get("200", 0)
    errors = {k: v for k, v in counts.items() if k not in ("200", "429")}
    bare = bare_engine(args.bundle, args.profile, args.max_tokens, min(args.seconds, 30.0), home)
    result = {
        "clients": args.clients, "queue_size": args.queue_size, "seconds": round(wall, 1),
        "max_tokens": args.max_tokens, "status_counts": counts,
        "ok_per_minute": round(ok * 60 / wall, 1), "errors": errors,
        "rejected_429": counts.get("429", 0),
        "retry_after_s": sorted(set(retry_afters))[:5],
        "latency_s": {"p50": round(statistics.median(latencies), 3) if latencies else None,
                      "p95": round(statistics.quantiles(latencies, n=20)[-1], 3) if len(latencies) > 1 else None},
        "bare_engine": bare,
        "ratio_server_vs_bare": round(ok * 60 / wall / bare["per_minute"], 3) if bare["per_minute"] else None,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"server: {result['ok_per_minute']} answered/min with {args.clients} clients, queue {args.queue_size}: "
              f"{counts.get('429', 0)} x 429, other errors {errors or 'none'}; p50 {result['latency_s']['p50']} s")
        print(f"bare engine: {bare['per_minute']} /min; ratio {result['ratio_server_vs_bare']}")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
