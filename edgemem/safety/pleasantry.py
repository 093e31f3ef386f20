"""Messages that carry no sign at all: greetings, thanks, yes/no, acknowledgements. One list for
triage (never scored) and the assistant (the model may answer them in its own words).

Why: the learned stage reads character n-grams, and a two-letter message has almost none, so its
prior decides: "Hi" scored 0.63 for *abuse* ("hit"), "I see" 0.76 for *eye*, "yes" 0.44 for
*seizure* — each an emergency screen for a patient saying hello. A pleasantry adds nothing to the
session's context either (what came before was checked when it was said), so it is not scored.
Anything beyond these fixed phrases ("hi, he collapsed", "help") is scored as before.
"""

from __future__ import annotations

import re

_PHRASE = (r"hi|hiya|hello|hey|hey there|hi there|hello there|good (?:morning|afternoon|evening|day)|"
           r"thanks?|thank you|thank you (?:so|very) much|thanks (?:a lot|so much)|cheers|ta|"
           r"ok|okay|ok thanks|okay thanks|ok thank you|alright|all right|fine|great|good|lovely|perfect|"
           r"nice|cool|yes|yeah|yep|yes please|no|nope|no thanks|no thank you|sure|i see|got it|understood|"
           r"bye|goodbye|bye bye|see you|how are you|how are you today|nice to meet you|you too|same to you|"
           r"that helps|that's (?:helpful|great|fine|all)|wonderful|brilliant")
_PLEASANTRY = re.compile(rf"^\W*(?:(?:{_PHRASE})\W*)+$", re.I)


def is_pleasantry(text: str) -> bool:
    """True for a message made only of the fixed phrases above (and punctuation)."""
    return len(text) <= 60 and bool(_PLEASANTRY.match(text.strip()))
