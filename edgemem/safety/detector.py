"""Decide whether a rule match is an emergency happening now, or a look-alike.

The rules (``rules.py``) only recognise the words of an emergency. Whether those words describe one
depends on their clause, judged here with fixed cue lists in the manner of NegEx:

* **negation** before the trigger, within seven tokens and not across a comma or "and"
  ("no chest pain", "I do not have trouble breathing"); pseudo-negations such as "not sure" or
  "do not know if" are not negations;
* **resolved** after the trigger ("the bleeding stopped", "chest pain went away");
* **long past** anywhere in the clause ("last year", "in 2019", "as a child", "history of",
  "died of"), unless a recency cue says it is happening again ("now", "again", "right now");
* **hypothetical or educational** framing ("what are the signs of", "if someone has",
  "in case", "worried I might someday", "my first-aid course"), unless "right now" says otherwise.

Anything uncertain stays flagged: the detector is the one part of the kiosk that must not miss.
"""

from __future__ import annotations

import re

from .normalize import clauses
from .rules import COMPILED

NEGATIONS = frozenset("no not never without denies denied deny nor neither none free negative".split())
PSEUDO_NEGATION = re.compile(
    r"\b(?:not sure|not certain|do not know|did not know|does not know|not know|cannot tell|no idea|"
    r"not sure if|not just|not only|no longer able|not stop|not stopping|not slow|not able|"
    r"not wake|not waking|not responding|not responsive|not breathing|not breathe|not conscious|"
    r"not moving|not working|not helping|not help|not fade|not go away|not blanch|not feed|"
    r"not feeding|not want to|no reason to|no point|nothing to|not go on|no pulse|not get|not find|"
    r"not make sense|not making sense|not disappear|not catch|never born|not be here|not exist|"
    r"not alive)\b")
SCOPE_BREAK = frozenset([",", "and", "then", "now", "so", "because", "since", "which", "who", "that"])
RESOLVED = re.compile(
    r"\b(?:went away|gone away|has gone|have gone|is gone|are gone|was gone|resolved|stopped|"
    r"has stopped|eased off|eased|settled|subsided|cleared up|passed(?! out)|disappeared|"
    r"is better|feels better|is fine now|fine now|ok now|okay now|all good now|much better|"
    r"under control|back to normal|recovered|got better|healed)\b")
HISTORY = re.compile(
    r"\b(?:last (?:year|month|week|summer|winter|spring|autumn|fall|christmas|time)|"
    r"\d+ (?:years?|months?|weeks?|decades?) ago|(?:a|one|two|few|couple of|several|many) (?:\S+ )?(?:years?|months?|weeks?|decades?) ago|"
    r"years ago|months ago|years back|in (?:19|20)\d\d|back in|as a (?:child|kid|teen|teenager|baby|student)|"
    r"when (?:i|he|she|they|we) (?:was|were) (?:a |young|little|\d+|in|small)|\bonce\b(?! (?:again|more))|used to|history of|in the past|previously|previous|"
    r"died (?:of|from|after)|passed away|survived|recovered from|years since|since childhood|"
    r"long time ago|ages ago|once had|had one before|(?:my|his|her) (?:late|old) )")
RECENT = re.compile(
    r"\b(?:(?<!\d )(?<!fine )(?<!ok )(?<!okay )(?<!well )(?<!better )now(?! (?:fine|ok|okay|well|better|healthy|\d+|grown|an adult|old|older|recovered))|right now|again|every hour|each hour|per hour|just|currently|at the moment|today|tonight|this morning|this evening|"
    r"this afternoon|minutes? ago|\d+ minutes|an hour ago|hours? ago|suddenly|started|starting|keeps|"
    r"still|happening|is having|am having|are having|be having)\b")
RIGHT_NOW = re.compile(r"\b(?:right now|at the moment|at this moment|this minute|as we speak|please help|help me)\b")
# Conditionals reach only up to the next comma: "if it is a stroke, his face is drooping" reports.
CONDITIONAL = re.compile(
    r"\b(?:what (?:should|do|would|could|can) (?:i|you|we|one|someone|people) do (?:if|when|in case)|"
    r"what happens (?:if|when|during|in)|what if|in case|"
    r"(?<!know )(?<!sure )(?<!wonder )(?<!wondering )(?<!certain )(?<!tell )(?<!see )(?<!check )(?<!asking )(?<!ask )"
    r"if (?:i|you|he|she|they|we|someone|somebody|a person|my|your|his|her|it|the|anyone|ever|one|there))\b")
