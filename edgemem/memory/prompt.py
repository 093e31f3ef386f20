"""Prompt assembly within a token budget, shaped so the engine re-reads as little as possible.

Order of priority (what is dropped last comes first):
1. the system prompt and the preference's style instruction;
2. core patient facts, always: allergies, medications, conditions (a 135M model cannot be trusted
   to retrieve them itself, and they are what makes advice safe);
3. the latest user turn (the question being answered);
4. retrieved memories for that question (long-term notes, summaries, older turns);
5. short-term notes from the ring;
6. the rest of working memory: a window of the latest turns.
Sections 1-5 are packed greedily in that order; an item that does not fit is skipped (a shorter
one later may still fit). ``explain`` records every item considered: section, tokens, included or
why not.

The layout is append-only within a session, because a follow-up's time to first token is the
tokens the engine has to feed after the longest prefix it already holds:
- the system prompt, style and core facts form the first system message (rarely changes);
- each question's recalled memories (4 and 5) go in a system message right before that question,
  and stay there, byte for byte, in every later prompt of the session (``earlier_recall``): a
  later question's block only lists what is not already in the conversation;
- the conversation is a window of the latest turns that opens at ``first_turn`` and only moves
  when the turns no longer fit; it then jumps forward so the kept turns fill at most
  ``keep_fraction`` of the room, which buys several turns of growth before the next jump. Moving
  it by one turn at a time would change the prompt right after the system message on every turn
  and make the engine re-read the whole conversation each time (measured: ~1,000 tokens, 3 s).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from .preference import instruction
from .types import Hit, PromptPlan

CountTokens = Callable[[str], int]
CORE_KINDS = ("allergy", "medication", "condition")
# After the conversation window moves, the kept turns fill at most this share of their room.
KEEP_FRACTION = 0.5


def assemble(*, system_prompt: str, style: str | None, core: Sequence[dict[str, Any]], hits: Sequence[Hit] = (),
             short_notes: Sequence[Any] = (), working: Sequence[dict[str, Any]], budget_tokens: int,
             count_tokens: CountTokens, reserve_per_message: int = 4,
             earlier_recall: Mapping[Any, str] | None = None, first_turn: Any = None,
             keep_fraction: float = KEEP_FRACTION, prefix_only: bool = False, next_reserve: int = 0) -> PromptPlan:
    """Pack the prompt. ``earlier_recall`` maps earlier user turns' ids to the recall block their
    prompt carried (``PromptPlan.recall`` of that turn); ``first_turn`` is the id of the turn the
    last prompt's conversation window opened at (``PromptPlan.first_turn``). Both None: no session
    state (every block and window is computed afresh).

    ``prefix_only``: the part of the *next* prompt that is already known after a reply (system
    message, the window's turns with their blocks; no question yet), for the engine to prefill
    while the patient reads and types. The window is planned with ``next_reserve`` tokens kept
    free for the coming question and its recall block, so a jump it needs happens now, in idle
    time, rather than on the patient's next question."""
    earlier_recall = earlier_recall or {}
    explain: list[dict[str, Any]] = []
    used = 0

    def fits(text: str) -> tuple[bool, int]:
        n = count_tokens(text) + 1  # newline joiner
        return used + n <= budget_tokens, n

    def take(section: str, text: str, meta: dict[str, Any], required: bool = False) -> bool:
        nonlocal used
        ok, n = fits(text)
        if ok or required:
            used += n
            explain.append({"section": section, "tokens": n, "included": True, "text": text, **meta})
            return True
        explain.append({"section": section, "tokens": n, "included": False, "reason": "over budget",
                        "text": text, **meta})
        return False

    sys_parts: list[str] = []
    base = system_prompt.strip()
    if base:
        take("system", base, {}, required=True)
        sys_parts.append(base)
    # Message framing and section headers, counted up front so the packing below is honest.
    used += reserve_per_message * 2 + count_tokens("Patient facts:\nRelevant memories:\nRecent notes:\n\n")
    style_line = instruction(style)
    if style_line and take("style", style_line, {"style": style}):
        sys_parts.append(style_line)

    facts: list[str] = []
    for m in core:
        line = f"- {m['text']}"
        if take("core", line, {"memory_id": m.get("id"), "kind": m.get("kind")}):
            facts.append(line)

    turns = list(working)
    last_user = None if prefix_only else next((t for t in reversed(turns) if t["role"] == "user"), None)
    if last_user is not None:
        take("working", last_user["text"], {"turn_id": last_user["tid"], "latest": True}, required=True)
    older = [t for t in turns if t is not last_user]
    ids = [t["tid"] for t in older]
    start = ids.index(first_turn) if first_turn in ids else 0

    def block_of(t: dict[str, Any]) -> str | None:
        return earlier_recall.get(t["tid"]) if t["role"] == "user" else None

    # Lines the conversation window already shows in an earlier question's recall block.
    earlier_lines: dict[str, Any] = {}
    for t in older[start:]:
        for line in (block_of(t) or "").splitlines():
            if line.startswith("- "):
                earlier_lines.setdefault(line, t["tid"])

    shown: set[str] = {f for f in facts}
    in_working = {t["tid"] for t in turns}
    in_question = {last_user["tid"]} if last_user is not None else set()
    retrieved: list[str] = []
    # Lines the conversation may already show: held back until the window is known, then shown
    # only if what covers them (the turns they were noted from, or the earlier question whose
    # recall block listed them) left the window. Repeating them only crowds a small model and
    # lengthens every follow-up's prefill.
    deferred: list[tuple[str, str, dict[str, Any], list[set[Any]]]] = []  # covered if any set is in view
    question_text = last_user["text"] if last_user is not None else ""

    def consider(section: str, line: str, meta: dict[str, Any], sources: Sequence[Any], into: list[str]) -> None:
        # A note quotes the sentence it was made from ("Reports pain: <sentence>"); a merged note
        # keeps every source turn, so the quote, not the ids, says whether it restates a turn.
        quote = line.split(": ", 1)[1].strip() if ": " in line else ""
        if len(quote) < 16:
            quote = ""  # "Blood pressure: 150/90" quotes no sentence
        if quote and quote in question_text:
            return  # restates the question being answered
        covers: list[set[Any]] = []
        if line in earlier_lines:
            covers.append({earlier_lines[line]})
        if sources and set(sources) <= in_working:
            covers.append(set(sources))
        if quote:
            covers += [{t["tid"]} for t in older if quote in t["text"]]
        if covers:
            deferred.append((section, line, meta, covers))
        elif take(section, line, meta):
            into.append(line)
        shown.add(line)

    for h in hits:
        if h.tier in ("turn", "working") and set(h.source_ids) <= in_working:
            continue  # already in the conversation itself
        if h.source_ids and set(h.source_ids) <= in_question:
            continue  # a note of the question itself: the model reads the question anyway
        line = f"- {h.text}" if h.tier != "turn" else f"- (earlier) {h.text}"
        if line in shown:
            continue
        consider("retrieved", line, {"tier": h.tier, "score": h.score, "source_ids": h.source_ids,
                                     "memory_id": h.memory_id}, h.source_ids, retrieved)
    short_lines: list[str] = []
    for n in short_notes:
        line = f"- {n.text}"
        if line in shown:
            continue
        if n.source_ids and set(n.source_ids) <= in_question:
            # Noted from the question being answered: repeating it only crowds a small model
            # (SmolLM2 looped on a prompt that restated the question as three notes).
            continue
        consider("short", line, {"note_id": n.id, "kind": n.kind}, n.source_ids, short_lines)

    # The conversation window: the turns from ``start`` on, each user turn with its recall block.
    def cost(t: dict[str, Any]) -> int:
        block = block_of(t)
        return count_tokens(t["text"]) + reserve_per_message + (count_tokens(block) + reserve_per_message if block else 0)

    costs = [cost(t) for t in older]
    room = budget_tokens - used - (next_reserve if prefix_only else 0)
    if sum(costs) <= room * keep_fraction:
        # The whole session fits with room to grow (at first, or after the budget grew): the
        # window opens at its first turn. Not merely "fits": that would undo a jump taken in idle
        # time for the next question (``prefix_only``) and re-read what was just prefilled.
        start = 0
    elif sum(costs[start:]) > room:
        # Jump, don't creep: keep the newest turns that fill at most keep_fraction of the room.
        target, tail, start = room * keep_fraction, 0, len(older)
        while start > 0 and tail + costs[start - 1] <= target:
            start -= 1
            tail += costs[start]
        while start < len(older) and older[start]["role"] != "user":
            start += 1  # open on a question, not on half of an exchange
        last_q = max((i for i, t in enumerate(older) if t["role"] == "user"), default=start)
        if last_q < start and sum(costs[last_q:]) <= room:
            start = last_q  # a small room still keeps the exchange the patient just had
    for t in older[:start]:
        explain.append({"section": "working", "tokens": cost(t), "included": False,
                        "reason": "before the conversation window", "text": t["text"], "turn_id": t["tid"],
                        "role": t["role"]})
    kept = older[start:]
    for t in kept:
        used += cost(t)
        explain.append({"section": "working", "tokens": cost(t), "included": True, "text": t["text"],
                        "turn_id": t["tid"], "role": t["role"], "recall_block": block_of(t) is not None})
    kept_ids = {t["tid"] for t in kept} | in_question
    for section, line, meta, covers in deferred:
        if any(cover <= kept_ids for cover in covers):
            explain.append({"section": section, "tokens": count_tokens(line) + 1, "included": False,
                            "reason": "already in the conversation", "text": line, **meta})
        elif take(section, line, meta):  # what covered it left the window: show it again
            (retrieved if section == "retrieved" else short_lines).append(line)
    if last_user is not None:
        order = {id(t): i for i, t in enumerate(turns)}
        kept.append(last_user)
        kept.sort(key=lambda t: order[id(t)])

    def recall_text() -> str | None:
        recalled = []
        if retrieved:
            recalled.append("Relevant memories:\n" + "\n".join(retrieved))
        if short_lines:
            recalled.append("Recent notes:\n" + "\n".join(short_lines))
        return "\n\n".join(recalled) if recalled else None

    def render() -> list[dict[str, str]]:
        # Stable parts first, then the conversation with each question's recall block right
        # before it: every prompt of a session extends the last one, so the engine's KV prefix
        # reuse covers all of it and a follow-up prefills only its own new tokens.
        system = "\n".join(sys_parts)
        if facts:
            system = (system + "\n\n" if system else "") + "Patient facts:\n" + "\n".join(facts)
        msgs = [{"role": "system", "content": system}] if system else []
        recall = recall_text()
        for t in kept:
            block = recall if t is last_user else block_of(t)
            if block:
                msgs.append({"role": "system", "content": block})
            role = t["role"] if t["role"] in ("user", "assistant") else "user"
            msgs.append({"role": role, "content": t["text"]})
        if last_user is None and recall:  # no user turn to answer: keep the memories with the system part
            msgs.insert(1 if system else 0, {"role": "system", "content": recall})
        return msgs

    def total_of(msgs: list[dict[str, str]]) -> int:
        return sum(count_tokens(m["content"]) + reserve_per_message for m in msgs)

    messages = render()
    total = total_of(messages)
    # Tokenizing the joined text can differ by a few tokens from the sum of parts: trim if needed,
    # lowest priority first, and say so in the explanation.
    while total > budget_tokens:
        dropped: Any = None
        older_kept = [t for t in kept if t is not last_user]
        if older_kept:
            dropped = older_kept[0]
            kept.remove(dropped)
            dropped = dropped["text"]
        elif short_lines:
            dropped = short_lines.pop()
        elif retrieved:
            dropped = retrieved.pop()
        elif facts:
            dropped = facts.pop()
        else:
            break
        for e in explain:
            if e["included"] and e["text"] in (dropped, dropped.removeprefix("- ") if isinstance(dropped, str) else None):
                e["included"], e["reason"] = False, "trimmed to fit after rendering"
                break
        messages = render()
        total = total_of(messages)
    window = [t for t in kept if t is not last_user] or ([last_user] if last_user is not None else [])
    return PromptPlan(messages=messages, explain=explain, tokens=total, budget=budget_tokens,
                      recall=recall_text() if last_user is not None else None,
                      first_turn=window[0]["tid"] if window else None)
