"""Prompt assembly within a token budget.

Order of priority (what is dropped last comes first):
1. the system prompt and the preference's style instruction;
2. core patient facts, always: allergies, medications, conditions (a 135M model cannot be trusted
   to retrieve them itself, and they are what makes advice safe);
3. the latest user turn (the question being answered);
4. retrieved memories for that question (long-term notes, summaries, older turns);
5. short-term notes from the ring;
6. the rest of working memory, newest turns first.
Sections are packed greedily in that order; an item that does not fit is skipped (a shorter one
later may still fit). ``explain`` records every item considered: section, tokens, included or why
not. The system prompt, style and core facts form the first system message; the memories
retrieved for this question go in a second system message right before the latest user turn
(stable prefix first, so the engine reuses the KV cache of everything before it).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .preference import instruction
from .types import Hit, PromptPlan

CountTokens = Callable[[str], int]
CORE_KINDS = ("allergy", "medication", "condition")


def assemble(*, system_prompt: str, style: str | None, core: Sequence[dict[str, Any]], hits: Sequence[Hit],
             short_notes: Sequence[Any], working: Sequence[dict[str, Any]], budget_tokens: int,
             count_tokens: CountTokens, reserve_per_message: int = 4) -> PromptPlan:
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
    last_user = next((t for t in reversed(turns) if t["role"] == "user"), None)
    if last_user is not None:
        take("working", last_user["text"], {"turn_id": last_user["tid"], "latest": True}, required=True)

    shown: set[str] = {f for f in facts}
    in_working = {t["tid"] for t in turns}
    in_question = {last_user["tid"]} if last_user is not None else set()
    retrieved: list[str] = []
    for h in hits:
        if h.tier in ("turn", "working") and set(h.source_ids) <= in_working:
            continue  # already in the conversation itself
        if h.source_ids and set(h.source_ids) <= in_question:
            continue  # a note of the question itself: the model reads the question anyway
        line = f"- {h.text}" if h.tier != "turn" else f"- (earlier) {h.text}"
        if line in shown:
            continue
        if take("retrieved", line, {"tier": h.tier, "score": h.score, "source_ids": h.source_ids,
                                    "memory_id": h.memory_id}):
            retrieved.append(line)
            shown.add(line)
    short_lines: list[str] = []
    for n in short_notes:
        line = f"- {n.text}"
        if line in shown:
            continue
        if n.source_ids and set(n.source_ids) <= in_question:
            # Noted from the question being answered: repeating it only crowds a small model
            # (SmolLM2 looped on a prompt that restated the question as three notes).
            continue
        if take("short", line, {"note_id": n.id, "kind": n.kind}):
            short_lines.append(line)
            shown.add(line)

    # Working memory: newest first until the budget is spent, then restore chronological order.
    kept: list[dict[str, Any]] = []
    for t in reversed(turns):
        if last_user is not None and t is last_user:
            kept.append(t)
            continue
        if take("working", t["text"], {"turn_id": t["tid"], "role": t["role"]}):
            kept.append(t)
    kept.reverse()

    def render() -> list[dict[str, str]]:
        # Stable parts first, per-question parts last: the system prompt, style and core facts
        # change rarely within a session, so the engine's KV prefix reuse covers them and all
        # earlier turns; what was retrieved for *this* question sits in a second system message
        # just before the latest user turn, so a follow-up only prefills its own new tokens.
        system = "\n".join(sys_parts)
        if facts:
            system = (system + "\n\n" if system else "") + "Patient facts:\n" + "\n".join(facts)
        recalled = []
        if retrieved:
            recalled.append("Relevant memories:\n" + "\n".join(retrieved))
        if short_lines:
            recalled.append("Recent notes:\n" + "\n".join(short_lines))
        msgs = [{"role": "system", "content": system}] if system else []
        recall_msg = {"role": "system", "content": "\n\n".join(recalled)} if recalled else None
        for t in kept:
            if t is last_user and recall_msg is not None:
                msgs.append(recall_msg)
                recall_msg = None
            role = t["role"] if t["role"] in ("user", "assistant") else "user"
            msgs.append({"role": role, "content": t["text"]})
        if recall_msg is not None:  # no user turn to answer: keep the memories with the system part
            msgs.insert(1 if system else 0, recall_msg)
        return msgs

    def total_of(msgs: list[dict[str, str]]) -> int:
        return sum(count_tokens(m["content"]) + reserve_per_message for m in msgs)

    messages = render()
    total = total_of(messages)
    # Tokenizing the joined text can differ by a few tokens from the sum of parts: trim if needed,
    # lowest priority first, and say so in the explanation.
    while total > budget_tokens:
        dropped: Any = None
        older = [t for t in kept if t is not last_user]
        if older:
            dropped = older[0]
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
    return PromptPlan(messages=messages, explain=explain, tokens=total, budget=budget_tokens)
