"""Who speaks in a patient's chats, and whom a question is about.

"What did Melanie paint recently?" asks about Melanie's own turns. By words alone, the turns that
best match are the ones that address her ("Wow, Mel! Any more paintings coming up?"): her name is
in them and her own turns rarely say it. So a question that names a speaker of the conversation
is matched to that speaker's turns by who spoke (the turn's ``speaker`` field), and the name is
taken out of the word match. A question in the first person ("what did I say about...") is
about the turns of the ``user`` role.
"""

from __future__ import annotations

import re

from .text import fold, words

# Speaker labels that are roles, not people: a question says "the doctor", never "assistant".
GENERIC = frozenset("assistant user other system patient kiosk bot speaker unknown".split())
_FIRST_PERSON = re.compile(r"\b(i|me|my|mine|myself|i'm|i've|i'd|i'll)\b")


def name_words(name: str) -> list[str]:
    """The folded words of a speaker label that a question could use ("Dr Patel" -> dr, patel)."""
    return [w for w in words(name) if len(w) >= 2]


def named(query: str, speakers: dict[str, str]) -> list[str]:
    """Speakers (labels) that ``query`` names: a word of the label, or a short form of it of three
    letters or more written with a capital ("Mel" for Melanie)."""
    q = set(words(query))
    caps = {fold(w) for w in re.findall(r"\b[A-Z][a-z]{2,}\b", query)}
    out = []
    for label in speakers:
        ws = [w for w in name_words(label) if w not in GENERIC and w not in ("dr", "mr", "mrs", "ms")]
        if not ws:
            continue
        if any(w in q for w in ws) or any(len(c) >= 3 and w.startswith(c) for w in ws for c in caps):
            out.append(label)
    return out


def first_person(query: str) -> bool:
    return bool(_FIRST_PERSON.search(fold(query)))


def without_names(query: str, labels: list[str]) -> str:
    """``query`` with the words of these speakers' names taken out (what a dense query should
    match is the fact, not every turn that says the name)."""
    drop = {w for label in labels for w in name_words(label)} - GENERIC
    kept = [w for w in re.findall(r"\S+", query) if fold(re.sub(r"'s$|[^\w']", "", w)) not in drop]
    return " ".join(kept)
