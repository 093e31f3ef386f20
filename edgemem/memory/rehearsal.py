"""Rehearsal: turning what was said into notes (atomic facts) and sessions into summaries.

Two extractors behind one signature. ``RuleExtractor`` is deterministic: sentence splitting, the
lexicon, first-person cues and negation cues ("I stopped taking ibuprofen", "no longer"). It is the
fallback and the baseline. ``LLMExtractor`` prompts the bundled model for facts in a strict line
format (``KIND | SUBJECT | FACT``) and validates every line against the kinds and against the turn
text (a subject that is not in the turn is a hallucination); if nothing valid comes back — a 135M
model produces plenty of garbage — it returns the rule extractor's notes.

Summaries are extractive: the session's most informative patient sentences, plus the advice given,
each keeping the id of the turn it came from, so a summary hit has honest provenance.
"""

from __future__ import annotations

import re
from typing import Iterable, Protocol, Sequence

from ..interfaces import ChatMessage, GenerationConfig
from . import lexicon
from .preference import explicit_preference
from .text import NEGATORS, STOPWORDS, fold, terms, words
from .types import KINDS, Note

_SENT = re.compile(r"(?<=[.!?;])\s+|\n+")
_PREFIX = re.compile(r"^\s*[\"']?\s*(doctor|patient|user|assistant|dr\.?)\s*:\s*", re.I)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|my|me|mine|myself|im|ive)\b")
_NEG_BEFORE = re.compile(
    r"\b(stopped|quit|discontinued|no longer|not taking|not on|don't take|do not take|off|ran out of|"
    r"no more|gave up|doesn't|don't have|do not have|never had|no)\b[^.]{0,40}$")
_NEG_AFTER = re.compile(r"^[^.]{0,30}\b(is gone|are gone|went away|has gone|have gone|cleared up|resolved|"
                        r"got better|is better|stopped)\b")


_TAKE = re.compile(r"\b(take|taking|took|takes|on|using|use|used|prescribed|started|start|been given|tried|trying|"
                   r"switched (me )?to|changed (me )?to|moved (me )?to|put me on|now on|gave me|given)\b")
_NEG_CUE = re.compile(r"\b(stopped|stop|quit|discontinued|no longer|not taking|not on|don't take|do not take|"
                      r"ran out of|gave up|came off|off)\b")
_FORM = re.compile(r"\b(take|taking|took|prescribed|using|use|on)\s+((?:a |an |the |my )?(?:[a-z0-9-]+ ){0,2}"
                   r"(?:pill|pills|tablet|tablets|patch|inhaler|cream|drops|injection|injections|spray|capsules?))\b")


_ADVICE = re.compile(r"\b(recommend|suggest|advise|you should|you could try|try to|try (a|an|some|taking|using|"
                     r"to)|make sure|avoid|it's important to|it is important to|consider|i'd recommend)\b")
_PLEASANTRY = re.compile(r"\b(take care|let me know|feel free|reach out|don't hesitate|you're welcome|glad to|"
                         r"any (other|further) questions)\b")


class Extractor(Protocol):
    def extract(self, turn_id: str, role: str, text: str, time: float | None = None) -> list[Note]: ...


def clean(text: str) -> str:
    """Strip role prefixes and stray quotes the MaLP dialogues carry."""
    t = _PREFIX.sub("", text.strip())
    return t.strip().strip('"').strip()


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(clean(text)) if s and s.strip()]


def _clip(s: str, n: int = 24) -> str:
    ws = s.split()
    return " ".join(ws[:n]) + (" ..." if len(ws) > n else "")