# Topical framings (education, risk, fiction, the future) cover the whole clause.
HYPOTHETICAL = re.compile(
    r"\b(?:what (?:are|is|were) (?:the )?(?:\S+ )?(?:signs?|symptoms?|causes?|risks?|warning signs|treatment|difference)|"
    r"(?:how|what) (?:do|does|can|would|should|could) (?:i|you|we|one|someone|people|a person) (?:\S+ )?(?:know|tell|recognize|recognise|spot|prevent|avoid|treat|help|do|use|give|stop|handle)|"
    r"how to (?:recognize|recognise|spot|tell|prevent|avoid|treat|help|do|give|use)|"
    r"(?:is|are) (?:\S+ ){0,3}(?:a sign|signs|a symptom|symptoms) of|"
    r"can (?:\S+ ){1,3}(?:cause|lead to|trigger|give you|give me)|could (?:\S+ ){1,3}(?:cause|lead to|trigger)|"
    r"(?:risk|risks|chance|chances|odds|likelihood) of|at risk|prevent|prevention|preventing|"
    r"worried (?:about (?:getting|having|developing|a future|my risk)|that i (?:might|could|will) (?:get|have|develop|someday|one day))|"
    r"(?:afraid|scared|fear|frightened|terrified) of (?:getting|having|developing|ever)|"
    r"someday|some day|one day|in the future|when i am older|later in life|"
    r"first aid|course|class|training|lecture|exam|homework|essay|research|article|leaflet|documentary|"
    r"movie|film|tv|show|book|novel|story|character|game|song|podcast|news|"
    r"tell me (?:about|more about)|explain|learn about|learned about|read about|reading about|heard about|information|info on|info about|"
    r"told me about|talked about|talking about|question about|curious|wondering (?:about|what|how|whether)|"
    r"does (?:\S+ )?run in|family history|insurance|vaccine against|vaccinated against|"
    r"joke|joking|jk|kidding|how (?:much|many) (?:\S+ ){0,3}(?:is|are|would be|counts as|before|until|can)|figure of speech|metaphor|sarcasm|lol|haha)\b")
DEVICE = re.compile(
    r"\b(?:phone|computer|laptop|app|screen|battery|printer|wifi|internet|car|engine|email|website|"
    r"kiosk|machine|system|server|router|tv|television|plant|plants|fish tank|game|console|"
    r"keyboard|mouse|tablet computer|ipad|program|software|code)\b")
DEVICE_SENSITIVE = frozenset(["unconscious", "seizure", "overdose", "breathing"])
NOSE = re.compile(r"\b" r"breathe (?:\S+ )?(?:through|out of|thru) (?:my|his|her|the) nose|nose is (?:blocked|stuffy|congested)|blocked nose|stuffy nose")
IDIOM = re.compile(
    r"\b(?:(?<!chest is )(?<!chest )(?<!heart is )killing me|kill me|will kill|would kill|could kill|kill for|dying to|dying for|dying of (?:boredom|laughter|curiosity|embarrassment)|"
    r"dead tired|dead on my feet|bored to death|scared to death|to die for|die laughing|"
    r"bleeding (?:me dry|edge|heart)|heart attack on a plate|gave me a heart attack|give me a heart attack|"
    r"giving me a heart attack|almost had a heart attack when|nearly had a heart attack when|"
    r"take my breathe away|took my breathe away|breathtaking|a breathe of fresh air|"
    r"catch my breathe (?:after|from|when)|hold my breathe|holding my breathe|"
    r"blood (?:test|tests|pressure|sugar|donation|donor|type|work|count|results|bank)|"
    r"burn(?:ed|t|ing)? out|burnout|burn(?:ing)? calories|burn(?:ing)? fat|burnt toast|burned toast|burned the|burnt the|"
    r"choking back|choked up|choke back|(?:had|have|having) a heart attack when (?:i|he|she|they|we) (?:saw|heard|got|found|opened)|"
    r"stroke of (?:luck|genius|midnight)|swimming stroke|breast ?stroke|back ?stroke|heat ?stroke test|"
    r"stroked|stroking|stroke (?:my|his|her|the) (?:cat|dog|hair|beard|arm|back)|"
    r"overdose on (?:sugar|chocolate|caffeine|coffee|netflix|tv|work|cake|candy|sweets)|"
    r"on fire (?:at|in|with) (?:work|the game|today)|mouth (?:is )?on fire|"
    r"collapsed (?:on|onto|into) (?:the |my )?(?:sofa|couch|bed)|passed out (?:on|onto) (?:the |my )?(?:sofa|couch|bed) (?:after|from)|"
    r"fainted (?:with|from) (?:laughter|joy|excitement))\b")


