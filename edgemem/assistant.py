"""The assistant: what happens to one patient message, shared by the server and the terminal chat.

Order matters and is the same everywhere a patient can type: the red-flag check runs first and,
when it fires, bypasses the model entirely (a 135M model must never be the one that answers
"I have crushing chest pain"); otherwise the user turn is stored, the memory assembles the prompt
(system prompt, what it remembers about this patient, the session's recent turns) within the
model's window, the engine streams the reply, and the reply is stored as the assistant's turn.

The steps are separate methods (``triage``, ``prepare``, ``generate``, ``record``) because the
server runs them on different threads: memory work on the memory thread, generation on the one
generation thread, triage on the event loop so an emergency never waits behind the queue.
``chat`` runs them in order for a single-threaded caller such as ``edgemem chat --user``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Protocol, Sequence

from . import safety
from .care import CareContent
from .care.checks import SentenceGate
from .care.compose import acknowledge_reply, compose, courtesy_reply, no_card_reply, recall_reply
from .care.route import find_cards, route
from .errors import InputError
from .interfaces import ChatMessage, GenerationConfig, Generator
from .memory.preference import explicit_preference
from .memory.types import KIOSK_SPEAKER, Note
from .profiles import Profile

# Worded for a 135M model: "you do not diagnose" made SmolLM2 refuse ("I'm not equipped to...")
# even simple self-care questions; this wording gets practical answers and still sends serious
# cases to staff. (Emergencies never reach the model: the red-flag check answers them.)
DEFAULT_SYSTEM_PROMPT = (
    "You are a friendly health assistant at a clinic kiosk. Give short, practical advice in plain "
    "words and use what you know about the patient. Suggest seeing a doctor or nurse when "
    "symptoms are serious or do not get better."
)
MAX_MESSAGE_CHARS = 4000
# How a medical reply is made. "card": composed from the personalised card (small talk gets fixed
# courteous lines; a question no card fits is sent to the staff; the model writes nothing). "guided": the model rephrases the card
# and the SentenceGate checks it (kept for the ablation, and for a better model one day).
REPLY_MODES = ("card", "guided")
# What the model writes itself (guided replies; any turn with no care content), unless the caller chose its own
# sampling: a cap by the patient's style, and no looping (the judged evaluation saw 33 of 48
# replies loop one sentence under greedy decoding with no penalty). benchmarks/reply_ablation.py
# measures both.
STYLE_TOKENS = {"concise": 64, "polite": 96, "detailed": 192}
NO_REPEAT_NGRAM = 4
REPETITION_PENALTY = 1.1
_SENTENCE_END = re.compile(r"[.!?](?:[\"')\]]*)(?=\s|$)")
URGENT_INSTRUCTION = ("This patient may need to be seen soon: begin by telling them to speak to a member "
                      "of staff now.")


class MemoryLike(Protocol):
    """The part of ``edgemem.memory.MemoryService`` the assistant uses."""

    def start_session(self, user: str) -> str: ...

    def add_turn(self, user: str, session_id: str, role: str, text: str, time: Any = None, *,
                 speaker: str | None = None) -> Any: ...

    def add_note(self, user: str, session_id: str, note: Note) -> None: ...

    def preference(self, user: str) -> str | None: ...

    def end_session(self, user: str, session_id: str) -> Any: ...

    def build_prompt(self, user: str, session_id: str, budget_tokens: int,
                     count_tokens: Callable[[str], int], system_prompt: str) -> Any: ...


@dataclass
class RedFlag:
    """An emergency or urgent sign detected in a patient message.

    Tier ``emergency``: the fixed message replaces the model's reply. Tier ``urgent``: the reply is
    generated, with a "see staff now" banner beside it and an instruction in the prompt.
    """

    category: str
    message: str
    emergency_number: str
    tier: str = "emergency"
    stage: str = "rule"

    @property
    def emergency(self) -> bool:
        return self.tier == "emergency"

    def to_dict(self) -> dict[str, str]:
        return {"category": self.category, "message": self.message,
                "emergency_number": self.emergency_number, "tier": self.tier, "stage": self.stage}


@dataclass
class Turn:
    """One patient message on its way through the assistant."""

    user: str | None
    session_id: str | None
    text: str
    messages: list[ChatMessage] = field(default_factory=list)
    red_flag: RedFlag | None = None
    urgent: RedFlag | None = None
    explain: Any = None
    advice: Any = None          # care.Advice: the card this reply is grounded in, personalised
    cards: list[str] = field(default_factory=list)
    guidance: str | None = None  # the system message built from the card, placed before the question
    check_failed: str | None = None
    turn_id: str | None = None          # the stored patient turn (provenance of what was advised)
    composed: list[str] | None = None  # the reply, when it is composed and not generated
    no_card: bool = False              # a question no card fits: sent to the staff
    style: str | None = None           # the reply style (asked for now, or the stored preference)


def check_text(text: str) -> str:
    """Reject what cannot be a patient message with a one-line reason."""
    if not isinstance(text, str):
        raise InputError("message must be text")
    text = text.replace("\x00", "").strip()
    if not text:
        raise InputError("message is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a JSON "\udc80" escape
        raise InputError("message is not valid Unicode text") from None
    if len(text) > MAX_MESSAGE_CHARS:
        raise InputError(f"message is longer than {MAX_MESSAGE_CHARS} characters")
    return text


def detect_red_flag(text: str, profile: Profile, context: Sequence[str] = (),
                    classifier: "safety.TriageClassifier | None" = None) -> RedFlag | None:
    """The safety part's detector (``edgemem.safety.check``) with this profile's number."""
    hit = safety.check(text, profile.emergency_number, context=context, classifier=classifier)
    if hit is None:
        return None
    return RedFlag(category=hit.category, message=hit.message, emergency_number=profile.emergency_number,
                   tier=hit.tier, stage=hit.stage)


class Assistant:
    """Red-flag check, memory-assembled prompt, streamed generation, stored turns."""

    def __init__(self, memory: MemoryLike | None, profile: Profile, *,
                 system_prompt: str = DEFAULT_SYSTEM_PROMPT,
                 red_flag: Callable[..., RedFlag | None] = detect_red_flag,
                 prompt_budget: int | None = None,
                 triage_classifier: "safety.TriageClassifier | None" = None,
                 care: "CareContent | None" = None, reply_mode: str = "card") -> None:
        if reply_mode not in REPLY_MODES:
            raise InputError(f"reply_mode must be one of {', '.join(REPLY_MODES)}")
        self.reply_mode = reply_mode
        # The kiosk's shaping of the model's own words (style cap, no-repeat, penalty); off only
        # where a long generation is the point (the server's cancellation tests).
        self.shape_model_replies = True
        self.memory = memory
        # Prompt tokens the memory may fill. None: the whole window minus the reply. A kiosk caps
        # it because prefill time grows with the prompt (the first token waits for all of it).
        self.prompt_budget = prompt_budget
        self.profile = profile
        self.system_prompt = system_prompt
        self._red_flag = red_flag
        self.triage_classifier = triage_classifier
        self.care = care
        # The session's last few patient messages, for triage only ("my baby is 7 weeks old" ...
        # "she's burning up"). In memory, never on disk; dropped at session end.
        self._recent: OrderedDict[str, deque[str]] = OrderedDict()
        self._recent_lock = threading.Lock()
        # Guidance given per session and question (see _with_guidance); card text, no patient words
        # beyond the question it is keyed by, in memory only and dropped at session end.
        self._guidance: dict[str, dict[str, str]] = {}

    # Sessions (memory thread).
    def start_session(self, user: str) -> str | None:
        return self.memory.start_session(user) if self.memory is not None else None

    def end_session(self, user: str, session_id: str | None) -> None:
        """Clear the working memory and consolidate (MaLP's rehearsal and executive steps)."""
        self.forget_context(session_id)
        if self.memory is not None and session_id is not None:
            self.memory.end_session(user, session_id)

    def forget_context(self, session_id: str | None) -> None:
        """Drop the triage context of a session (ended, forgotten, expired)."""
        if session_id is not None:
            with self._recent_lock:
                self._recent.pop(session_id, None)
                self._guidance.pop(session_id, None)

    # One message (triage: any thread, cheap).
    def triage(self, text: str, session_id: str | None = None) -> RedFlag | None:
        """Emergency or urgent sign in ``text``, read with the session's last patient turns."""
        context: list[str] = []
        if session_id is not None:
            with self._recent_lock:
                recent = self._recent.get(session_id)
                context = list(recent) if recent else []
        flag = self._red_flag(text, self.profile, context, self.triage_classifier)
        if session_id is not None:
            with self._recent_lock:
                recent = self._recent.setdefault(session_id, deque(maxlen=safety.CONTEXT_TURNS))
                recent.append(text[:2000])
                self._recent.move_to_end(session_id)
                while len(self._recent) > 512:  # sessions that were never ended
                    self._recent.popitem(last=False)
        return flag

    def prepare(self, user: str | None, session_id: str | None, text: str,
                generator: Generator, *, history: Sequence[ChatMessage] | None = None,
                system_prompt: str | None = None, max_new_tokens: int | None = None,
                urgent: RedFlag | None = None) -> Turn:
        """Store the user turn and assemble the prompt (memory thread).

        With ``history`` (an OpenAI client that sends the whole conversation) the memory supplies
        the system part (system prompt plus what it remembers) and the client's messages are the
        conversation; without it the memory's session turns are.
        """
        text = check_text(text)
        turn = Turn(user=user, session_id=session_id, text=text, urgent=urgent)
        turn.style = self.style(user, text)
        system = system_prompt or self.system_prompt
        if urgent is not None:
            system = system + " " + URGENT_INSTRUCTION
        budget = self._budget(generator, max_new_tokens)
        if self.memory is None or user is None or session_id is None:
            turn.messages = [ChatMessage("system", system), *(history or ()), ChatMessage("user", text)]
            self._ground(turn, None)
            if turn.guidance is not None and turn.messages and turn.messages[-1].role == "user":
                turn.messages.insert(len(turn.messages) - 1, ChatMessage("system", turn.guidance))
            return turn
        turn.turn_id = self.memory.add_turn(user, session_id, "user", text)
        plan = self.memory.build_prompt(user, session_id, budget, generator.count_tokens, system)
        turn.explain = getattr(plan, "explain", None)
        planned = [_as_message(m) for m in getattr(plan, "messages", plan)]
        if history is None:
            turn.messages = planned
        else:
            turn.messages = _with_client_history(planned, history, text)
        self._ground(turn, plan)
        turn.messages = self._with_guidance(session_id, turn.messages)
        return turn

    def _facts(self, turn: Turn, plan: Any) -> Any:
        """The patient's structured facts: the memory's "Patient facts" block, this session's
        patient turns and the question, read with the medicine table."""
        assert self.care is not None
        known: list[str] = []
        for m in getattr(plan, "messages", None) or []:
            content = getattr(m, "content", "") if not isinstance(m, dict) else m.get("content", "")
            if "Patient facts:" in content:
                known.append(content.split("Patient facts:", 1)[1])
        if turn.session_id is not None:
            with self._recent_lock:
                known += list(self._recent.get(turn.session_id, ()))
        known.append(turn.text)
        return self.care.lexicon.facts_from_text(known)

    def style(self, user: str | None, text: str) -> str | None:
        """The reply style: asked for in this message, else the patient's stored preference."""
        asked = explicit_preference(text)
        if asked is not None:
            return asked
        if self.memory is not None and user is not None:
            return self.memory.preference(user)
        return None

    def _ground(self, turn: Turn, plan: Any) -> None:
        """Pick the card for this question and personalise it with the patient's facts. In "card"
        mode the reply is composed from it; in "guided" mode its lines go in a system message
        (after the memory's part, so the prefix cache still holds) for the model to rephrase."""
        if self.care is None:
            return
        if self.reply_mode == "card":
            r = route(turn.text, self.care)
            if r.kind == "courtesy":
                turn.composed = courtesy_reply(turn.text, turn.style).sentences
            elif r.kind == "recall":
                turn.composed = recall_reply(self._facts(turn, plan).notes(self.care.lexicon)).sentences
            elif r.kind == "acknowledge":
                turn.composed = acknowledge_reply(r.said, turn.style).sentences
            elif r.kind == "no_card":
                turn.composed, turn.no_card = no_card_reply(turn.style).sentences, True
            if r.kind != "card":
                return
            hits = r.hits
        else:
            hits = find_cards(self.care, turn.text)
            if not hits:
                return
        facts = self._facts(turn, plan)
        advice = self.care.personalise(_for_audience(hits, facts, turn.text).card, facts)
        turn.advice, turn.cards = advice, [advice.card_id]
        if self.reply_mode == "card":
            turn.composed = compose(advice, turn.style, self.care.lexicon).sentences
            return
        notes = " ".join(facts.notes(self.care.lexicon))
        guidance = (f"Answer from this guidance only ({advice.title}): " + " ".join([advice.summary, *advice.steps[:4],
                    *advice.cautions[:2]]) + (f" What you know about the patient: {notes}" if notes else "")
                    + " Do not name any other medicine.")
        turn.guidance = guidance
        if turn.session_id is not None:
            with self._recent_lock:
                self._guidance.setdefault(turn.session_id, {})[turn.text.strip()] = guidance

    def _with_guidance(self, session_id: str | None, messages: list[ChatMessage]) -> list[ChatMessage]:
        """Each grounded question keeps its guidance right before it in every later prompt, so a
        session's prompt only grows at its end and the engine's prefix cache keeps working."""
        if session_id is None:
            return messages
        with self._recent_lock:
            known = dict(self._guidance.get(session_id, {}))
        if not known:
            return messages
        out: list[ChatMessage] = []
        for m in messages:
            g = known.get(m.content.strip()) if m.role == "user" else None
            if g is not None and not (out and out[-1].role == "system" and out[-1].content == g):
                out.append(ChatMessage("system", g))
            out.append(m)
        return out

    def _budget(self, generator: Generator, max_new_tokens: int | None) -> int:
        new_tokens = max_new_tokens or self.profile.max_new_tokens
        budget = max(64, min(self.profile.context_length, generator.context_length) - new_tokens)
        if self.prompt_budget is not None:
            budget = max(64, min(budget, self.prompt_budget))
        return budget

    def next_prefix(self, user: str | None, session_id: str | None, generator: Generator,
                    max_new_tokens: int | None = None) -> list[ChatMessage] | None:
        """The known start of this session's next prompt (memory thread), for ``warm``.

        None when there is nothing to prefill: no memory, or no session (an API client owns its
        conversation and may send anything next).
        """
        if self.memory is None or user is None or session_id is None or not hasattr(self.memory, "next_prefix"):
            return None
        plan = self.memory.next_prefix(user, session_id, self._budget(generator, max_new_tokens),
                                       generator.count_tokens, self.system_prompt)
        return self._with_guidance(session_id, [_as_message(m) for m in getattr(plan, "messages", plan)]) or None

    def warm(self, user: str | None, session_id: str | None, generator: Generator, *,
             should_stop: Callable[[], bool] | None = None, max_new_tokens: int | None = None) -> int:
        """Prefill the next prompt's known start while the patient reads and types; tokens fed.

        All steps on the caller's thread (the server splits them: ``next_prefix`` on the memory
        thread, ``generator.prefill`` as idle work on the generation thread).
        """
        messages = self.next_prefix(user, session_id, generator, max_new_tokens)
        prefill = getattr(generator, "prefill", None)
        if not messages or prefill is None:
            return 0
        return int(prefill(messages, should_stop))

    # Generation thread.
    def generate(self, turn: Turn, generator: Generator, config: GenerationConfig,
                 cancelled: Callable[[], bool] = lambda: False) -> Iterator[str]:
        """Stream the reply; stops between tokens once ``cancelled()`` turns true."""
        if turn.red_flag is not None:
            yield turn.red_flag.message
            return
        if turn.composed is not None:
            # Reviewed card sentences: nothing to check, and the first one shows at once.
            for i, sentence in enumerate(turn.composed):
                if cancelled():
                    return
                yield sentence + (" " if i < len(turn.composed) - 1 else "")
            return
        config = self.reply_config(turn, config)
        stream = generator.stream_chat(turn.messages, config)
        gate = SentenceGate(turn.advice, self.care.lexicon) if turn.advice is not None and self.care else None
        if gate is None and self.shape_model_replies:
            stream = _complete_sentences(stream)
        try:
            for piece in stream:
                if cancelled():
                    break
                if not piece:
                    continue
                if gate is None:
                    yield piece
                    continue
                for sentence in gate.feed(piece):
                    yield sentence + " "
                if gate.failed is not None:
                    break
            if gate is not None and not cancelled():
                for sentence in gate.finish():
                    yield sentence + " "
                turn.check_failed = gate.failed
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def reply_config(self, turn: Turn, config: GenerationConfig) -> GenerationConfig:
        """The kiosk's sampling for the model's own words, unless the caller chose penalties."""
        if not self.shape_model_replies or config.repetition_penalty != 1.0 or config.no_repeat_ngram:
            return config
        cap = STYLE_TOKENS.get(turn.style or "concise", STYLE_TOKENS["concise"])
        return replace(config, max_new_tokens=min(config.max_new_tokens, cap),
                       repetition_penalty=REPETITION_PENALTY, no_repeat_ngram=NO_REPEAT_NGRAM)

    # Memory thread.
    def record(self, turn: Turn, reply: str) -> None:
        """Store what the patient was shown (also a partial reply cut short by a disconnect)."""
        if self.memory is None or turn.user is None or turn.session_id is None or not reply.strip():
            return
        if turn.red_flag is not None:
            self.memory.add_turn(turn.user, turn.session_id, "user", turn.text)
        # The kiosk's words stay in the transcript but are never a source of facts (KIOSK_SPEAKER);
        # what was advised is remembered as the card, in the card's own title and id.
        self.memory.add_turn(turn.user, turn.session_id, "assistant", reply, speaker=KIOSK_SPEAKER)
        if turn.advice is not None:
            self.memory.add_note(turn.user, turn.session_id, Note(
                text=f"Kiosk guidance given: {turn.advice.title} (card {turn.advice.card_id})", kind="advice",
                subject=turn.advice.title.casefold(), source_ids=[turn.turn_id] if turn.turn_id else []))

    def chat(self, user: str | None, session_id: str | None, text: str, generator: Generator,
             config: GenerationConfig | None = None) -> Iterator[str]:
        """All steps in order on the caller's thread (the terminal chat)."""
        text = check_text(text)
        flag = self.triage(text, session_id)
        if flag is not None and flag.emergency:
            turn = Turn(user=user, session_id=session_id, text=text, red_flag=flag)
        else:
            turn = self.prepare(user, session_id, text, generator, urgent=flag)
        pieces: list[str] = []
        try:
            for piece in self.generate(turn, generator, config or GenerationConfig(
                    max_new_tokens=self.profile.max_new_tokens)):
                pieces.append(piece)
                yield piece
        finally:
            self.record(turn, "".join(pieces))


_YOUNG = ("children", "babies")
_ABOUT_A_CHILD = re.compile(r"\b(?:child|children|son|daughter|baby|babies|kid|kids|toddler|infant|newborn|"
                            r"boy|girl|little one|\d{1,2} ?(?:months?|weeks?) old|[1-9] ?(?:years?|yrs?) old)\b", re.I)


def _complete_sentences(stream: Iterator[str]) -> Iterator[str]:
    """Pass the model's text on up to its last complete sentence; a tail cut off by the token cap
    is dropped (unless it is all there is)."""
    held = ""
    shown = False
    try:
        for piece in stream:
            held += piece
            ends = list(_SENTENCE_END.finditer(held))
            if ends:
                cut = ends[-1].end()
                yield held[:cut]
                held, shown = held[cut:], True
        if held.strip() and not shown:
            yield held
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _for_audience(hits: Sequence[Any], facts: Any, text: str) -> Any:
    """The best card meant for this patient: a card for children or babies only when the question
    is about a child (or the patient is one), an adults' card otherwise; else the best hit."""
    young = bool(_ABOUT_A_CHILD.search(text)) or bool({"infant", "child"} & set(facts.age))
    for hit in hits:
        if (hit.card.audience in _YOUNG) == young or hit.card.audience == "all":
            return hit
    return hits[0]


def _with_client_history(planned: Sequence[ChatMessage], history: Sequence[ChatMessage],
                         text: str) -> list[ChatMessage]:
    """The memory's system part around a conversation the client sends (OpenAI clients).

    The stable system message goes first and each recall block right before the user message it
    was made for (earlier ones matched by text), as in the memory's own layout: a client resends
    the same history every turn, so the prompt extends the last one and the engine prefills only
    the new turn. (All blocks first would change the prompt right after the system message on
    every turn, and the engine would re-read the whole conversation.)
    """
    stable = [planned[0]] if planned and planned[0].role == "system" else []
    rest = list(planned[len(stable):])
    users = [i for i, m in enumerate(rest) if m.role == "user"]
    latest = None
    if users and users[-1] > 0 and rest[users[-1] - 1].role == "system":
        latest = rest[users[-1] - 1]
    elif not users:  # no question in the plan: its memories stay with the system part
        stable += [m for m in rest if m.role == "system"]
    earlier: dict[str, str] = {}
    for i in users[:-1]:
        if i > 0 and rest[i - 1].role == "system":
            earlier[rest[i].content.strip()] = rest[i - 1].content
    out = list(stable)
    for m in history:
        if m.role == "system":
            continue
        block = earlier.get(m.content.strip()) if m.role == "user" else None
        if block is not None:
            out.append(ChatMessage("system", block))
        out.append(m)
    if latest is not None:
        out.append(latest)
    out.append(ChatMessage("user", text))
    return out


def _as_message(m: Any) -> ChatMessage:
    if isinstance(m, ChatMessage):
        return m
    if isinstance(m, dict):
        return ChatMessage(str(m["role"]), str(m["content"]))
    return ChatMessage(str(m.role), str(m.content))
