"""The engine on a real signed bundle of the tiny Llama: verification, generation, prefix reuse,
streaming, stop conditions, the CLI, and a torch-free process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgemem.engine import DecoderModel, Engine
from edgemem.errors import BundleError, InputError
from edgemem.home import Home
from edgemem.interfaces import ChatMessage, GenerationConfig, Generator, PromptCache, Scorer

from engine_bundle import make_bundle

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from edgemem.cli.main import main; main()"]


@pytest.fixture(scope="module")
def bundle_home(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Home]:
    home = Home(tmp_path_factory.mktemp("engine-home"))
    path = make_bundle(tiny_llama_dir, tmp_path_factory.mktemp("bundle") / "b", home, quantization="fp32")
    return path, home


@pytest.fixture()
def engine(bundle_home: tuple[Path, Home]) -> Engine:
    path, home = bundle_home
    return Engine.from_bundle(path, profile="x86-kiosk", home=home)


MESSAGES = [ChatMessage("system", "You are a careful assistant."),
            ChatMessage("user", "I have a headache and a mild fever for three days.")]


def _greedy_reference(model: DecoderModel, ids: list[int], n: int) -> list[int]:
    """Greedy ids computed the slow way: a full teacher-forced pass per token, no cache reuse."""
    out: list[int] = []
    for _ in range(n):
        out.append(int(model.logits(ids + out)[-1].argmax()))
    return out


def test_engine_is_a_generator(engine: Engine) -> None:
    # The server and the memory check these with isinstance (interfaces.py), never getattr.
    assert isinstance(engine, Generator) and isinstance(engine, PromptCache) and isinstance(engine, Scorer)
    assert not isinstance(object(), PromptCache) and not isinstance(object(), Scorer)
    assert engine.context_length == 256
    assert engine.count_tokens("headache") >= 1


def test_greedy_generation_matches_full_recomputation(engine: Engine, bundle_home: tuple[Path, Home]) -> None:
    cfg = GenerationConfig(max_new_tokens=12)
    ids = engine.render_chat(MESSAGES)
    text = "".join(engine.stream_prompt(ids, cfg, ignore_stop_tokens=True))
    got = engine.last_stats.token_ids
    assert len(got) == 12 and engine.last_stats.stop_reason == "length"
    ref_model = DecoderModel(bundle_home[0] / "model.onnx", engine.model.io, threads=1)
    assert got == _greedy_reference(ref_model, ids, 12)
    assert text == engine.tokenizer.decode(got)


def test_followup_turn_reuses_the_cached_prefix(engine: Engine, bundle_home: tuple[Path, Home]) -> None:
    cfg = GenerationConfig(max_new_tokens=8)
    first = engine.generate(MESSAGES, cfg)
    first_prompt = engine.last_stats.prompt_tokens
    follow = MESSAGES + [ChatMessage("assistant", first), ChatMessage("user", "Should I take ibuprofen?")]
    second = engine.generate(follow, cfg)
    stats = engine.last_stats
    assert stats.reused_tokens >= first_prompt  # the whole first prompt came from the cache
    fresh = Engine.from_bundle(bundle_home[0], profile="x86-kiosk", home=bundle_home[1])
    assert fresh.generate(follow, cfg) == second  # same reply as with a cold cache
    assert fresh.last_stats.reused_tokens == 0


def test_prefill_in_idle_time_leaves_only_the_new_turn(engine: Engine) -> None:
    """What the kiosk feeds while the patient types is a prefix of the next prompt: the next turn
    reuses all of it and feeds only its own tokens, with the same reply as without prefill."""
    history = [ChatMessage("system", "You are a kiosk assistant."), ChatMessage("user", "hello there"),
               ChatMessage("assistant", "hi, how can I help")]
    nxt = [*history, ChatMessage("user", "my knee hurts")]
    cfg = GenerationConfig(max_new_tokens=5)
    engine.reset()
    cold = engine.generate(nxt, cfg)
    engine.reset()
    fed = engine.prefill(history)
    assert fed == len(engine.render_chat(history, add_generation_prompt=False))
    assert engine.prefill(history) == 0  # already there
    assert engine.generate(nxt, cfg) == cold
    s = engine.last_stats
    assert s.reused_tokens == fed and s.prompt_tokens - s.reused_tokens == len(engine.render_chat(nxt)) - fed
    # Idle work yields: a waiting caller stops it between chunks, a busy engine is not waited for.
    engine.reset()
    assert engine.prefill(history, should_stop=lambda: True) == 0
    assert 0 < engine.prefill(history, chunk=4, should_stop=iter([False, False, True]).__next__) == 8
    with engine._lock:
        assert engine.prefill(history) == 0


def test_score_is_the_log_probability_of_each_continuation(engine: Engine) -> None:
    """Closed-set choice: the scores equal log-softmax of a full teacher-forced recomputation, for
    one-token and multi-token options, and a warm cache (a shared prefix) changes nothing."""
    prompt = engine.render_chat(MESSAGES)
    options = [[11], [42, 7], [5, 99, 3], [11]]
    got = engine.score(prompt, options)
    for opt, value in zip(options, got):
        rows = engine.model.logits(prompt + opt[:-1])[len(prompt) - 1:].astype(np.float64)
        rows -= rows.max(axis=1, keepdims=True)
        logp = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
        want = sum(float(logp[i, t]) for i, t in enumerate(opt))
        assert abs(value - want) < 1e-3, (opt, value, want)
    assert got[0] == pytest.approx(got[3])
    assert all(v < 0 for v in got)
    engine.score(prompt[:-3], [[1]])  # leaves a cache that shares a prefix with the next call
    assert engine.score(prompt, options) == pytest.approx(got, abs=1e-4)
    with pytest.raises(InputError):
        engine.score(prompt, [[]])
    with pytest.raises(InputError):
        engine.score([], [[1]])


def test_scratch_scoring_leaves_the_conversation_cached(engine: Engine, bundle_home: tuple[Path, Home]) -> None:
    """Rehearsal scores in borrowed rows: the next turn of the conversation still reuses its whole
    prefix and replies as it would have; scoring may not run past the lent rows."""
    cfg = GenerationConfig(max_new_tokens=8)
    first = engine.generate(MESSAGES, cfg)
    first_prompt = engine.last_stats.prompt_tokens
    cached = list(engine.model.cached_ids)
    prompt = engine.render_chat([ChatMessage("user", "Patient said: I take metformin.")])
    plain = engine.score(prompt, [[11], [42, 7]])
    engine.generate(MESSAGES, cfg)  # the conversation back in the cache
    with engine.scratch(max_tokens=64) as scorer:
        assert scorer.score(prompt, [[11], [42, 7]]) == pytest.approx(plain, abs=1e-4)
        with pytest.raises(InputError, match="64 tokens"):
            scorer.score(prompt + [5] * 64, [[1]])
    assert engine.model.cached_ids == cached
    follow = MESSAGES + [ChatMessage("assistant", first), ChatMessage("user", "Should I take ibuprofen?")]
    second = engine.generate(follow, cfg)
    assert engine.last_stats.reused_tokens >= first_prompt
    fresh = Engine.from_bundle(bundle_home[0], profile="x86-kiosk", home=bundle_home[1])
    assert fresh.generate(follow, cfg) == second
    engine.score(prompt, [[11]])  # plain scoring evicts the conversation
    engine.generate(follow, cfg)
    assert engine.last_stats.reused_tokens < first_prompt


def test_a_reply_waiting_during_scratch_scoring_goes_first(engine: Engine) -> None:
    """A patient's reply that arrives mid-batch gets the engine before the next score call, and
    its conversation is what the cache holds when the batch ends."""
    import threading
    import time

    prompt = engine.render_chat([ChatMessage("user", "Patient said: I take metformin.")])
    replied = threading.Event()
    with engine.scratch() as scorer:
        before = scorer.score(prompt, [[11], [42, 7]])
        reply = threading.Thread(target=lambda: (engine.generate(MESSAGES, GenerationConfig(max_new_tokens=4)),
                                                 replied.set()))
        reply.start()
        deadline = time.monotonic() + 10
        while not engine._pending and time.monotonic() < deadline:
            time.sleep(0.001)
        assert not replied.is_set()  # it waits for the borrowed engine ...
        after = scorer.score(prompt, [[11], [42, 7]])
        assert replied.wait(10) and scorer.lends == 1  # ... and ran before this call scored
        assert after == pytest.approx(before, abs=1e-4)
    reply.join()
    want = engine.render_chat(MESSAGES)
    assert engine.model.cached_ids[:len(want)] == want


def test_stop_string_and_stop_token(engine: Engine) -> None:
    full = engine.generate(MESSAGES, GenerationConfig(max_new_tokens=20))
    reason = engine.last_stats.stop_reason
    assert reason in ("length", "stop_token")
    if len(full.strip()) >= 4:
        needle = full.strip()[2:4]
        cut = engine.generate(MESSAGES, GenerationConfig(max_new_tokens=20, stop=(needle,)))
        assert needle not in cut and full.startswith(cut) and engine.last_stats.stop_reason == "stop_string"
    # an im_end id ends the reply without appearing in it
    engine.stop_token_ids = frozenset(range(engine.model.vocab))  # every id stops
    assert engine.generate(MESSAGES, GenerationConfig(max_new_tokens=5)) == ""
    assert engine.last_stats.stop_reason == "stop_token"


def test_sampling_is_seedable(engine: Engine) -> None:
    cfg = GenerationConfig(max_new_tokens=10, temperature=1.0, top_p=0.95, seed=3)
    a = engine.generate(MESSAGES, cfg)
    b = engine.generate(MESSAGES, cfg)
    assert a == b


def test_context_never_overflows(engine: Engine) -> None:
    long = [ChatMessage("system", "Be brief.")] + [
        ChatMessage("user" if i % 2 == 0 else "assistant", "My knee hurts when I climb stairs. " * 3) for i in range(60)]
    engine.generate(long, GenerationConfig(max_new_tokens=16))
    s = engine.last_stats
    assert s.prompt_tokens + 16 <= engine.context_length
    assert s.new_tokens >= 1


def test_tampered_or_untrusted_bundle_is_refused(bundle_home: tuple[Path, Home], tmp_path: Path) -> None:
    import shutil

    path, home = bundle_home
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    data = copy / "model.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="sha256"):
        Engine.from_bundle(copy, home=home)
    with pytest.raises(BundleError):
        Engine.from_bundle(path, home=Home(tmp_path / "empty-home"))  # trusts no key


def test_bad_generation_config(engine: Engine) -> None:
    with pytest.raises(InputError):
        engine.generate(MESSAGES, GenerationConfig(max_new_tokens=0))
    with pytest.raises(InputError):
        engine.generate(MESSAGES, GenerationConfig(max_new_tokens=10_000))  # leaves no room for a prompt


def test_fresh_process_never_imports_torch(bundle_home: tuple[Path, Home]) -> None:
    path, home = bundle_home
    code = (
        "import sys, time\n"
        "t = time.perf_counter(); import edgemem; dt = time.perf_counter() - t\n"
        "from edgemem.engine import Engine\n"
        "from edgemem.interfaces import ChatMessage, GenerationConfig\n"
        f"e = Engine.from_bundle({str(path)!r}, home={str(home.root)!r})\n"
        "out = e.generate([ChatMessage('user', 'hello')], GenerationConfig(max_new_tokens=4))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'peft', 'optimum'))\n"
        "print(repr(bad), dt, e.last_stats.new_tokens)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    bad, dt, n = proc.stdout.split()
    assert bad == "[]" and int(n) >= 1
    assert float(dt) < 0.3


def test_import_edgemem_is_light() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import edgemem, edgemem.engine, edgemem.quant"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "transformers", "peft", "optimum", "onnxruntime", "tokenizers"}
    cumulative_us = max(int(line.split("|")[1]) for line in proc.stderr.splitlines()
                        if line.rstrip().endswith("| edgemem"))
    assert cumulative_us < 300_000


def _cli(args: list[str], home: Home) -> subprocess.CompletedProcess:
    env = dict(os.environ, EDGEMEM_HOME=str(home.root), PYTHONPATH=str(ROOT))
    return subprocess.run([*CLI, *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_generate_json_and_errors(bundle_home: tuple[Path, Home]) -> None:
    path, home = bundle_home
    res = _cli(["generate", "--bundle", str(path), "--max-new-tokens", "5", "--json", "Hello there"], home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["new_tokens"] <= 5 and out["prompt_tokens"] > 3 and isinstance(out["text"], str)
    res = _cli(["generate", "--bundle", str(path / "nope"), "hi"], home)
    assert res.returncode != 0 and res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    res = _cli(["generate", "hi"], Home(path.parent / "no-home"))
    assert res.returncode != 0 and "no active bundle" in res.stderr


def test_cli_chat_streams_turns(bundle_home: tuple[Path, Home]) -> None:
    path, home = bundle_home
    env = dict(os.environ, EDGEMEM_HOME=str(home.root), PYTHONPATH=str(ROOT))
    proc = subprocess.run([*CLI, "chat", "--bundle", str(path), "--max-new-tokens", "4"],
                          input="hello\nmy knee hurts\n\n", capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("assistant> ") == 2


def test_cli_chat_with_a_patient_uses_the_assistant(bundle_home: tuple[Path, Home], tmp_path: Path) -> None:
    """--user goes through the assistant: an emergency is answered by the red-flag reply, not the model."""
    path, home = bundle_home
    env = dict(os.environ, EDGEMEM_HOME=str(tmp_path / "chat-home"), PYTHONPATH=str(ROOT))
    import shutil

    shutil.copytree(home.trusted_keys, tmp_path / "chat-home" / "keys" / "trusted")
    proc = subprocess.run([*CLI, "chat", "--bundle", str(path), "--user", "alice", "--max-new-tokens", "3"],
                          input="I have crushing chest pain\n\n", capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "112" in proc.stdout  # the x86-kiosk profile's emergency number, from the fixed reply
    assert (tmp_path / "chat-home" / "memory.sqlite").exists()


def test_bench_json_on_the_tiny_bundle(bundle_home: tuple[Path, Home]) -> None:
    """`edgemem bench --json` (edgemem side only): every figure present and plausible."""
    path, home = bundle_home
    res = _cli(["bench", "--bundle", str(path), "--json", "--rounds", "1", "--prompts", "1", "--new-tokens", "4"], home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    e = out["edgemem"]
    for key in ("cold_start_s", "ttft_first_turn_ms", "ttft_followup_ms", "decode_tok_s", "peak_rss_mb"):
        assert e[key] > 0, key
    w = out["workload"]
    assert 100 < w["followup_prefix_tokens"] and w["followup_prefix_tokens"] + w["followup_new_tokens"] < 256
    assert "ratios" not in out  # no peer asked for


def test_release_load_only_code_keeps_the_process_working() -> None:
    """Dropping read-only file pages (shared-library code) only costs page faults: code runs on."""
    import sys

    import numpy as np

    from edgemem.engine.session import release_load_only_code

    released = release_load_only_code()
    assert released >= 0
    if sys.platform.startswith("linux"):
        assert released > 0
    assert float(np.linalg.norm(np.ones(4, np.float32))) == 2.0
