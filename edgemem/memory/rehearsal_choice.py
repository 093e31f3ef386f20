"""LLM rehearsal by closed-set choice: the bundled model labels phrases of the turn, it writes nothing.

Why not let the model write notes: asked for ``KIND | SUBJECT | FACT`` lines, SmolLM2-135M loops,
invents kinds and subjects, and marked medications "stopped" that were not (docs/memory.md). Here
every degree of freedom it had is taken away:

* **subjects** are candidate phrases cut from the turn itself (runs of content words), so a note
  can never name something the patient did not say;
* **kinds** are a closed set, and the model only *scores* them (``Scorer.score``): how much more
  likely it finds the phrase after a header naming a kind ("The patient's medications:") than
  after a neutral one; a phrase is kept only when some kind gains enough;
* **negation** ("stopped taking", "no longer") is decided by the same deterministic cues as the
  rule extractor, never by the model: a wrong "stopped" would retire a medication the patient
  still takes.

The rules' notes always stay (the model adds, never removes), and the rules' canonical subjects win
over a model phrase that overlaps them. Cost per turn: 12 header prompts (6 headers, with and
without the patient's text), each followed by one short run per phrase of more than one token;
the patient's text is a prefix the KV cache shares between the headers.
Measured against hand-labelled facts in docs/memory.md ("Rehearsal by the bundled LLM").
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Protocol, Sequence

from .rehearsal import RuleExtractor, clean, note_text, sentences
from .text import NEGATORS, STOPWORDS, fold, terms
from .types import Note

# Channel scoring: how much more likely the model finds the phrase after a header naming a kind
# than after a neutral header. Few-shot *labelling* (the model picks a label for the phrase)
# measured near chance for SmolLM2-135M (8 of 25 right, "none" never chosen, even calibrated):
# a small LM is a far better judge of "is this text likely here" than of "which label is right".
NEUTRAL = "A phrase from this text:"
HEADERS: tuple[tuple[str, str], ...] = (
    ("medication", "The patient's medications:"),
    ("condition", "The patient's diagnoses:"),
    ("symptom", "The patient's symptoms:"),
    ("history", "The patient's past tests and procedures:"),
    ("personal", "Personal details about the patient:"),
)

# The turn as the model sees it is cut here (~300 tokens), so every scoring prompt fits the
# engine's scratch rows (``Engine.scratch``); the rules still read the whole turn.
MAX_TURN_CHARS = 1200

# Words that end a candidate phrase besides stop words: verbs and fillers that carry no fact.
_BREAK = frozenset("""
experiencing experience experienced having feel feeling felt get getting got go going gone want wants
wanted know knowing think thought like would could trying try tried help helps helped need needs
needed take taking took taken takes started start starting stopped stop prescribed given gave
diagnosed suffering suffer suffered using use used currently recently now still since ago today
worried concerned wondering wonder ask asking asked told tell said says seems seem due because
also about around some any much many several every each lot lots quite really very bit little able
since past last next later already sometimes often usually always never daily regular regularly
include includes including undergone underwent went done make made been become becoming
hope hoping hoped soon week weeks month months year years day days time times
""".split()) | STOPWORDS | NEGATORS
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*|[^\sA-Za-z0-9]")
# A negation cue right before the phrase, with only filler words between ("stopped taking my",
# "no longer on", "never had a"): "stopped X and had Y" negates X, not Y.
_NEG_NEAR = re.compile(r"\b(stopped|quit|discontinued|no longer|not|don't|do not|doesn't|ran out of|gave up|"
                       r"came off|never|haven't|no more|no|without)"
                       r"(?:\s+(?:taking|using|on|have|had|having|any|my|the|a|an|her|his|their|of|with))*\s*$")


class Scorer(Protocol):
    """What closed-set choice needs from a model (``edgemem.engine.Engine`` implements it)."""

    def render_chat(self, messages: Sequence[object], add_generation_prompt: bool = True) -> list[int]: ...

    def encode(self, text: str) -> list[int]: ...

    def score(self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[float]: ...


@dataclass(frozen=True)
class Candidate:
    phrase: str  # as written (folded), e.g. "metformin tablet"
    sentence: str
    before: str  # the folded sentence up to the phrase (for negation cues)


def candidates(text: str, max_words: int = 3) -> list[Candidate]:
    """Phrases of ``text`` that could name a fact: maximal runs of content words, capped at
    ``max_words`` (a longer run gives its first and last ``max_words``), deduplicated."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for sent in sentences(text):
        f = fold(sent)
        run: list[tuple[str, int]] = []

        def flush() -> None:
            if not run:
                return
            pieces = [run] if len(run) <= max_words else [run[:max_words], run[-max_words:]]
            for piece in pieces:
                phrase = " ".join(w for w, _ in piece)
                if phrase in seen or not terms(phrase) or all(w.isdigit() for w, _ in piece):
                    continue
                seen.add(phrase)
                out.append(Candidate(phrase, sent, f[:piece[0][1]]))
            run.clear()

        for m in _TOKEN.finditer(f):
            w = m.group(0)
            if not w[0].isalnum() or w in _BREAK or len(w) < 2 and not w.isdigit():
                flush()
            else:
                run.append((w, m.start()))
        flush()
    return out


