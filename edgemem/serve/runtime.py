"""The server's moving parts and the two threads they live on.

Two single-thread executors keep the device's resources honest: the *generation* thread owns the
engine (one onnxruntime session, one generation at a time, see ``queue``), and the *memory*
thread owns the memory service (one SQLite connection and one usearch index, which are not shared
across threads). The event loop never blocks on either; it only awaits their futures.

The engine follows the A/B slots: before each generation the generation thread compares the
active slot's manifest with the one it loaded and, when ``edgemem sync apply`` switched slots,
loads the new bundle and drops the old one. Memories live in the home folder, not in the bundle,
so nothing a patient said is lost across an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from ..assistant import Assistant, MemoryLike
from ..errors import EdgememError
from ..home import Home
from ..interfaces import ChatMessage, GenerationConfig, Generator
from ..profiles import Profile
from ..rss import RssBudget
from .config import ServeConfig
from .queue import GenerationQueue, Job
from .tokens import Session, SessionRegistry, load_or_create_admin_token

log = logging.getLogger("edgemem.serve")
T = TypeVar("T")

EngineLoader = Callable[[Path, Profile | None, Home], Generator]
MemoryOpener = Callable[[Home, Path, Profile], MemoryLike | None]


def load_engine(bundle: Path, profile: Profile | None, home: Home) -> Generator:
    """The real engine: verify the bundle, build the onnxruntime session."""
    from ..engine import Engine

    return Engine.from_bundle(bundle, profile=profile, home=home)


def open_memory(home: Home, bundle: Path, profile: Profile) -> MemoryLike | None:
    """The real memory service, with the bundle's sentence embedder and the home's data key."""
    from ..memory import MemoryService
    from ..memory.vectors import usearch_index

    memory = MemoryService.open(home, bundle=bundle, profile=profile)
    # Pay at boot, not on the first patient's first question: importing usearch (~65 ms, in
    # the order usearch_index keeps safe) and the embedder's first run (its buffers).
    usearch_index()
    if memory.embedder is not None:
        memory.embedder.embed(["Hello, I have had a headache since yesterday."])
    return memory


def release_startup_memory() -> int:
    """Once everything is loaded: give freed heap back and drop code pages only loading ran.

    Why again after the engine did it: the embedder, the classifier, the care cards, SQLite and
    cryptography load after the engine and leave their own import-time code and parse garbage
    resident. What still runs faults back in from the page cache (edgemem.engine.session).
    """
    from ..engine.session import release_load_only_code, trim_heap

    trim_heap()
    return release_load_only_code()


class LiveEngine:
    """The runtime's *current* engine as a ``rehearsal_choice.Scorer``: a hot reload swaps the
    engine under the memory, so the extractor must not hold on to the one it started with."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def _engine(self) -> Any:
        engine = self.runtime.engine
        if engine is None:
            raise RuntimeError("no engine loaded")
        return engine

    def encode(self, text: str) -> list[int]:
        return self._engine().encode(text)

    def render_chat(self, messages: Any, add_generation_prompt: bool = True) -> list[int]:
        return self._engine().render_chat(messages, add_generation_prompt)

    def score(self, prompt_ids: Any, continuations: Any) -> list[float]:
        return self._engine().score(prompt_ids, continuations)

    def scratch(self) -> Any:
        """The current engine's scratch scorer (``Engine.scratch``), or this proxy for an engine
        without one."""
        engine = self._engine()
        scratch = getattr(engine, "scratch", None)
        return scratch() if scratch is not None else contextlib.nullcontext(self)


def llm_rehearser(memory: Any, runtime: Any, profile: Profile | None) -> Any:
    """With ``rehearsal = "llm"`` in the profile, the model's rehearsal for closed sessions
    (``ChoiceExtractor`` over the runtime's current engine); None for the rules alone, or for a
    memory that cannot take notes from outside."""
    if memory is None or getattr(profile, "rehearsal", "rules") != "llm" or not hasattr(memory, "add_session_notes"):
        return None
    from ..memory.rehearsal_choice import ChoiceExtractor

    return ChoiceExtractor(LiveEngine(runtime), getattr(memory, "rules", None))