def _negated(clause_tokens: list[str], start_tok: int) -> bool:
    """A negation cue within seven tokens before the trigger, not across a scope break."""
    for i in range(start_tok - 1, max(-1, start_tok - 8), -1):
        tok = clause_tokens[i]
        if tok in SCOPE_BREAK:
            return False
        if tok in NEGATIONS:
            return True
    return False


def _mask_pseudo(clause: str) -> str:
    """Blank out pseudo-negations (same length) so their 'not' is not read as a negation."""
    return PSEUDO_NEGATION.sub(lambda m: m.group(0).replace("not", "NOT").replace("no ", "NO ")
                               .replace("never", "NEVER").replace("nothing", "NOTHING"), clause)


def evaluate(text: str) -> tuple[str, str] | None:
    """(category, matched clause text) of the first unsuppressed rule hit, or ``None``."""
    for category, matched, cue in candidates(text):
        if cue is None:
            return category, matched
    return None


def candidates(text: str) -> list[tuple[str, str, str | None]]:
    """Every rule hit as (category, matched text, cue that would suppress it or None), in rule order.

    The cues (negation, resolved, long past, hypothetical, figurative, device) only *suggest* a
    look-alike; ``edgemem.safety.check`` lets one suppress a hit only when the learned stage also
    scores the message low, so a cue list can never on its own silence a real emergency.
    """
    out: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    for clause in clauses(text):
        masked = _mask_pseudo(clause)
        tokens = masked.split(" ")
        idiom_spans = [m.span() for m in IDIOM.finditer(clause)]
        for category, patterns in COMPILED.items():
            for pat in patterns:
                for m in pat.finditer(clause):
                    cue = _look_alike(category, clause, masked, tokens, m, idiom_spans)
                    key = category + ("" if cue is None else "/" + cue)
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append((category, m.group(0).strip(), cue))
    return out


def _look_alike(category: str, clause: str, masked: str, tokens: list[str], m: re.Match[str],
                idiom_spans: list[tuple[int, int]]) -> str | None:
    """The cue that makes this hit look like a look-alike, or None."""
    s, e = m.span()
    if any(a <= s < b or a < e <= b or (s <= a and b <= e) for a, b in idiom_spans):
        return "figurative"
    if category == "breathing" and NOSE.search(clause):
        return "figurative"
    if category in DEVICE_SENSITIVE and DEVICE.search(clause) and not re.search(
            r"\b(?:he|she|baby|child|son|daughter|husband|wife|mum|mom|dad|father|mother|friend|partner|i)\b", clause[:s]):
        return "device"
    start_tok = masked[:s].count(" ") if s else 0
    if _negated(tokens, start_tok):
        return "negation"
    after = clause[e:]
    if RESOLVED.search(after) and not re.search(r"\b(?:again|came back|back again|worse|returned|started again)\b", after):
        return "resolved"
    recent = RECENT.search(clause)
    if HISTORY.search(clause) and not recent:
        return "past"
    if RIGHT_NOW.search(clause):
        return None
    for cond in CONDITIONAL.finditer(masked):
        if cond.start() < s and "," not in clause[cond.end():s]:
            return "hypothetical"
    hyp = HYPOTHETICAL.search(masked)
    if hyp:
        # A topical cue that only *follows* a first-person present report does not cancel it:
        # "I have crushing chest pain, is it a sign of a heart attack?"
        if hyp.start() < s or not re.search(r"\b(?:i am|i have|i think|he is|she is|they are|we are|my)\b", clause[:s]):
            return "hypothetical"
    return None
