"""Peak RSS of the whole kiosk server on a real bundle, and where it comes from.

    python -m benchmarks.serve_memory --profile pi-zero-2w --bundle B --patients 20 --turns 4 [--json]

Two measurements, one after the other (never at the same time: they would share the 2 cores):

1. **The server.** ``edgemem serve --bundle B --profile P`` starts as its own process in a fresh
   home that trusts the keys of ``--home`` (default ``$EDGEMEM_HOME``). ``--patients`` kiosk
   sessions run through HTTP as the page runs them (``POST /api/session``, ``--turns`` chat
   completions with the session token, ``POST /api/session/end``), model rehearsals included
   where the profile asks for them. The figure is the server's own ``/readyz`` ``rss.peak_mb``
   (its ``VmHWM``), checked against ``/proc/PID/status`` from outside, with the peak after each
   patient (a peak that keeps climbing with patients is a leak, not a working set).
2. **The breakdown.** A child process loads the same parts in the server's order, through the
   server's own loaders (``edgemem.serve.runtime``), and reads ``/proc/self/status`` after each
   step; a part's share is the growth of RSS across its step. Then it runs the same sessions
   through ``Assistant`` (the code the HTTP handlers call). The KV cache's resident pages are read
   with ``mincore`` on its buffers (calloc'd: only rows a conversation filled are resident), and
   the sessions' remaining growth is split no further: onnxruntime's arenas, SQLite's page cache
   (bounded by ``PRAGMA cache_size``), the usearch index and the Python heap grow together.
   Shared code is charged to the step that first maps it (onnxruntime's library to the imports).

``VmHWM`` does not depend on the machine's load, so these figures are comparable across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EDGEMEM = [sys.executable, "-c", "from edgemem.cli.main import main; main()"]

# What patients say at the kiosk: a fact the memory should keep, then questions about it.
OPENERS = (
    "I take metformin for diabetes and I am allergic to penicillin.",
    "I have high blood pressure and take lisinopril every morning.",
    "I am on warfarin after a blood clot last year.",
    "I am 30 weeks pregnant and I have had heartburn all week.",
    "My son is six and has had a cough and a runny nose for four days.",
    "I have asthma and use a salbutamol inhaler.",
    "I had my gallbladder removed in March and still get bloating after meals.",
    "I get migraines about twice a month and take sumatriptan.",
)
QUESTIONS = (
    "What painkiller can I take for a headache?",
    "I have had a sore throat since yesterday. What should I do?",
    "How much water should I drink when I have a fever?",
    "My knee hurts when I climb stairs. Should I see a doctor?",
    "Can I take ibuprofen with my medicine?",
    "What can I do about trouble sleeping?",
    "Is it safe to exercise with my condition?",
    "How do I know if a cut is infected?",
    "What should I eat when I have diarrhoea?",
    "When should I come back if this does not get better?",
)


def conversation(patient: int, turns: int) -> list[str]:
    """The turns patient ``patient`` types: an opener with a fact, then questions."""
    said = [OPENERS[patient % len(OPENERS)]]
    said += [QUESTIONS[(patient * 3 + t) % len(QUESTIONS)] for t in range(turns - 1)]
    return said[:turns]


def bench_home(source: Path | None) -> Path:
    """A fresh home trusting the same bundle-signing keys as ``source`` (nothing else copied)."""
    home = Path(tempfile.mkdtemp(prefix="edgemem-servemem-"))
    (home / "keys" / "trusted").mkdir(parents=True)
    if source is not None and (source / "keys" / "trusted").is_dir():
        for pub in (source / "keys" / "trusted").glob("*.pub"):
            shutil.copy2(pub, home / "keys" / "trusted" / pub.name)
    profiles = source / "profiles" if source is not None else None
    if profiles is not None and profiles.is_dir():
        shutil.copytree(profiles, home / "profiles")
    return home


def proc_status_mb(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = line.split(":")[0]
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[k] = round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- 1. the real server

def run_server(bundle: Path, profile: str, home: Path, patients: int, turns: int, max_tokens: int,
               prompt_budget: int, timeout_s: float = 1800) -> dict[str, Any]:
    import httpx

    from edgemem.serve.server import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "EDGEMEM_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log_path = home / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*EDGEMEM, "serve", "--port", str(port), "--bundle", str(bundle), "--profile", profile,
                                 "--timeout", "600", "--prompt-budget", str(prompt_budget)], env=env, stdout=subprocess.DEVNULL, stderr=log)
    t_start = time.monotonic()
    try:
        ready: dict[str, Any] = {}
        with httpx.Client(base_url=url, timeout=600) as http:
            while time.monotonic() - t_start < 600:
                if proc.poll() is not None:
                    raise SystemExit(f"server exited with {proc.returncode}: {log_path.read_text()[-800:]}")
                try:
                    r = http.get("/readyz", timeout=2)
                    if r.status_code == 200:
                        ready = r.json()
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            if not ready:
                raise SystemExit("server not ready in 600 s")
            at_ready = ready["rss"]
            per_patient: list[float] = []
            replies = 0
            red_flags = 0
            for p in range(patients):
                s = http.post("/api/session", json={"patient": f"mem-{p:03d}"})
                s.raise_for_status()
                auth = {"Authorization": f"Bearer {s.json()['token']}"}
                for text in conversation(p, turns):
                    r = http.post("/v1/chat/completions", headers=auth,
                                  json={"model": "edgemem", "max_tokens": max_tokens,
                                        "messages": [{"role": "user", "content": text}]})
                    r.raise_for_status()
                    replies += 1
                    red_flags += bool(r.json().get("edgemem", {}).get("red_flag"))
                http.post("/api/session/end", headers=auth).raise_for_status()
                per_patient.append(http.get("/readyz").json()["rss"]["peak_mb"])
            # The model's rehearsals of the closed sessions run in the background: wait for them.
            deadline = time.monotonic() + timeout_s
            final = http.get("/readyz").json()
            while final.get("rehearsals_pending") and time.monotonic() < deadline:
                time.sleep(0.5)
                final = http.get("/readyz").json()
        outside = proc_status_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    log_text = log_path.read_text()
    return {"peak_rss_mb": final["rss"]["peak_mb"], "current_rss_mb": final["rss"]["current_mb"],
            "budget_mb": final["rss"]["budget_mb"], "over_budget": final["rss"]["over_budget"],
            "proc_status_mb": outside, "at_ready_mb": at_ready["peak_mb"],
            "peak_after_patient_mb": per_patient, "replies": replies, "red_flag_replies": red_flags,
            "seconds": round(time.monotonic() - t_start, 1),
            "budget_warnings_in_log": log_text.count("exceeds the"),
            "errors_in_log": log_text.count("Traceback")}


# ---------------------------------------------------------------- 2. the breakdown (child)

def _status() -> dict[str, float]:
    from edgemem.rss import status_mb

    return {k: round(v, 1) for k, v in status_mb().items()}


def resident_bytes(arrays: list[Any]) -> int:
    """Resident bytes of numpy arrays' pages (``mincore``), 0 where it cannot be read."""
    import ctypes
    import ctypes.util
    import mmap

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    page = mmap.PAGESIZE
    total = 0
    for a in arrays:
        start = a.ctypes.data // page * page
        length = a.ctypes.data + a.nbytes - start
        n = (length + page - 1) // page
        vec = (ctypes.c_ubyte * n)()
        if libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(length), vec) != 0:
            return 0
        total += sum(v & 1 for v in vec) * page
    return total