def load_triage_classifier(bundle: Path | None) -> Any:
    """The bundle's learned triage stage, or None with one warning (the rules still run)."""
    from ..safety import TriageClassifier, find_classifier

    folder = find_classifier(bundle)
    if folder is None:
        log.warning("the bundle has no triage classifier (safety/triage.onnx): emergency triage runs "
                    "on rules and numbers only; rebuild the bundle to add it")
        return None
    try:
        return TriageClassifier(folder)
    except Exception as e:  # a broken classifier must not stop the kiosk: the rules still run
        log.warning("the bundle's triage classifier did not load (%s): rules and numbers only", e)
        return None


def load_care(bundle: Path | None) -> Any:
    """The bundle's care cards and medicine tables, or None with one warning (replies ungrounded)."""
    from ..care import CareContent, find_content

    folder = find_content(bundle)
    if folder is None:
        log.warning("the bundle has no care content (care/cards.json): replies are not grounded in "
                    "care cards; rebuild the bundle to add them")
        return None
    try:
        return CareContent.load(folder)
    except Exception as e:
        log.warning("the bundle's care content did not load (%s): replies are not grounded", e)
        return None


def bundle_fingerprint(bundle: Path | None) -> tuple[str, int, int] | None:
    """What changes when a slot switch or a re-apply puts a different bundle in place."""
    if bundle is None:
        return None
    try:
        st = (bundle / "manifest.json").stat()
    except OSError:
        return None
    return (str(bundle.resolve()), st.st_mtime_ns, st.st_size)


def session_owner(session_id: str | None) -> str:
    """The engine-cache owner of a patient session (``Runtime.claim_cache``)."""
    return f"session:{session_id}"


