"""The reply a patient reads, composed from their personalised card in their preferred style.

Why composed and not generated: a 135M model states wrong medical facts fluently, and a check can
only catch the kinds of error it knows (medicines, numbers). Every sentence here was written and
reviewed as card content; what changes per patient is which sentences are kept (personalisation:
steps that conflict with their facts are replaced by cautions that name the fact) and how many
(the preference: concise, detailed, polite). So a composed reply cannot recommend a conflicting
medicine, name an unsupported drug, repeat itself or be cut off, and it streams at once.

Small talk is answered from a few fixed courteous lines too (``courtesy_reply``): the model, asked
"thank you!", wished one patient "good luck with your illness". The model keeps a voice only in
``reply_mode = "guided"``: a rephrasing of the card that the ``SentenceGate`` checks sentence by
sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .medicines import Lexicon
from .personalise import Advice

STYLES = ("concise", "detailed", "polite")
# How much of the card each style shows: self-care steps, see-a-doctor lines.
_STEPS = {"concise": 2, "polite": 3, "detailed": 99}
_SEE = {"concise": 1, "polite": 2, "detailed": 99}
POLITE_OPEN = "Thank you for asking."
POLITE_CLOSE = "I hope you feel better soon. Please ask the staff if anything is unclear."
NO_CARD_MESSAGE = ("I'm sorry, I can't advise on that here. Please ask the staff at the desk, or speak to a "
                   "pharmacist, doctor or nurse.")
# Detailed: the same message, with why the kiosk says no and what to do meanwhile.
NO_CARD_DETAILED = (NO_CARD_MESSAGE + " This kiosk only gives guidance that has been written and reviewed for "
                    "the clinic, and none of it covers your question, so I would rather not guess. The staff can "
                    "answer you or find someone who can. If you feel very unwell, or think it is an emergency, "
                    "call the emergency number now.")
_SPLIT = re.compile(r"(?<=[.!?])\s+")


@dataclass
class ComposedReply:
    """The reply as sentences (streamed one at a time), and which of them speak to the patient's facts."""

    sentences: list[str]
    personal: list[str] = field(default_factory=list)  # cautions that follow from the patient's facts

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _lower_first(s: str) -> str:
    return s[0].lower() + s[1:] if s and not s[:2].isupper() else s


def _personal(advice: Advice) -> list[str]:
    """Cautions that name the patient ("You take a blood thinner, ..."): shown in every style."""
    return [c for c in advice.cautions if re.match(r"\s*(?:you|because you|as you|since you)\b", c, re.I)]


def _names(text: str, lexicon: Lexicon | None) -> set[str]:
    return {m["name"] for m in lexicon.medicines_in(text)} if lexicon is not None else set()


# A concise reply is read on a touch screen in about twenty seconds. The patient's own cautions are
# never cut for length, nor the first step (a patient on warfarin asking "what can I take?" was told
# only what not to take); then the card's point, when to see a doctor, and further steps in order,
# each with the cautions about the medicines it names (a step is dropped rather than shown without them).
CONCISE_WORDS = 80


def _word_count(parts: list[str]) -> int:
    return sum(len(p.split()) for p in parts)


def _fit_steps(steps: list[str], general: list[str], budget: int, lexicon: Lexicon | None) -> tuple[list[str], list[str]]:
    """The steps (in order) that fit ``budget`` words together with the cautions they need."""
    kept: list[str] = []
    cautions: list[str] = []
    for step in steps:
        names = _names(step, lexicon)
        needs = [c for c in general if names and _names(c, lexicon) & names and c not in cautions]
        cost = _word_count([step, *needs])
        if cost <= budget or not kept:  # the first step always: a reply must say what to do
            kept.append(step)
            cautions += needs
            budget -= cost
    return kept, cautions


def _see_line(see: list[str]) -> list[str]:
    return ["See a doctor or nurse if " + "; or if ".join(_lower_first(s.rstrip(". ")) for s in see) + "."] if see else []


def compose(advice: Advice, style: str | None = None, lexicon: Lexicon | None = None) -> ComposedReply:
    """Sentences for this patient: the card's summary, its kept steps, every caution that follows from
    the patient's facts, and when to see a doctor; ``detailed`` adds the rest and the card's source;
    ``concise`` keeps within ``CONCISE_WORDS`` except for the patient's own cautions."""
    style = style if style in STYLES else "concise"
    personal = _personal(advice)
    general = [c for c in advice.cautions if c not in personal]
    steps = advice.steps[:_STEPS[style]]
    see = _see_line(advice.see_doctor[:_SEE[style]])
    if style == "concise":
        point = _SPLIT.split(advice.summary.strip())[0]
        budget = CONCISE_WORDS - _word_count([*personal, point, *see])
        steps, general = _fit_steps(steps, general, budget, lexicon)
    elif style != "detailed" and lexicon is not None:
        # A warning about a medicine goes with the suggestion of it: a short reply keeps the
        # cautions about medicines its steps name, and (polite) the first one about no medicine.
        shown = set().union(*(_names(s, lexicon) for s in steps)) if steps else set()
        about = [c for c in general if _names(c, lexicon) & shown]
        plain = [c for c in general if not _names(c, lexicon)]
        general = about + plain[:1]
    parts: list[str] = []
    if style == "polite":
        parts.append(POLITE_OPEN)
    # The patient's own caution first: it is the one thing this reply must not lose.
    parts += personal
    # Concise: the summary's first sentence (the card's point), the rest is for who asked for more.
    parts.append(point if style == "concise" else advice.summary)
    parts += steps
    parts += general
    parts += see
    if style == "detailed":
        if advice.emergency:
            parts.append("Call the emergency number straight away if this happens: "
                         + _lower_first(advice.emergency[0].rstrip(". ")) + ".")
        if advice.source:
            parts.append(f"This follows {advice.source.rstrip('. ')}.")
    if style == "polite":
        parts.append(POLITE_CLOSE)
    sentences: list[str] = []
    seen: set[str] = set()
    for part in parts:
        for s in _SPLIT.split(part.strip()):
            key = re.sub(r"\W+", " ", s.casefold()).strip()
            if s and key not in seen:
                seen.add(key)
                sentences.append(s)
    return ComposedReply(sentences=sentences, personal=personal)