class RuleExtractor:
    """Deterministic notes from one turn."""

    LABEL = {"medication": "Takes", "allergy": "Allergic to", "condition": "Has", "symptom": "Reports",
             "history": "History", "personal": "About patient", "preference": "Prefers",
             "advice": "Advice about", "other": "Said"}

    def extract(self, turn_id: str, role: str, text: str, time: float | None = None) -> list[Note]:
        notes: list[Note] = []
        seen: set[tuple[str, str]] = set()

        def add(kind: str, subject: str, sentence: str, negated: bool = False) -> None:
            if (kind, subject) in seen:
                return
            seen.add((kind, subject))
            notes.append(Note(text=note_text(kind, subject, negated, sentence), kind=kind, subject=subject,
                              negated=negated, source_ids=[turn_id], time=time))

        for sent in sentences(text):
            f = fold(sent)
            if role == "assistant":
                cue = _ADVICE.search(f)
                if cue and not _PLEASANTRY.search(f) and not f.rstrip().endswith("?"):
                    topic = [c for k in ("symptom", "condition", "medication") for c, _, _ in lexicon.find(k, f)]
                    subj = topic[0] if topic else _subject_of(f[cue.end():])
                    if subj:
                        add("advice", subj, sent)
                continue
            if role not in ("user", "other"):
                continue
            first = bool(_FIRST_PERSON.search(f))
            question = f.rstrip().endswith("?")
            # Allergies first: "allergic to penicillin" must not become "takes penicillin".
            allergy_spans: list[tuple[int, int]] = []
            for m in re.finditer(r"\b(allergic to|allergy to|allergies to|react\w* badly to|reaction to|can't have|cannot have|can't take|"
                                 r"cannot take|intolerant to|intolerance to|sensitive to)\b", f):
                tail = f[m.end():m.end() + 60]
                found = lexicon.find("allergen", tail) or lexicon.find("medication", tail)
                for canon, s, e in found[:3]:
                    add("allergy", canon, sent, negated=bool(re.search(r"\b(not|no longer|never)\b", f[max(0, m.start() - 15):m.start()])))
                    allergy_spans.append((m.end() + s, m.end() + e))
            for canon, s, e in lexicon.find("allergen", f):
                if re.match(r"\s*allerg", f[e:e + 12]):
                    add("allergy", canon, sent)
                    allergy_spans.append((s, e))
            pref = explicit_preference(sent)
            if pref:
                add("preference", pref, sent)
            if not first and not allergy_spans:
                # Third-person or generic sentences say nothing about the patient, except family history.
                if re.search(r"\b(my (mother|father|mom|dad|sister|brother|parents|grandmother|grandfather))\b", f):
                    add("history", "family history", sent)
                continue
            meds = lexicon.find("medication", f)
            for m in _FORM.finditer(f):  # "a water pill", "the blue inhaler": the form names a medication
                if not any(m.start(2) <= s0 < m.end(2) for _, s0, _ in meds):
                    meds.append((re.sub(r"^(a|an|the|my) ", "", m.group(2).strip()), m.start(2), m.end(2)))
            for canon, s, e in meds:
                if any(a <= s < b for a, b in allergy_spans):
                    continue
                before, after = f[max(0, s - 60):s], f[e:e + 40]
                take = [x.start() for x in _TAKE.finditer(before)]
                neg = [x.end() for x in _NEG_CUE.finditer(before)]
                # The cue closest to the drug decides: "stopped ramipril ... switched me to amlodipine";
                # a negation right before a take cue negates it ("stopped taking").
                negated = (bool(neg) and (not take or neg[-1] >= take[-1] - 1)) or \
                    bool(re.match(r"^\s*(stopped|no longer)", after))
                if take or negated:
                    add("medication", canon, sent, negated=negated and not question)
            for canon, s, e in lexicon.find("condition", f):
                before = f[max(0, s - 50):s]
                if re.search(r"\b(have|had|has|diagnosed|suffer|suffering|with|got|history of|been|am|i'm|my)\b", before) \
                        and not question:
                    negated = bool(re.search(r"\b(don't have|do not have|no longer have|never had|not)\b", before))
                    add("condition", canon, sent, negated=negated)
            if not question or re.search(r"\b(i have|i've been|i am|i'm|my)\b", f):
                for canon, s, e in lexicon.find("symptom", f):
                    before, after = f[max(0, s - 40):s], f[e:e + 40]
                    negated = bool(re.search(r"\b(no more|no longer|not|don't have|haven't had|without)\b[^.]{0,15}$", before)) \
                        or bool(_NEG_AFTER.search(after))
                    add("symptom", canon, sent, negated=negated)
            if re.search(r"\b(surgery|operation|hospitali[sz]ed|was in hospital|years ago|last year|as a child|"
                         r"history of|used to have|in the past)\b", f) and not question:
                add("history", _subject_of(f) or "medical history", sent)
            m = re.search(r"\b(i am|i'm|im) (\d{1,3})( years old|yo| year old)?\b", f) or \
                re.search(r"\b()(\d{1,3})([- ]years?[- ]old)\b", f)
            if m and (m.group(3) or int(m.group(2)) > 1):
                add("personal", "age", sent)
            m = re.search(r"\b(i work as|i'm a|i am a|i work in|i work at|works? as|my job|i live|lives? in|"
                          r"my (wife|husband|partner|son|daughter|kids|children)|i smoke|i don't smoke|i drink|"
                          r"i exercise|i'm vegetarian|i'm vegan|my name is|i'm retired|i am retired)\b", f)
            if m and not question:
                add("personal", _subject_of(f[m.start():]) or m.group(1), sent)
        # A first-person statement with content but no lexicon hit still says something about the patient.
        if role == "user" and not notes:
            for sent in sentences(text):
                f = fold(sent)
                if _FIRST_PERSON.search(f) and not f.rstrip().endswith("?") and len(terms(sent)) >= 4:
                    subj = _subject_of(f)
                    if subj:
                        add("other", subj, sent)
                        break
        return notes