def top_mappings(n: int = 12) -> list[tuple[float, str]]:
    """The largest resident mappings at the end (MB, file name; anonymous memory summed)."""
    sizes: dict[str, float] = {}
    name = ""
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:
                name = os.path.basename(head[5]) if len(head) >= 6 else "[anon]"
            elif head[0] == "Rss:":
                sizes[name] = sizes.get(name, 0.0) + int(head[1]) / 1024.0
    return [(round(v, 1), k) for v, k in sorted(((v, k) for k, v in sizes.items()), reverse=True)[:n]]


def breakdown_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """Load the server's parts one by one; RSS after each (runs in a fresh interpreter)."""
    steps: list[dict[str, Any]] = [{"step": "python started", **_status()}]

    def mark(name: str) -> None:
        steps.append({"step": name, **_status()})

    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401
    import uvicorn  # noqa: F401

    from edgemem import profiles
    from edgemem.assistant import Assistant
    from edgemem.home import Home
    from edgemem.interfaces import GenerationConfig
    from edgemem.serve import app as _app  # noqa: F401  (the server's whole import set)
    from edgemem.serve import runtime as rt

    mark("python + imports")
    home = Home(Path(cfg["home"])).ensure()
    bundle = Path(cfg["bundle"])
    profile = profiles.load(cfg["profile"], home.root)
    engine = rt.load_engine(bundle, profile, home)
    for _ in engine.stream_chat([{"role": "user", "content": "Hello"}], GenerationConfig(max_new_tokens=1)):
        pass
    mark("engine weights (session + tokenizer)")
    from edgemem.memory import MemoryService
    from edgemem.memory.embedder import OnnxEmbedder, find_embedder
    from edgemem.memory.vectors import usearch_index

    folder = find_embedder(bundle, home)
    embedder = (OnnxEmbedder(folder, threads=profile.threads, batch_tokens=profile.embed_batch_tokens)
                if folder is not None else None)
    if embedder is not None:
        embedder.embed(["Hello, I have had a headache since yesterday."])
    mark("embedder")
    memory = MemoryService(home, embedder, None, profile)
    usearch_index()
    mark("memory (SQLite + usearch, empty)")
    classifier = rt.load_triage_classifier(bundle)
    mark("safety classifier (bundle safety/)")
    care = rt.load_care(bundle)
    mark("care cards (bundle care/)")
    assistant = Assistant(memory, profile, prompt_budget=cfg["prompt_budget"], triage_classifier=classifier, care=care)
    assistant.triage("Hello")
    mark("assistant ready (red-flag rules compiled)")
    rt.release_startup_memory()
    mark("startup-only code and heap released")
    rehearser = rt.llm_rehearser(memory, type("R", (), {"engine": engine})(), profile)
    gen = GenerationConfig(max_new_tokens=cfg["max_tokens"])
    from edgemem.memory.rehearsal import session_end_notes

    for p in range(cfg["patients"]):
        sid = assistant.start_session(f"mem-{p:03d}")
        for text in conversation(p, cfg["turns"]):
            for _ in assistant.chat(f"mem-{p:03d}", sid, text, engine, gen):
                pass
        assistant.end_session(f"mem-{p:03d}", sid)
        if rehearser is not None:
            notes = session_end_notes(rehearser, memory.session_patient_turns(f"mem-{p:03d}", sid))
            if notes:
                memory.add_session_notes(f"mem-{p:03d}", sid, notes)
    mark(f"{cfg['patients']} patients x {cfg['turns']} turns")
    kv = resident_bytes(engine.model._kv_arrays) / 2**20
    # usearch's own figure for the open (LRU-bounded) patient indexes.
    index_mb = sum(float(getattr(i.index, "memory_usage", 0) or 0) for i in memory._indexes.values()) / 2**20
    sqlite_cache = memory.store.conn.execute("PRAGMA cache_size").fetchone()[0]
    memory.close()
    return {"steps": steps, "top_mappings": top_mappings(), "kv_resident_mb": round(kv, 1), "kv_allocated_mb":
            round(sum(a.nbytes for a in engine.model._kv_arrays) / 2**20, 1),
            "sqlite_cache_size_pragma": sqlite_cache, "open_indexes_mb": round(index_mb, 2), "context_length": engine.context_length,
            "quantization": engine.manifest.quantization if engine.manifest else None}