class ChoiceExtractor:
    """Rule notes plus the phrases the model scores as facts (see the module docstring).

    For each candidate phrase two channel scores are computed, each against the neutral header:
    ``in_turn`` (headers after the patient's text: does the phrase read as one of the patient's
    medications / diagnoses / ...) and ``alone`` (headers without the text: the model's own
    knowledge of what the phrase is). A phrase is kept when its best ``in_turn`` score exceeds
    ``keep``; its kind is the header with the best sum of both. ``max_candidates`` bounds the
    cost of a long turn; ``stats`` counts what happened, for the benchmark and the logs.
    """

    # The memory service runs it at session end (where the latency holds up no reply), and keeps
    # only the notes the rules did not already give live (confidence < 1).
    runs_at_session_end = True

    def __init__(self, scorer: Scorer, fallback: RuleExtractor | None = None, *, keep: float = 4.0,
                 max_candidates: int = 24, neutral: str = NEUTRAL,
                 headers: Sequence[tuple[str, str]] = HEADERS) -> None:
        self.scorer = scorer
        self.fallback = fallback or RuleExtractor()
        self.keep = keep
        self.neutral, self.headers = neutral, tuple(headers)
        self.max_candidates = max_candidates
        self.stats = {"turns": 0, "candidates": 0, "kept": 0, "covered_by_rules": 0, "errors": 0}

    def channel(self, context: str, phrases: Sequence[str], scorer: Scorer | None = None) -> dict[str, list[float]]:
        """Per kind, each phrase's log-probability gain after that kind's header over the neutral
        one, with ``context`` (the patient's text, or "") before the header."""
        scorer = scorer or self.scorer
        enc = scorer.encode
        options = [enc(" " + p) for p in phrases]
        lead = f'Patient said: "{context}"\n' if context else ""
        base = scorer.score(enc(lead + self.neutral), options)
        out: dict[str, list[float]] = {}
        for kind, header in self.headers:
            got = scorer.score(enc(lead + header), options)
            out[kind] = [g - b for g, b in zip(got, base)]
        return out

    def judge(self, turn: str, phrases: Sequence[str]) -> list[tuple[str, float, float]]:
        """(kind, keep score, kind score) per phrase; the kind is only meaningful for a phrase
        whose keep score passes ``keep``.

        With an engine that lends a scratch KV cache (``Engine.scratch``) the whole turn is scored
        in it: a conversation in progress keeps its cached prefix, and waiting replies go first."""
        if not phrases:
            return []
        scratch = getattr(self.scorer, "scratch", None)
        with (scratch() if scratch is not None else nullcontext(self.scorer)) as scorer:
            in_turn = self.channel(turn, phrases, scorer)
            keeps = [max(in_turn[k][i] for k, _ in self.headers) for i in range(len(phrases))]
            # The context-free scores only pick the kind, so only phrases that are kept need them
            # (about a third): the same notes for ~2/3 of the cost.
            kept = [i for i, v in enumerate(keeps) if v > self.keep]
            alone_kept = self.channel("", [phrases[i] for i in kept], scorer) if kept else {}
        alone = {k: [0.0] * len(phrases) for k, _ in self.headers}
        for j, i in enumerate(kept):
            for k, _ in self.headers:
                alone[k][i] = alone_kept[k][j]
        out = []
        for i in range(len(phrases)):
            kind, kind_score = max(((k, in_turn[k][i] + alone[k][i]) for k, _ in self.headers), key=lambda x: x[1])
            out.append((kind, keeps[i], kind_score))
        return out

    def fresh_candidates(self, turn: str, rules: Sequence[Note]) -> tuple[list[Candidate], set[str]]:
        """The turn's candidate phrases the rules' notes do not cover, and the covered words."""
        # The rules' generic "other" notes (a sentence's first content words) do not cover their
        # words: the model may still find that "endometriosis" in them is a condition.
        taken = {w for n in rules if n.kind != "other" for w in terms(n.subject)}
        fresh: list[Candidate] = []
        for cand in candidates(turn)[: self.max_candidates]:
            self.stats["candidates"] += 1
            if any(w in taken for w in terms(cand.phrase)):
                self.stats["covered_by_rules"] += 1
            else:
                fresh.append(cand)
        return fresh, taken

    def select(self, fresh: Sequence[Candidate], judged: Sequence[tuple[str, float, float]], taken: set[str],
               turn_id: str, time: float | None = None, keep: float | None = None) -> list[Note]:
        """Notes for the judged phrases above ``keep`` (default ``self.keep``), best first, one per
        word: a phrase overlapping one already kept (or a rule's) is dropped."""
        keep = self.keep if keep is None else keep
        taken = set(taken)
        notes: list[Note] = []
        for cand, (kind, score, _) in sorted(zip(fresh, judged), key=lambda x: -x[1][1]):
            words = terms(cand.phrase)
            if score <= keep or any(w in taken for w in words):
                continue
            negated = bool(_NEG_NEAR.search(cand.before))
            notes.append(Note(text=note_text(kind, cand.phrase, negated, cand.sentence), kind=kind,
                              subject=cand.phrase, negated=negated, source_ids=[turn_id], time=time,
                              confidence=0.8))
            taken.update(words)
        return notes

    def extract(self, turn_id: str, role: str, text: str, time: float | None = None) -> list[Note]:
        rules = self.fallback.extract(turn_id, role, text, time)
        if role != "user":
            return rules
        self.stats["turns"] += 1
        turn = clean(text)[:MAX_TURN_CHARS]
        fresh, taken = self.fresh_candidates(turn, rules)
        try:
            judged = self.judge(turn, [c.phrase for c in fresh])
        except Exception:  # a model failure must not lose the turn: the rules' notes stand
            self.stats["errors"] += 1
            return rules
        notes = self.select(fresh, judged, taken, turn_id, time)
        self.stats["kept"] += len(notes)
        return rules + notes