def note_text(kind: str, subject: str, negated: bool, sentence: str) -> str:
    """A note's text: what it says about the patient, then the sentence it came from."""
    label = RuleExtractor.LABEL[kind]
    if kind == "medication" and negated:
        head = f"Stopped taking {subject}"
    elif negated:
        head = f"No longer {label.lower()} {subject}"
    else:
        head = f"{label} {subject}"
    return f"{head}: {_clip(sentence)}"


def session_end_notes(extractor: Extractor, turns: Iterable[dict]) -> list[Note]:
    """What a session-end extractor (the model's) adds for a session's patient turns: its notes
    without the rules' own (confidence 1), which were taken turn by turn as the session ran."""
    return [n for t in turns if t.get("role", "user") == "user"
            for n in extractor.extract(str(t["tid"]), "user", t["text"], t.get("time")) if n.confidence < 1.0]


def _subject_of(folded: str) -> str:
    """A stable short subject for a sentence without a lexicon term: its first two content words."""
    content = [w for w in words(folded) if w not in STOPWORDS and w not in NEGATORS and len(w) > 2]
    return " ".join(content[:2])


# --- LLM extraction -----------------------------------------------------------------------------

LLM_SYSTEM = ("You extract facts about a patient. Output one fact per line as: KIND | SUBJECT | FACT. "
              "KIND is one of medication, allergy, condition, symptom, history, personal, preference. "
              "SUBJECT is a word or two copied from the patient's words. "
              "If the patient stopped something, start FACT with 'stopped'. Output NONE if there is no fact.")
# Worked examples for ``LLMExtractor(shots=FEW_SHOT)``. Zero-shot, SmolLM2-135M answered the
# patient as a chat assistant and never wrote the format; with these it writes the format (and
# still invents much: see docs/memory.md, "Rehearsal by the bundled LLM"). Made-up patients, no
# MaLP text, so they leak nothing into an evaluation.
FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("Patient said: I've had migraines since I was a teenager and I take sumatriptan when they start. "
     "Penicillin gives me hives.",
     "condition | migraines | has had migraines since their teens\n"
     "medication | sumatriptan | takes sumatriptan when a migraine starts\n"
     "allergy | penicillin | penicillin causes hives"),
    ("Patient said: She is 41, works as a teacher, and has had a sore knee after a fall two weeks ago. "
     "She stopped taking naproxen.",
     "personal | teacher | is 41 and works as a teacher\n"
     "symptom | sore knee | sore knee since a fall two weeks ago\n"
     "medication | naproxen | stopped taking naproxen"),
    ("Patient said: Thanks, that helps a lot.", "NONE"),
)
_LINE = re.compile(r"^\s*[-*\d.)]*\s*(?P<kind>[a-z]+)\s*\|\s*(?P<subject>[^|]{2,60}?)\s*\|\s*(?P<fact>.{3,200})$", re.I)