# What the kiosk may answer without a card is a pleasantry (``safety.pleasantry``: the same list
# triage skips). Anything else that no card fits gets NO_CARD_MESSAGE: when in doubt, the kiosk
# says it cannot advise and sends the patient to the staff.
_ABOUT_MEMORY = re.compile(
    r"\b(?:what do you (?:remember|know|have) (?:about|on) me|what (?:did|have) i (?:tell|told) you|"
    r"what have you (?:noted|written down|got on me)|do you remember (?:me|what)|my notes|"
    r"what medicines? (?:do|did) i (?:take|tell you)|what am i allergic to)\b", re.I)


def asks_about_memory(text: str) -> bool:
    """The patient asks what the kiosk knows about them: answered from the facts, not the model."""
    return bool(_ABOUT_MEMORY.search(text))


_ASKS = re.compile(
    r"\?|^\W*(?:what|which|can|could|should|shall|how|is|are|do|does|did|will|would|may|might|why|when|where|who)\b|"
    r"\b(?:can i|should i|could i|is it|help me|advice|advise|tell me|what about|wondering)\b", re.I)


def asks_something(text: str) -> bool:
    """The message asks a question (or for help), rather than only telling the kiosk something."""
    return bool(_ASKS.search(text))


# Words that only carry a stated fact ("I have been taking 5 mg of warfarin daily"). Who and when
# words and names are not here: card search never counts them (``search.CONTEXT``).
_STATEMENT_WORDS = re.compile(
    r"\b(?:take|takes|taking|took|use|uses|using|on|prescribed|tablets?|pills?|medicines?|medications?|"
    r"allergic|allerg(?:y|ies)|diagnosed|days?|old|daily|day|night|morning|mg|micrograms?|dose|doses|"
    r"too|currently|due|few|couple|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"baby|babies|child|children|kids?)\b|\d+", re.I)  # numbers too: "24" is on a card ("24 hours")


def beyond_facts(text: str, lexicon: Lexicon) -> str:
    """What a message says besides the facts it states: medicine, class and condition names and the
    words that carry them blanked ("I take warfarin and my back hurts" -> "i and my back hurts")."""
    return _STATEMENT_WORDS.sub(" ", lexicon.without_terms(text))


def acknowledge_reply(notes: list[str], style: str | None = None) -> ComposedReply:
    """The patient told the kiosk a fact and asked nothing: say what was noted, and invite a question."""
    first = "Thank you very much for telling me; I have noted it." if style == "polite" else \
        "Thank you for telling me; I have noted it."
    return ComposedReply([first, *notes, "What would you like to ask?"], personal=list(notes))


def recall_reply(notes: list[str]) -> ComposedReply:
    """What the kiosk has noted about the patient, in its normalised notes (never the model's words)."""
    if not notes:
        return ComposedReply(["I have no notes yet about your medicines, allergies or health conditions.",
                              "You can tell me, or tell the staff at the desk."])
    return ComposedReply(["Here is what I have noted about you:", *notes,
                          "If anything is wrong or out of date, please tell me or the staff."],
                         personal=list(notes))


def no_card_reply(style: str | None) -> ComposedReply:
    """What a patient reads when no card fits: the staff, in the length they asked for."""
    return ComposedReply([s for s in _SPLIT.split(NO_CARD_DETAILED if style == "detailed" else NO_CARD_MESSAGE)])


# Small talk by what it does, the first kind that matches wins ("ok thanks, bye" says goodbye).
_COURTESY = (
    ("goodbye", re.compile(r"\b(?:bye|goodbye|see you)\b", re.I),
     ["Goodbye, and take care.", "If you feel worse, please speak to the staff or your doctor."]),
    ("thanks", re.compile(r"\b(?:thanks?|thank you|cheers|ta)\b", re.I),
     ["You're welcome.", "Is there anything else you would like to ask?"]),
    ("how_are_you", re.compile(r"\bhow are you\b", re.I),
     ["I'm here and ready to help.", "What would you like to ask about your health today?"]),
    ("greeting", re.compile(r"\b(?:hi|hiya|hello|hey|good (?:morning|afternoon|evening|day)|nice to meet you)\b", re.I),
     ["Hello.", "I can share the clinic's care guidance with you, or pass your question to the staff.",
      "What would you like to ask?"]),
)
_ACKNOWLEDGE = ["All right.", "Is there anything else you would like to ask?"]


def courtesy_reply(text: str, style: str | None = None) -> ComposedReply:
    """A fixed, courteous answer to small talk (the caller checked it is a pleasantry)."""
    lines = next((list(lines) for _, pattern, lines in _COURTESY if pattern.search(text)), list(_ACKNOWLEDGE))
    if style == "polite":
        lines[0] = {"You're welcome.": "You're very welcome, it is a pleasure to help.",
                    "Hello.": "Hello, and thank you for visiting.",
                    "All right.": "Thank you."}.get(lines[0], lines[0])
    return ComposedReply(lines)