class Runtime:
    """Engine, memory, assistant, queue and sessions of one server process."""

    def __init__(self, home: Home, config: ServeConfig, profile: Profile, *,
                 bundle: Path | None = None, engine_loader: EngineLoader = load_engine,
                 memory_opener: MemoryOpener = open_memory) -> None:
        self.home = home
        self.config = config
        self.profile = profile
        self.fixed_bundle = bundle
        self._engine_loader = engine_loader
        self._memory_opener = memory_opener
        self.queue = GenerationQueue(config.queue_size)
        self._memory_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgemem-memory")
        # The model's rehearsal of closed sessions runs here, not on the memory thread: it takes
        # ~0.6 s a patient turn, and the next patient's session start must not queue behind it.
        self._rehearsal_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgemem-rehearsal")
        self.rehearser: Any = None
        self._rehearsals: set[asyncio.Task[Any]] = set()
        self.sessions = SessionRegistry()
        self.admin_token = load_or_create_admin_token(home)
        from .identify import Identifier

        self.identifier = Identifier(home.root, config.identify or getattr(profile, "identify", "number"),
                                     max_failures=config.identify_max_failures,
                                     lockout_s=config.identify_lockout_s, backoff_s=config.identify_backoff_s,
                                     kiosk_max_failures=config.identify_kiosk_max_failures,
                                     kiosk_window_s=config.identify_kiosk_window_s)
        self.engine: Generator | None = None
        self.memory: MemoryLike | None = None
        self.assistant = Assistant(None, profile, prompt_budget=config.prompt_budget)
        self.bundle: Path | None = None
        self.bundle_info: dict[str, Any] = {}
        self._fingerprint: tuple[str, int, int] | None = None
        self.problem: str | None = "starting"
        self.reloads = 0
        self.recovered: dict[str, int] = {}  # what recovery.finish_sessions did at start
        # Counters for /readyz and the tests: how requests ended.
        self.stats = {"completed": 0, "cancelled": 0, "red_flags": 0, "timeouts": 0}
        self._reload_lock = threading.Lock()
        # The profile's rss_budget_mb as a contract: checked after start, after every reply and
        # by /readyz; a peak past it is a warning in the log (edgemem.rss).
        self.rss = RssBudget(profile.rss_budget_mb, name=profile.name)
        # Whose prompt the engine's KV cache holds (generation thread only). A cached prefix is
        # what makes a follow-up fast, and what a stranger could probe (cached_tokens, time to
        # first token) to learn a patient's facts: it never serves another owner.
        self._cache_owner: str | None = None
        # Replies being generated, per session id: ending or forgetting the session stops them.
        self._replies: dict[str, "weakref.WeakSet[Job]"] = {}

    # Threads.
    def on_memory(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> "Future[T]":
        return self._memory_thread.submit(fn, *args, **kwargs)

    async def memory_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.wrap_future(self.on_memory(fn, *args, **kwargs))

    @property
    def ready(self) -> bool:
        return self.problem is None

    def current_bundle(self, *, booting: bool = False) -> Path | None:
        """The bundle to serve; at process start through the A/B boot counter (``slots.boot``)."""
        if self.fixed_bundle is not None:
            return self.fixed_bundle
        from ..sync import slots

        return slots.boot(self.home) if booting else slots.active_bundle(self.home)

    # Start, reload, stop.
    async def start(self) -> None:
        """Load the engine (generation thread) and open the memory (memory thread)."""
        try:
            await self.queue.run_sync(self._load_engine)
            if self.engine is not None and self.memory is None and self.bundle is not None:
                self.memory = await self.memory_call(self._memory_opener, self.home, self.bundle, self.profile)
                self.rehearser = llm_rehearser(self.memory, self, self.profile)
                self.assistant = Assistant(self.memory, self.profile, prompt_budget=self.config.prompt_budget,
                                           triage_classifier=load_triage_classifier(self.bundle),
                                           care=load_care(self.bundle))
            if self.memory is not None:  # a crash's open sessions end before we say "ready"
                from .recovery import finish_sessions

                self.recovered = await self.memory_call(finish_sessions, self.memory, self.home)
            # The red-flag rules compile on first use (~0.2 s): do it now, not on a patient's message.
            await self.memory_call(self.assistant.triage, "Hello")
            await self.memory_call(release_startup_memory)
            if self.engine is not None:
                self.problem = None
            self.rss.check("after start")
        except EdgememError as e:
            self.problem = str(e)
        except Exception as e:  # a broken bundle must leave a server that says why, not a crash
            log.exception("startup failed")
            self.problem = f"startup failed: {type(e).__name__}: {e}"

    def _load_engine(self) -> None:
        """Load the current bundle if it differs from the loaded one (generation thread)."""
        with self._reload_lock:
            bundle = self.current_bundle(booting=self.engine is None)
            fp = bundle_fingerprint(bundle)
            if bundle is None or fp is None:
                if self.engine is None:
                    self.problem = "no active bundle: apply one with `edgemem sync apply BUNDLE` or pass --bundle"
                return
            if fp == self._fingerprint and self.engine is not None:
                return
            provenance = self._refuse_device_signed(bundle)
            t0 = time.perf_counter()
            engine = self._engine_loader(bundle, self.profile, self.home)
            if provenance is not None:  # a device merge under production: its decoder's behaviour
                provenance["golden"] = self._merged_golden_gate(bundle, engine)
            # One token now: proves the bundle generates (the A/B trial counts this as a good
            # start) and keeps first-use costs away from the first patient.
            for _ in engine.stream_chat([ChatMessage("user", "Hello")], GenerationConfig(max_new_tokens=1)):
                pass
            if self.fixed_bundle is None:
                from ..sync import slots

                slots.mark_started(self.home)
            old = self.engine
            self.engine, self.bundle, self._fingerprint = engine, bundle, fp
            self._cache_owner = None
            manifest = getattr(engine, "manifest", None)
            self.bundle_info = {
                "path": str(bundle),
                "version": getattr(manifest, "version", None) if manifest is not None else None,
                "load_s": round(time.perf_counter() - t0, 3),
            }
            if provenance is not None:
                self.bundle_info["device_merge"] = provenance
            if old is not None:
                self.reloads += 1
                log.info("switched to bundle %s", bundle)
                close = getattr(old, "close", None)
                if close is not None:
                    close()

    def _refuse_device_signed(self, bundle: Path) -> dict[str, Any] | None:
        """A production profile serves only bundles whose signing key is not on the device, and
        bundles this device merged from vendor-signed parts (``sync.provenance``) unless the
        profile says ``device_merges = "refuse"``. Returns the merge's provenance when it is one."""
        if not getattr(self.profile, "production", False) or self.config.allow_device_signed:
            return None
        import json

        from ..keys import device_signing_keys, trusted_keys
        from ..sync.adapter import DEVICE_KEY

        try:
            kid = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))["signature"]["key_id"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # unsigned or unreadable: bundle.verify refuses it with its own reason
        local = device_signing_keys(self.home)
        if kid not in local:
            return None
        where = (f"bundle {bundle.name} is signed by key {kid}, whose private half is on this device "
                 f"({local[kid].name})")
        if local[kid].name == DEVICE_KEY:
            if getattr(self.profile, "device_merges", "verified") == "refuse":
                raise EdgememError(f"{where}: it was merged on this device from an adapter update, and the "
                                   f"production profile {self.profile.name!r} says device_merges = \"refuse\"; "
                                   f"apply the vendor's full bundle, or pass --allow-device-signed")
            from ..sync.provenance import check_device_merge

            vendor = {k: v for k, v in trusted_keys(self.home).items() if k not in local}
            try:
                return check_device_merge(bundle, vendor)
            except EdgememError as e:
                raise EdgememError(f"{where}: refused under the production profile {self.profile.name!r}, "
                                   f"because its vendor-signed origin does not check out: {e}; apply the "
                                   f"vendor's full bundle, or pass --allow-device-signed") from None
        raise EdgememError(f"{where}: refused under the production profile "
                           f"{self.profile.name!r}; sign it off-device, or pass --allow-device-signed")

    def _merged_golden_gate(self, bundle: Path, engine: Any) -> dict[str, Any]:
        """A device merge under production: the loaded decoder must pass the update's
        vendor-signed golden-text gate, or it is not served."""
        from ..sync.provenance import golden_gate

        model = getattr(engine, "model", None)
        try:
            if model is None:
                raise EdgememError("this engine exposes no decoder to score")
            got = golden_gate(bundle, model)
        except EdgememError as e:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
            raise EdgememError(f"bundle {bundle.name} (merged on this device) refused under the production "
                               f"profile {self.profile.name!r}: {e}") from None
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in got.items()}

    def maybe_reload(self) -> None:
        """Between requests, on the generation thread: pick up a bundle applied since."""
        if self.fixed_bundle is not None:
            return
        try:
            self._load_engine()
        except Exception as e:  # keep serving the bundle that works, and make the slots agree
            log.warning("new bundle failed to load, keeping the current one: %s", e)
            try:
                from ..sync import slots

                slots.rollback(self.home, f"failed to load in the server: {type(e).__name__}")
                self._fingerprint = bundle_fingerprint(slots.active_bundle(self.home))
            except Exception as e2:
                log.warning("rollback after a failed load did not work either: %s", e2)

    async def stop(self) -> None:
        """Let the generation thread finish (its requests are cancelled by now), end open sessions
        (so they consolidate), then close the memory."""
        await asyncio.to_thread(self.queue.shutdown)
        for s in self.sessions.all():
            self.close_session(s)
            try:
                await self.memory_call(self.assistant.end_session, s.user, s.session_id)
                from ..privacy.audit import record

                record(self.home, "session_end", user=s.user, actor="shutdown", session=s.session_id)
            except Exception as e:
                self.log_failure("could not end session on shutdown", e, s.user)
        await self.rehearsals_done()
        if self.memory is not None and hasattr(self.memory, "close"):
            await self.memory_call(self.memory.close)
        self._rehearsal_thread.shutdown(wait=True)
        self._memory_thread.shutdown(wait=True)

    # The engine's cache (generation thread).
    def claim_cache(self, owner: str) -> None:
        """Before the engine runs for ``owner``: a prefix cached for anyone else is dropped first.

        Owners are ``session:<id>`` (a patient session: its follow-ups reuse the prefix),
        ``admin`` and ``anon:<random>`` (every token-less request is a stranger of its own).
        """
        if owner != self._cache_owner:
            self._reset_engine_cache()
            self._cache_owner = owner

    def _reset_engine_cache(self) -> None:
        reset = getattr(self.engine, "reset", None)
        if reset is not None:
            reset()
        self._cache_owner = None

    def release_cache(self, owners: "set[str] | str") -> None:
        """A session ended or its patient was forgotten: drop its prefix (the patient's words
        in memory) once the generation thread is free, before any later request."""
        wanted = {owners} if isinstance(owners, str) else set(owners)

        def drop() -> None:
            if self._cache_owner in wanted:
                self._reset_engine_cache()

        self.queue.later(drop)

    # Logs name patients by their audit pseudonym, never by number (issue 18).
    def scrub(self, text: str, *users: str | None) -> str:
        """``text`` with each patient id in ``users`` replaced by its audit pseudonym."""
        from ..privacy.audit import AuditLog

        log_ = AuditLog(self.home)
        for user in sorted({u for u in users if u}, key=len, reverse=True):
            text = text.replace(user, log_.pseudonym(user))
        return text

    def log_failure(self, what: str, e: BaseException, *users: str | None, trace: bool = False) -> None:
        """One warning line (or a traceback) about a failure, patient ids pseudonymised."""
        import traceback

        body = "".join(traceback.format_exception(e)) if trace else f"{type(e).__name__}: {e}"
        log.warning("%s", self.scrub(f"{what}: {body}".rstrip(), *users))

    # Replies in flight.
    def track_reply(self, session_id: str | None, job: Job) -> None:
        if session_id is not None:
            self._replies.setdefault(session_id, weakref.WeakSet()).add(job)

    def revoke_replies(self, session_id: str | None) -> None:
        """The session ended or its patient was forgotten: its replies stop at the next token and
        are not stored. Called before the memory is told, so nothing arrives after it."""
        for job in list(self._replies.pop(session_id, ()) if session_id is not None else ()):
            job.revoke()

    def record_reply(self, turn: Any, reply: str, job: Job) -> None:
        """Store a finished reply (memory thread) unless its session is gone: a reply cut short by
        *End session* or *Forget me* is neither stored nor allowed to recreate the patient.
        The session's idle timer restarts here, at the end of the reply, not at its request."""
        if turn.session_id is not None:
            self.sessions.touch(session_id=turn.session_id)
        if job.revoked:
            return
        if turn.session_id is not None and self.sessions.find(session_id=turn.session_id) is None:
            return
        self.assistant.record(turn, reply)

    def close_session(self, session: Session) -> None:
        """Revoke a session now (event loop): its token, its replies in flight, its cached prefix."""
        self.sessions.remove(session.token)
        self.revoke_replies(session.session_id)
        self.release_cache(session_owner(session.session_id))

    async def identify(self, user: str, secret: Any, *, enrol: bool = True, again: Any = None) -> bool:
        """Check the patient's credential before anything is stored for them (serve.identify)."""
        if self.identifier.mode == "number":
            return False
        memory = self.memory
        known = bool(await self.memory_call(memory.knows, user)) if memory is not None and hasattr(memory, "knows") else False
        return await asyncio.to_thread(self.identifier.check, user, secret, known, enrol=enrol, again=again)

    # Sessions.
    async def start_session(self, user: str, kind: str) -> Session:
        sid = await self.memory_call(self.assistant.start_session, user)
        session = self.sessions.add(user, sid, kind)
        self.warm_later(user, sid)  # the system message and patient facts, while they type
        return session

    def warm_later(self, user: str, session_id: str | None, max_new_tokens: int | None = None) -> None:
        """Prefill the session's next prompt start on the generation thread when it is free.

        Called when a session starts and after each reply: the patient's reading and typing time
        pays for the system message, the patient facts and a conversation-window jump, and the
        next question's first token waits only for its own tokens (docs/memory.md).
        """
        if self.memory is None or session_id is None:
            return

        def open_() -> bool:  # an ended or forgotten session's prefix must not come back
            return self.sessions.find(session_id=session_id) is not None

        def work(busy: Callable[[], bool]) -> None:
            engine = self.engine
            if engine is None or busy() or not hasattr(engine, "prefill") or not open_():
                return
            messages = self.on_memory(self.assistant.next_prefix, user, session_id, engine,
                                      max_new_tokens).result()
            if messages and not busy() and open_():
                self.claim_cache(session_owner(session_id))
                engine.prefill(messages, busy)

        self.queue.idle(work)

    async def end_session(self, session: Session) -> None:
        """Close a session: the rules' rehearsal and consolidation now; the model's, if the profile
        asks for it, in the background (the kiosk page and the next patient do not wait)."""
        self.close_session(session)
        await self.memory_call(self.assistant.end_session, session.user, session.session_id)
        self.rehearse_later(session.user, session.session_id)

    def rehearse_later(self, user: str, session_id: str) -> None:
        if self.rehearser is None or self.memory is None:
            return
        task = asyncio.get_running_loop().create_task(self._rehearse(user, session_id))
        self._rehearsals.add(task)
        task.add_done_callback(self._rehearsals.discard)

    async def _rehearse(self, user: str, session_id: str) -> None:
        from ..memory.rehearsal import session_end_notes

        memory, rehearser = self.memory, self.rehearser
        try:
            turns = await self.memory_call(memory.session_patient_turns, user, session_id)  # type: ignore[union-attr]
            notes = await asyncio.wrap_future(self._rehearsal_thread.submit(session_end_notes, rehearser, turns))
            if notes:
                await self.memory_call(memory.add_session_notes, user, session_id, notes)  # type: ignore[union-attr]
        except EdgememError as e:  # e.g. the patient was forgotten meanwhile: nothing to add
            log.info("%s", self.scrub(f"model rehearsal of a closed session dropped: {e}", user))
        except Exception as e:
            self.log_failure("model rehearsal of a closed session failed", e, user, trace=True)

    @property
    def rehearsals_pending(self) -> int:
        """Closed sessions whose model rehearsal has not finished: a backlog that keeps growing
        means sessions end faster than the model can rehearse them (/readyz shows it)."""
        return len(self._rehearsals)

    async def rehearsals_done(self) -> None:
        """Wait for the model's rehearsals still running (shutdown, tests)."""
        while self._rehearsals:
            await asyncio.gather(*list(self._rehearsals), return_exceptions=True)

    async def api_session(self, user: str) -> Session:
        """The open API session of ``user`` (an integration passing ``user``), started on demand."""
        s = self.sessions.find(user=user, kind="api")
        if s is not None:
            s.last_used = time.monotonic()
            return s
        return await self.start_session(user, "api")

    async def sweep_idle(self) -> int:
        """End sessions nobody used for ``session_idle_s`` (a patient walked away)."""
        # A session with a reply still streaming is not idle: the timer runs from its end.
        busy = {sid for sid, jobs in self._replies.items() if any(not j.finished.is_set() for j in jobs)}
        gone = self.sessions.idle(self.config.session_idle_s, busy)
        for s in gone:
            self.close_session(s)
            try:
                await self.memory_call(self.assistant.end_session, s.user, s.session_id)
                self.rehearse_later(s.user, s.session_id)
                from ..privacy.audit import record

                record(self.home, "session_end", user=s.user, actor="idle", session=s.session_id)
            except Exception as e:
                self.log_failure("idle session end failed", e, s.user)
        return len(gone)
