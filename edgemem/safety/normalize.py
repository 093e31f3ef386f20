"""Text normalization for the red-flag detector: the same input always gives the same tokens.

People type emergencies in a hurry: capitals, no apostrophes, typos ("cant breath", "chset pain",
"siezure"), digits or words for numbers, emoji. The rules in ``rules.py`` are written against one
canonical form, produced here: NFKC, case-folded, accents stripped, contractions expanded
("can't"/"cant" -> "cannot", "won't" -> "will not", "I'm" -> "i am"), number words as digits,
known misspellings and near-misses of the rules' key words (Damerau-Levenshtein distance 1, same
first letter, words of 6+ letters that are not common English words) mapped to the key word.
Text is split into clauses at sentence ends and at contrastive conjunctions ("but", "however"),
because negation and time ("no chest pain", "years ago") only reach within a clause.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Misspellings seen in the wild or one keystroke off; mapped before anything else.
TYPOS: dict[str, str] = {
    "chset": "chest", "cheast": "chest", "chect": "chest", "chets": "chest", "ches": "chest",
    "chestpain": "chest pain", "pian": "pain", "pane": "pain", "painn": "pain",
    "hart": "heart", "heat attack": "heart attack", "hearth": "heart", "haert": "heart",
    "attak": "attack", "atack": "attack", "attck": "attack", "heartattack": "heart attack",
    "breath": "breathe", "breth": "breathe", "brethe": "breathe", "breate": "breathe",
    "breahte": "breathe", "breating": "breathing", "breathin": "breathing", "brething": "breathing",
    "stroak": "stroke", "strok": "stroke", "storke": "stroke",
    "bleading": "bleeding", "bleeing": "bleeding", "bledding": "bleeding", "bleedin": "bleeding",
    "blod": "blood", "bloood": "blood",
    "siezure": "seizure", "seziure": "seizure", "seisure": "seizure", "sezure": "seizure",
    "seizur": "seizure", "ceizure": "seizure", "siezures": "seizure", "fiting": "fitting",
    "unconcious": "unconscious", "unconsious": "unconscious", "unconcsious": "unconscious",
    "unconscius": "unconscious", "unresponsve": "unresponsive",
    "suicid": "suicide", "sucide": "suicide", "suiside": "suicide", "suicidle": "suicidal",
    "sucidal": "suicidal", "suisidal": "suicidal", "suicdal": "suicidal",
    "kil": "kill", "kll": "kill", "killl": "kill",
    "myslef": "myself", "mysefl": "myself", "meself": "myself", "myslf": "myself",
    "overdoes": "overdose", "overdos": "overdose", "overdosed": "overdosed", "od": "od",
    "anaphalaxis": "anaphylaxis", "anafalaxis": "anaphylaxis", "anaphylaxsis": "anaphylaxis",
    "anaphylatic": "anaphylactic", "anaphalactic": "anaphylactic", "epi pen": "epipen",
    "epi-pen": "epipen", "epipens": "epipen",
    "swolen": "swollen", "swelling": "swelling", "sweling": "swelling",
    "collaped": "collapsed", "colapsed": "collapsed", "collasped": "collapsed",
    "concious": "conscious", "consious": "conscious",
    "tablests": "tablets", "pils": "pills", "pillz": "pills",
    "ambulence": "ambulance", "ambulanse": "ambulance", "emergancy": "emergency",
    "emergeny": "emergency", "emergencey": "emergency",
    "drooping": "drooping", "droopy": "drooping", "drooped": "drooping", "droops": "drooping",
    "slured": "slurred", "slurrd": "slurred", "sluring": "slurring",
    "numbe": "numb", "numbness": "numbness", "paralysed": "paralyzed",
    "meningitus": "meningitis", "menigitis": "meningitis",
    "vomitting": "vomiting", "vommiting": "vomiting", "vomitting blood": "vomiting blood",
    "coughin": "coughing", "chocking": "choking", "choaking": "choking", "chokeing": "choking",
    "gasp": "gasp", "gaspin": "gasping", "passd": "passed", "faintd": "fainted",
}

# Contractions, with and without the apostrophe (apostrophes are unified to ' first).
CONTRACTIONS: list[tuple[str, str]] = [
    (r"\bcan'?t\b", "cannot"), (r"\bcan not\b", "cannot"), (r"\bwon'?t\b", "will not"),
    (r"\bain'?t\b", "is not"), (r"\bi'?m\b", "i am"), (r"\bim\b", "i am"),
    (r"\b(it|he|she|that|there|what|who)'s\b", r"\1 is"), (r"\blet'?s\b", "let us"),
    (r"\b(dont|doesnt|didnt|isnt|arent|wasnt|werent|couldnt|wouldnt|shouldnt|hasnt|havent|hadnt|mustnt)\b",
     lambda m: m.group(1)[:-2] + " not"),
    (r"n't\b", " not"), (r"'re\b", " are"), (r"'ve\b", " have"), (r"'ll\b", " will"),
    (r"'d\b", " would"),
]
_CONTRACTIONS = [(re.compile(p), r) for p, r in CONTRACTIONS]

NUMBER_WORDS: dict[str, str] = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "hundred": "100", "dozen": "12", "dozens": "24",
}

# Key words of the rules that typo correction may map to (6+ letters: short words have too many
# real neighbours, "head"/"dead", "paid"/"pain"; those get explicit TYPOS entries instead).
KEY_WORDS = frozenset("""
breathe breathing bleeding unconscious unresponsive seizure seizures suicide suicidal myself
overdose overdosed anaphylaxis anaphylactic swelling swollen collapsed choking gasping
stroke drooping slurred slurring paralyzed numbness meningitis vomiting coughing
ambulance emergency tablets poison poisoned bleach antifreeze allergic reaction pressure
crushing squeezing tightness radiating spreading fainted conscious breathless shortness
convulsing convulsion epileptic tongue throat closing spurting gushing pouring
""".split())

# Real words one edit away from a key word: never "corrected".
COMMON = frozenset("""
breeding blending breaking reading leading heading needing feeding seeing being
brother breath breathes bathing bathe strike stoke stroked strokes stoked stores
choosing chasing closing cloning clothing coating counting courting coughed
reaction reactor passion portion position pouring pouting posing
spending spreading pressing prescribing fainter painted pained planted
myself himself herself itself thyself tablet tables cables
swallow swallowed swallows swing swinging selling sewing swelling
conscience conscious crashing crushing crossing
dropping drooling drooping dripping
slurped slurpee
colleague collapse collected corrected
poisons prison person
allergy allergic
""".split())


def _damerau1(a: str, b: str) -> bool:
    """True if a and b are at Damerau-Levenshtein distance exactly 1."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