class LLMExtractor:
    """Ask a ``Generator`` for notes; validate; fall back to rules on garbage."""

    runs_at_session_end = True  # the memory service calls it once a session closes

    def __init__(self, generator: "object", fallback: Extractor | None = None, max_new_tokens: int = 96,
                 shots: Sequence[tuple[str, str]] = ()) -> None:
        self.generator = generator
        self.fallback = fallback or RuleExtractor()
        self.max_new_tokens = max_new_tokens
        self.shots = tuple(shots)  # (user, assistant) examples placed before the turn, e.g. FEW_SHOT
        self.stats = {"llm": 0, "fallback": 0, "rejected_lines": 0}

    def parse(self, output: str, turn_id: str, turn_text: str, time: float | None = None) -> list[Note]:
        notes = []
        seen: set[tuple[str, str]] = set()
        folded_turn = fold(turn_text)
        for line in output.splitlines():
            m = _LINE.match(line.strip())
            if not m:
                if line.strip() and line.strip().upper() != "NONE":
                    self.stats["rejected_lines"] += 1
                continue
            kind = m.group("kind").lower()
            subject = fold(m.group("subject")).strip(" .'\"")
            fact = m.group("fact").strip()
            if kind not in KINDS or kind in ("advice", "other"):
                self.stats["rejected_lines"] += 1
                continue
            # The subject's words must occur in the turn: otherwise the model made it up.
            sub_terms = [t for t in terms(subject)]
            turn_terms = set(terms(folded_turn))
            if not sub_terms or not all(t in turn_terms for t in sub_terms):
                self.stats["rejected_lines"] += 1
                continue
            if (kind, subject) in seen:  # a small model repeats its last line until max_new_tokens
                continue
            seen.add((kind, subject))
            negated = bool(re.match(r"\s*(stopped|no longer|quit|not)\b", fold(fact)))
            notes.append(Note(text=fact, kind=kind, subject=subject, negated=negated, source_ids=[turn_id],
                              time=time, confidence=0.8))
        return notes

    def extract(self, turn_id: str, role: str, text: str, time: float | None = None) -> list[Note]:
        if role != "user":
            return self.fallback.extract(turn_id, role, text, time)

        msgs = [ChatMessage("system", LLM_SYSTEM)]
        for example, answer in self.shots:
            msgs += [ChatMessage("user", example), ChatMessage("assistant", answer)]
        msgs.append(ChatMessage("user", ("Patient said: " if self.shots else "") + clean(text)))
        try:
            out = "".join(self.generator.stream_chat(msgs, GenerationConfig(max_new_tokens=self.max_new_tokens)))  # type: ignore[attr-defined]
        except Exception:
            out = ""
        notes = self.parse(out, turn_id, text, time)
        rules = self.fallback.extract(turn_id, role, text, time)
        if not notes:
            self.stats["fallback"] += 1
            return rules
        self.stats["llm"] += 1
        # Keep the rules' notes for subjects the model missed: the model adds, never removes.
        have = {(n.kind, n.subject) for n in notes}
        return notes + [n for n in rules if (n.kind, n.subject) not in have]


# --- summaries ----------------------------------------------------------------------------------

