"""The engine: a verified bundle turned into a streaming chat model.

``Engine.from_bundle`` verifies the bundle (signature, then every file hash) before a byte of the
model is loaded, creates the onnxruntime session from the firmware profile, and keeps one
``DecoderModel`` whose KV cache survives between calls: a follow-up turn re-renders the whole
conversation, finds the longest prefix already in the cache (system prompt, memory preamble,
earlier turns), and feeds only what is new. Time to first token then grows with the new tokens,
not with the conversation.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..errors import BundleError, InputError
from ..interfaces import ChatMessage, GenerationConfig
from .chat import ChatRenderer, ChatTemplate
from .detok import IncrementalDecoder
from .model import PREFILL_CHUNK, DecoderModel
from .sampler import Sampler, log_softmax, validate


# KV rows ``Engine.scratch`` lends for scoring: a patient turn, a header and a phrase fit.
SCRATCH_TOKENS = 512


@dataclass
class GenerationStats:
    """Figures of the last generation (``Engine.last_stats``), for benches and logs."""

    prompt_tokens: int = 0
    reused_tokens: int = 0
    new_tokens: int = 0
    ttft_s: float = 0.0
    decode_s: float = 0.0
    stop_reason: str = ""
    token_ids: list[int] = field(default_factory=list)

    @property
    def decode_tokens_per_s(self) -> float:
        return (self.new_tokens - 1) / self.decode_s if self.new_tokens > 1 and self.decode_s > 0 else 0.0


class Engine:
    """Implements ``edgemem.interfaces.Generator``; one conversation's KV cache at a time.

    Thread-safety: one generation runs at a time (a lock); a second caller waits. A kiosk has one
    patient at the screen; the server serializes requests through this lock too.
    """

    def __init__(self, model: DecoderModel, tokenizer: Any, *, special_tokens: dict[str, int],
                 chat_template: str | None = None, stop_token_ids: Sequence[int] = (),
                 context_length: int | None = None, max_new_tokens: int = 256,
                 profile: Any = None, manifest: Any = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.profile = profile
        self.manifest = manifest
        try:
            im_start, im_end = int(special_tokens["im_start"]), int(special_tokens["im_end"])
        except (KeyError, TypeError, ValueError):
            raise BundleError("manifest special_tokens must name im_start and im_end ids") from None
        self.special_tokens = dict(special_tokens)
        self.renderer = ChatRenderer(tokenizer, ChatTemplate.from_jinja(chat_template, im_start, im_end))
        stops = {int(t) for t in stop_token_ids} | {im_end}
        if "eos" in special_tokens and special_tokens["eos"] is not None:
            stops.add(int(special_tokens["eos"]))
        self.stop_token_ids = frozenset(stops)
        self.context_length = min(int(context_length or model.context_length), model.context_length)
        self.max_new_tokens = int(max_new_tokens)
        self.last_stats = GenerationStats()
        self._lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending = 0  # replies waiting for the lock

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_bundle(cls, path: str | os.PathLike[str], profile: Any = None, home: Any = None,
                    trusted_keys: Any = None, threads: int | None = None) -> "Engine":
        """Verify the bundle folder, then load it with the profile (explicit, else detected)."""
        from .. import bundle
        from ..home import Home

        home_obj = home if isinstance(home, Home) or home is None else Home.resolve(home)
        folder = Path(path)
        if not folder.exists():
            raise BundleError(f"no bundle at {folder}")
        if not folder.is_dir():
            raise BundleError(f"{folder}: the engine loads a bundle folder (install archives with 'edgemem sync apply')")
        # With the home's trust root (the device's case) the check runs in a short-lived child
        # process: cryptography's code and the hashing state then leave with it instead of
        # staying in the engine's RSS (-13 MB; bundle.verify_isolated says why it is the same
        # check). Explicit keys (tests, tooling) are objects the child cannot be handed.
        if trusted_keys is None:
            # A folder verified in full before and unchanged since (edgemem.seal: stat, sampled
            # block digests, under a device key) skips the child and the 220 MB of hashing.
            manifest = bundle.sealed(folder, home_obj)
            if manifest is None:
                check = bundle.IsolatedVerification(folder, home_obj)
                # While the child hashes: code only, nothing of the bundle is read before the verdict.
                import onnxruntime  # noqa: F401
                import tokenizers  # noqa: F401

                manifest = check.result()
        else:
            manifest = bundle.verify(folder, trusted_keys, home_obj)
        return cls.from_parts(folder, manifest.data["model"], profile=profile, home=home_obj, manifest=manifest,
                              threads=threads)

    @classmethod
    def from_parts(cls, folder: str | os.PathLike[str], model_info: dict[str, Any], *, profile: Any = None,
                   home: Any = None, manifest: Any = None, threads: int | None = None) -> "Engine":
        """Load ``model.onnx`` + ``tokenizer.json`` from a folder WITHOUT verification.

        ``model_info`` is the manifest's ``model`` table (``io``, ``architecture``,
        ``special_tokens``, ``chat_template``, ``stop_token_ids``). For tests and development;
        devices use ``from_bundle``.
        """
        from tokenizers import Tokenizer

        from .. import profiles

        folder = Path(folder)
        home_root = getattr(home, "root", home)
        prof = profiles.resolve(profile, Path(home_root) if home_root else None)
        threads = int(threads) if threads else max(1, min(prof.threads, os.cpu_count() or prof.threads))
        try:
            io = model_info["io"]
            arch = model_info.get("architecture", {})
            special = model_info["special_tokens"]
        except (KeyError, TypeError):
            raise BundleError("manifest model table lacks io or special_tokens") from None
        tok_path = folder / "tokenizer.json"
        if not tok_path.is_file():
            raise BundleError(f"{folder}: no tokenizer.json")
        tokenizer = Tokenizer.from_file(str(tok_path))
        tokenizer.encode_special_tokens = True  # patient text never becomes control tokens
        from .session import trim_heap

        trim_heap()  # before the session: its load peak then sits on a lower baseline
        model = DecoderModel(folder / "model.onnx", io, threads=threads, providers=prof.providers, arena=prof.arena)
        ctx = min(prof.context_length, int(arch.get("context_length") or model.context_length))
        return cls(model, tokenizer, special_tokens=special, chat_template=model_info.get("chat_template"),
                   stop_token_ids=model_info.get("stop_token_ids", ()), context_length=ctx,
                   max_new_tokens=prof.max_new_tokens, profile=prof, manifest=manifest)

    # -- Generator protocol ------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def encode(self, text: str) -> list[int]:
        """Plain text -> token ids (no special tokens): to extend a rendered prompt by hand."""
        return self.renderer.text_ids(text)

    def render_chat(self, messages: Sequence[Any], add_generation_prompt: bool = True) -> list[int]:
        return self.renderer.render(messages, add_generation_prompt)

    def prompt_ids(self, messages: Sequence[Any], max_new_tokens: int) -> list[int]:
        """The rendered prompt, truncated so that prompt + reply fit the context window."""
        budget = self.context_length - max_new_tokens
        if budget < 8:
            raise InputError(f"max_new_tokens {max_new_tokens} leaves no room in a {self.context_length}-token context")
        return self.renderer.fit(messages, budget)

    def stream_chat(self, messages: Sequence[Any], config: GenerationConfig | None = None) -> Iterator[str]:
        config = config or GenerationConfig(max_new_tokens=self.max_new_tokens)
        validate(config)
        max_new = min(config.max_new_tokens, self.context_length - 8)
        ids = self.prompt_ids(messages, max_new)
        return self._stream(ids, config, max_new)

    def stream_prompt(self, ids: Sequence[int], config: GenerationConfig | None = None, *,
                      ignore_stop_tokens: bool = False) -> Iterator[str]:
        """Continue raw token ids (benchmarks, completion-style use).

        ``ignore_stop_tokens`` generates exactly ``max_new_tokens`` (benchmarks compare a fixed
        number of tokens against llama.cpp)."""
        config = config or GenerationConfig(max_new_tokens=self.max_new_tokens)
        validate(config)
        ids = [int(t) for t in ids]
        max_new = min(config.max_new_tokens, self.context_length - len(ids))
        if max_new < 1:
            raise InputError("the prompt fills the context window")
        return self._stream(ids, config, max_new, ignore_stop_tokens)

    def generate(self, messages: Sequence[Any] | str, config: GenerationConfig | None = None) -> str:
        if isinstance(messages, str):
            messages = [ChatMessage("user", messages)]
        return "".join(self.stream_chat(messages, config))

    def score(self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[float]:
        """Log-probability of each continuation after ``prompt_ids``: a choice from a closed set.

        Why: a 135M model asked to *write* structured output loops and invents (see
        docs/memory.md); asked to *choose* among given options it cannot leave the set. The prompt
        reuses the KV cache like a chat turn (a shared prefix is fed once); each continuation is
        fed after it and rewound, so scoring many short options costs one prefill of the prompt
        plus the options' own tokens. A one-token option needs no extra run at all. This evicts
        the conversation from the cache; ``scratch()`` scores without doing so.
        """
        with self._lock:
            return self._score_locked(prompt_ids, continuations, self.model.context_length)

    def _score_locked(self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                      limit: int) -> list[float]:
        ids = [int(t) for t in prompt_ids]
        if not ids:
            raise InputError("nothing to score after")
        options = [[int(t) for t in c] for c in continuations]
        if any(not c for c in options):
            raise InputError("an empty continuation has no probability")
        longest = max((len(c) for c in options), default=0)
        if len(ids) + longest > limit:
            raise InputError(f"{len(ids) + longest} tokens exceed the {limit} tokens this scoring may use")
        model = self.model
        reuse = min(model.common_prefix(ids), len(ids) - 1)
        model.rewind(reuse)
        first = log_softmax(model.feed(ids[reuse:]))
        base = len(ids)
        out: list[float] = []
        for c in options:
            total = float(first[c[0]])
            if len(c) > 1:
                rows = log_softmax(model.feed(c[:-1], all_logits=True))
                model.rewind(base)
                total += float(rows[np.arange(len(c) - 1), c[1:]].sum())
            out.append(total)
        return out

    @contextmanager
    def scratch(self, max_tokens: int = SCRATCH_TOKENS, patience_s: float = 30.0) -> Iterator["ScratchScorer"]:
        """Borrow the KV cache for a batch of ``score`` calls and give the conversation back intact.

        Why: rehearsal runs when a session closes, often while another patient is mid-chat. Plain
        ``score`` would evict that patient's cached prefix (their next turn would re-read the whole
        conversation: seconds) and compete with their replies. Here the first ``max_tokens`` KV
        rows are copied aside (~46 KB a row for SmolLM2: 23 MB at 512, briefly) and restored at
        the end, and scoring may use only those rows. Live replies go first: the borrow waits while
        one is pending (up to ``patience_s``), and a reply that arrives during the batch gets the
        engine before the next ``score`` call (the conversation is put back, the reply runs, the
        rows are borrowed again), so it waits for at most one call.
        """
        scorer = ScratchScorer(self, min(int(max_tokens), self.model.context_length), patience_s)
        scorer.borrow()
        try:
            yield scorer
        finally:
            scorer.give_back()

    def prefill(self, messages: Sequence[Any], should_stop: Callable[[], bool] | None = None,
                chunk: int = PREFILL_CHUNK) -> int:
        """Feed the known start of the next prompt into the KV cache in idle time; tokens fed.

        A kiosk knows most of its next prompt once a reply ends (the system message and the
        conversation so far, docs/memory.md): fed while the patient reads and types, only their
        question is left for the time to first token. Rendered without the assistant header, so
        it is a prefix of the next prompt's ids (messages are encoded one by one). Idle work
        yields: it never waits for the engine, and stops between chunks once a reply is waiting
        (here or in ``should_stop``), leaving what it fed in the cache.
        """
        ids = self.render_chat(messages, add_generation_prompt=False)
        if len(ids) >= self.context_length or not self._lock.acquire(blocking=False):
            return 0
        try:
            model = self.model
            start = model.common_prefix(ids)
            if start >= len(ids):
                return 0
            model.rewind(start)
            fed = start
            while fed < len(ids) and not self._pending and not (should_stop is not None and should_stop()):
                model.feed(ids[fed:fed + chunk])  # one of the model's own prefill chunks a call
                fed = min(fed + chunk, len(ids))
            return fed - start
        finally:
            self._lock.release()

    def reset(self) -> None:
        """Drop the cached conversation (e.g. when another patient steps up): the KV cache and the
        rendered-message cache, which holds the previous patient's text."""
        with self._lock:
            self.model.reset()
            self.renderer.clear_cache()

    # -- the loop ----------------------------------------------------------------------------
    def _stream(self, ids: list[int], config: GenerationConfig, max_new: int,
                ignore_stop_tokens: bool = False) -> Iterator[str]:
        with self._pending_lock:
            self._pending += 1  # scratch() lets a waiting reply go first
        try:
            self._lock.acquire()
        finally:
            with self._pending_lock:
                self._pending -= 1
        try:
            yield from self._stream_locked(ids, config, max_new, ignore_stop_tokens)
        finally:
            self._lock.release()

    def _stream_locked(self, ids: list[int], config: GenerationConfig, max_new: int,
                       ignore_stop_tokens: bool) -> Iterator[str]:
        model = self.model
        stats = GenerationStats(prompt_tokens=len(ids))
        self.last_stats = stats
        t0 = time.perf_counter()
        reuse = model.common_prefix(ids)
        if reuse == len(ids):
            reuse -= 1  # the last prompt token must run to give the next-token logits
        model.rewind(reuse)
        stats.reused_tokens = reuse
        logits = model.feed(ids[reuse:])
        sampler = Sampler(config)
        penalize = sampler.penalty != 1.0
        seen: set[int] = set(ids) if penalize else set()
        decoder = IncrementalDecoder(self.tokenizer)
        stops = [s for s in config.stop if s]
        hold = max((len(s) for s in stops), default=1) - 1
        pending = ""
        stop_ids = frozenset() if ignore_stop_tokens else self.stop_token_ids
        generated = stats.token_ids
        t_first = 0.0
        stats.stop_reason = "length"
        for i in range(max_new):
            if penalize or sampler.no_repeat:
                token = sampler(logits, seen, generated)
            else:
                token = sampler(logits)  # the hot path: a plain argmax
            if i == 0:
                t_first = time.perf_counter()
                stats.ttft_s = t_first - t0
            if token in stop_ids:
                stats.stop_reason = "stop_token"
                break
            generated.append(token)
            stats.new_tokens += 1
            if penalize:
                seen.add(token)
            piece = decoder.push(token)
            if piece:
                if stops:
                    pending += piece
                    cut = _find_stop(pending, stops)
                    if cut is not None:
                        if pending[:cut]:
                            yield pending[:cut]
                        pending = ""
                        stats.stop_reason = "stop_string"
                        break
                    if len(pending) > hold:
                        out, pending = pending[: len(pending) - hold], pending[len(pending) - hold:]
                        yield out
                else:
                    yield piece
            if i + 1 < max_new:
                if len(model.cached_ids) >= model.context_length:
                    stats.stop_reason = "context"
                    break
                logits = model.step(token)
        if stats.stop_reason != "stop_string":
            tail = pending + decoder.flush()
            if tail:
                yield tail
        stats.decode_s = time.perf_counter() - t_first if t_first else 0.0