@lru_cache(maxsize=8192)
def correct(token: str) -> str:
    """Map a token to the key word it is a near-miss of, or return it unchanged."""
    if token in TYPOS:
        return TYPOS[token]
    if len(token) < 6 or token in KEY_WORDS or token in COMMON or not token.isalpha():
        return token
    for key in sorted(KEY_WORDS):
        if key[0] == token[0] and _damerau1(token, key):
            return key
    return token


_SPLIT = re.compile(r"[.!?;\n\r]+|\b(?:but|however|although|though|except|whereas|anyway)\b")
_APOS = re.compile(r"[\u2018\u2019\u02bc`\u00b4]")
_DECIMAL = re.compile(r"(\d)[.,](\d)")
_NONWORD = re.compile(r"[^a-z0-9',]+")
_COMMA = re.compile(r"\s*,\s*")


def fold(text: str) -> str:
    """Unicode-normalize, case-fold and strip accents and control characters."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\r" else " " for ch in text)
    return _APOS.sub("'", text.casefold())


def clauses(text: str) -> list[str]:
    """Canonical clauses: tokens joined by single spaces, commas kept as their own token."""
    folded = _DECIMAL.sub(r"\1p\2", fold(text))
    out = []
    for part in _SPLIT.split(folded):
        if not part or not part.strip():
            continue
        for pat, rep in _CONTRACTIONS:
            part = pat.sub(rep, part)
        part = _NONWORD.sub(" ", part.replace("'", " "))
        part = _COMMA.sub(" , ", part)
        tokens = []
        for tok in part.split():
            tok = NUMBER_WORDS.get(tok, tok)
            tokens.extend(correct(tok).split())
        clause = " ".join(tokens)
        # Two-word typos ("heat attack", "epi pen") after single-word correction.
        for wrong, right in (("heat attack", "heart attack"), ("epi pen", "epipen"),
                             ("can not", "cannot"), ("cant", "cannot"), ("all of a sudden", "suddenly"),
                             ("out of the blue", "suddenly")):
            clause = re.sub(rf"\b{wrong}\b", right, clause)
        clause = clause.strip(" ,")
        if clause:
            out.append(clause)
    return out