def summarize(turns: Sequence[dict], max_sentences: int = 4) -> tuple[str, list[str]]:
    """Extractive session summary: (text, source turn ids).

    Picks patient sentences that carry lexicon terms or many content words, then the doctor's main
    advice; at most ``max_sentences``; keeps their order in the session.
    """
    scored: list[tuple[float, int, str, str]] = []
    pos = 0
    for t in turns:
        role = t.get("role", "user")
        for sent in sentences(t["text"]):
            f = fold(sent)
            n_terms = len(set(terms(sent)))
            if n_terms < 2:
                continue
            lex = sum(len(lexicon.find(k, f)) for k in ("medication", "condition", "symptom", "allergen"))
            score = 2.0 * lex + 0.15 * min(n_terms, 12)
            if role == "user":
                score += 1.0 if _FIRST_PERSON.search(f) else 0.0
                score -= 0.8 if f.rstrip().endswith("?") else 0.0
            elif role == "assistant":
                score += 0.8 if re.search(r"\b(recommend|suggest|advise|should)\b", f) else -0.5
            scored.append((score, pos, sent, str(t["tid"])))
            pos += 1
    if not scored:
        return "", []
    best = sorted(scored, key=lambda x: -x[0])[:max_sentences]
    best.sort(key=lambda x: x[1])
    text = " ".join(_clip(s, 30) for _, _, s, _ in best)
    ids: list[str] = []
    for _, _, _, tid in best:
        if tid not in ids:
            ids.append(tid)
    return text, ids


def rule_notes(turns: Iterable[dict]) -> list[Note]:
    ex = RuleExtractor()
    out: list[Note] = []
    for t in turns:
        out.extend(ex.extract(str(t["tid"]), t["role"], t["text"], t.get("time")))
    return out


SUMMARY_SYSTEM = ("Summarize this clinic visit in at most two sentences: the patient's symptoms, conditions, "
                  "medications, allergies, and the advice given. Write only the summary.")


class LLMSummarizer:
    """A model-written session summary, kept only if it is grounded in the session.

    Validation: 6-80 words, no role or template debris, and at least ``min_grounded`` of its content
    words must occur in the session (a 135M model drifts). Provenance: the turns sharing the most
    content words with the summary. Anything else falls back to the extractive summary.
    """

    def __init__(self, generator: "object", max_new_tokens: int = 80, min_grounded: float = 0.6) -> None:
        self.generator = generator
        self.max_new_tokens = max_new_tokens
        self.min_grounded = min_grounded
        self.stats = {"llm": 0, "fallback": 0}

    def validate(self, text: str, turns: Sequence[dict]) -> tuple[str, list[str]] | None:
        text = " ".join(text.strip().split())
        n_words = len(text.split())
        if not (6 <= n_words <= 80) or re.search(r"(<\|)|\b(as an ai|language model|i cannot)\b", fold(text)):
            return None
        s_terms = set(terms(text))
        session_terms = set(t for turn in turns for t in terms(turn["text"]))
        if not s_terms or len(s_terms & session_terms) / len(s_terms) < self.min_grounded:
            return None
        overlap = sorted(((len(s_terms & set(terms(t["text"]))), i) for i, t in enumerate(turns)), reverse=True)
        ids = [str(turns[i]["tid"]) for n, i in overlap[:4] if n >= 2]
        return (text, ids) if ids else None

    def summarize(self, turns: Sequence[dict]) -> tuple[str, list[str]]:
        transcript = "\n".join(f"{'Patient' if t['role'] == 'user' else 'Doctor'}: {clean(t['text'])}"
                               for t in turns)[-1500:]
        try:
            out = "".join(self.generator.stream_chat(  # type: ignore[attr-defined]
                [ChatMessage("system", SUMMARY_SYSTEM), ChatMessage("user", transcript)],
                GenerationConfig(max_new_tokens=self.max_new_tokens)))
        except Exception:
            out = ""
        got = self.validate(out, turns)
        if got is None:
            self.stats["fallback"] += 1
            return summarize(turns)
        self.stats["llm"] += 1
        return got