class ScratchScorer:
    """``Engine.scratch()``'s scorer: ``encode`` / ``render_chat`` / ``score`` within the borrowed
    rows, handing the engine to a waiting reply between calls."""

    def __init__(self, engine: Engine, limit: int, patience_s: float) -> None:
        self.engine, self.limit, self.patience_s = engine, limit, patience_s
        self.lends = 0  # how often a reply was let through
        self._snap: Any = None

    def borrow(self) -> None:
        deadline = time.monotonic() + self.patience_s
        while self.engine._pending and time.monotonic() < deadline:
            time.sleep(0.005)
        self.engine._lock.acquire()
        self._snap = self.engine.model.snapshot(self.limit)

    def give_back(self) -> None:
        if self._snap is None:
            return
        try:
            self.engine.model.restore(self._snap)
        finally:
            self._snap = None
            self.engine._lock.release()

    def encode(self, text: str) -> list[int]:
        return self.engine.encode(text)

    def render_chat(self, messages: Sequence[Any], add_generation_prompt: bool = True) -> list[int]:
        return self.engine.render_chat(messages, add_generation_prompt)

    def score(self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[float]:
        if self._snap is None:
            raise InputError("the scratch rows were given back")
        if self.engine._pending:  # a patient's reply is waiting: it goes first
            self.give_back()
            self.lends += 1
            self.borrow()
        return self.engine._score_locked(prompt_ids, continuations, self.limit)


def _find_stop(text: str, stops: list[str]) -> int | None:
    idx = [text.find(s) for s in stops]
    found = [i for i in idx if i >= 0]
    return min(found) if found else None