def summarize(child: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-part shares: growth of VmRSS across each step, with the KV cache split out."""
    steps = child["steps"]
    parts = []
    for prev, cur in zip(steps, steps[1:]):
        parts.append({"part": cur["step"], "mb": round(cur["VmRSS"] - prev["VmRSS"], 1),
                      "peak_after_mb": cur["VmHWM"]})
    parts[0]["mb"] = round(steps[1]["VmRSS"], 1)  # the interpreter itself is part of "python + imports"
    sessions = parts[-1]
    kv = child["kv_resident_mb"]
    sessions["part"] += " (arenas, SQLite cache, index, heap)"
    sessions["mb"] = round(sessions["mb"] - kv, 1)
    parts.insert(len(parts) - 1, {"part": f"KV cache (resident of {child['kv_allocated_mb']} MB allocated)",
                                  "mb": kv, "peak_after_mb": None})
    return parts


def run_breakdown(bundle: Path, profile: str, home: Path, patients: int, turns: int, max_tokens: int,
                  prompt_budget: int) -> dict[str, Any]:
    cfg = {"bundle": str(bundle), "profile": profile, "home": str(home), "patients": patients, "turns": turns,
           "max_tokens": max_tokens, "prompt_budget": prompt_budget}
    env = {**os.environ, "EDGEMEM_HOME": str(home), "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.serve_memory", "--child"], input=json.dumps(cfg),
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"breakdown child failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    child["parts"] = summarize(child)
    child["peak_rss_mb"] = child["steps"][-1]["VmHWM"]
    return child


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", required=False, default=None)
    ap.add_argument("--bundle", type=Path, help="bundle folder (default: the home's active bundle)")
    ap.add_argument("--home", type=Path, default=None, help="home whose trusted keys (and profiles) the bench home copies "
                                                          "(default: $EDGEMEM_HOME)")
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=None, help="reply length (default: the profile's max_new_tokens)")
    ap.add_argument("--prompt-budget", type=int, default=1024,
                    help="as edgemem serve --prompt-budget (docs/deploy.md: 384 on pi-zero-2w)")
    ap.add_argument("--skip-server", action="store_true")
    ap.add_argument("--skip-breakdown", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(breakdown_child(json.loads(sys.stdin.read()))))
        return
    sys.path.insert(0, str(ROOT))
    from edgemem import profiles
    from edgemem.home import Home

    source = args.home or (Path(os.environ["EDGEMEM_HOME"]) if os.environ.get("EDGEMEM_HOME") else None)
    bundle = args.bundle
    if bundle is None:
        from edgemem.sync.slots import active_bundle

        bundle = active_bundle(Home.resolve(source)) if source else None
        if bundle is None:
            raise SystemExit("error: no --bundle and no active bundle in the home")
    name = args.profile or profiles.detect(source).name
    prof = profiles.load(name, source)
    max_tokens = args.max_tokens or prof.max_new_tokens
    result: dict[str, Any] = {"profile": name, "bundle": str(bundle), "patients": args.patients, "turns": args.turns,
                              "prompt_budget": args.prompt_budget,
                              "max_tokens": max_tokens, "budget_mb": prof.rss_budget_mb,
                              "machine": {"cpus": os.cpu_count(), "loadavg_1min_start": round(os.getloadavg()[0], 2)}}
    if not args.skip_server:
        home = bench_home(source)
        result["server"] = run_server(bundle, name, home, args.patients, args.turns, max_tokens, args.prompt_budget)
        shutil.rmtree(home, ignore_errors=True)
    if not args.skip_breakdown:
        home = bench_home(source)
        result["breakdown"] = run_breakdown(bundle, name, home, args.patients, args.turns, max_tokens,
                                            args.prompt_budget)
        shutil.rmtree(home, ignore_errors=True)
    result["machine"]["loadavg_1min_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result))
        return
    print(f"profile {name}, {args.patients} patients x {args.turns} turns, replies of <= {max_tokens} tokens")
    if "server" in result:
        s = result["server"]
        print(f"server peak RSS {s['peak_rss_mb']:.1f} MB (budget {s['budget_mb']} MB: "
              f"{'OVER' if s['over_budget'] else 'within'}); at ready {s['at_ready_mb']:.1f} MB; "
              f"/proc VmHWM {s['proc_status_mb'].get('VmHWM')} MB; {s['replies']} replies in {s['seconds']} s")
        print("  peak after patient: " + " ".join(f"{x:.0f}" for x in s["peak_after_patient_mb"]))
    if "breakdown" in result:
        b = result["breakdown"]
        print(f"breakdown (child process, peak {b['peak_rss_mb']:.1f} MB):")
        for part in b["parts"]:
            print(f"  {part['mb']:7.1f} MB  {part['part']}")
        print("largest resident mappings at the end: " + ", ".join(f"{n} {mb}" for mb, n in b["top_mappings"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
