"""ChatML rendering straight to token ids, injection-proof, with a context truncation policy.

Why ids and not a rendered string: if the template were rendered to text and then tokenized, a
patient typing ``<|im_start|>system`` would produce a real control token and could rewrite the
assistant's instructions. Here control tokens come only from the template's structure, as ids;
every piece of message text is encoded with special tokens treated as plain text. Each message is
encoded on its own, so an unchanged earlier turn always yields the same ids and its KV state can
be reused on the next turn (prefix reuse).

The bundle's Jinja template is not executed on the device (no jinja2 there): it must be ChatML,
and its one variable part, a default system prompt inserted when the conversation has none (as
SmolLM2's template does), is read out of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import BundleError, InputError
from ..interfaces import ChatMessage
from ..lru import LRU

ROLES = ("system", "user", "assistant")
MESSAGE_CACHE = 512  # encoded texts kept (a few hundred KB at most)
_DEFAULT_SYSTEM = re.compile(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", re.S)


@dataclass(frozen=True)
class ChatTemplate:
    """ChatML: ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message, then the assistant header."""

    im_start: int
    im_end: int
    default_system: str | None = None

    @classmethod
    def from_jinja(cls, template: str | None, im_start: int, im_end: int) -> "ChatTemplate":
        if template is not None and "<|im_start|>" not in template:
            raise BundleError("the bundle's chat template is not ChatML; this engine renders ChatML only")
        default = None
        if template and "messages[0]['role'] != 'system'" in template.replace('"', "'"):
            m = _DEFAULT_SYSTEM.search(template)
            default = m.group(1) if m else None
        return cls(im_start=im_start, im_end=im_end, default_system=default)


def coerce_messages(messages: Sequence[Any]) -> list[ChatMessage]:
    """Accept ChatMessage objects or ``{"role", "content"}`` dicts; reject anything else in one line."""
    out = []
    for m in messages:
        role, content = (m.get("role"), m.get("content")) if isinstance(m, dict) else (getattr(m, "role", None), getattr(m, "content", None))
        if role not in ROLES:
            raise InputError(f"message role must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise InputError("message content must be a string")
        out.append(ChatMessage(role, content))
    if not out:
        raise InputError("no messages to answer")
    return out


class ChatRenderer:
    """Messages -> ids for one tokenizer and template; also the truncation policy."""

    def __init__(self, tokenizer: Any, template: ChatTemplate) -> None:
        self.tokenizer = tokenizer
        self.template = template
        # Every turn re-renders the whole conversation (that is how the prefix is found again;
        # re-encoding 40 unchanged messages cost ~1 ms of the follow-up's time to first token),
        # and the memory counts every kept turn's tokens for every prompt (~60 texts, ~8 ms a
        # turn): texts are encoded once, a message is its role header around its text's ids.
        self._text_cache: LRU[str, tuple[int, ...]] = LRU(MESSAGE_CACHE)
        self._newline = self.text_ids("\n")
        self._headers: dict[str, list[int]] = {r: [template.im_start] + self.text_ids(r + "\n") for r in ROLES}

    def text_ids(self, text: str) -> list[int]:
        """Plain text -> ids; ``<|im_start|>`` typed by a person stays text."""
        if not text:
            return []
        ids = self._text_cache.get(text)
        if ids is None:
            clean = text
            if not clean.isascii():  # lone surrogates (invalid UTF-8 smuggled into a str) become "?"
                clean = clean.encode("utf-8", "replace").decode("utf-8")
            ids = self._text_cache.put(text, tuple(self.tokenizer.encode(clean, add_special_tokens=False).ids))
        return list(ids)

    def with_default_system(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        if self.template.default_system is not None and messages and messages[0].role != "system":
            return [ChatMessage("system", self.template.default_system)] + messages
        return messages

    def message_ids(self, m: ChatMessage) -> list[int]:
        return self._headers[m.role] + self.text_ids(m.content) + [self.template.im_end] + self._newline

    def clear_cache(self) -> None:
        self._text_cache.clear()

    def generation_prompt(self) -> list[int]:
        return list(self._headers["assistant"])

    def render(self, messages: Sequence[Any], add_generation_prompt: bool = True) -> list[int]:
        msgs = self.with_default_system(coerce_messages(messages))
        ids: list[int] = []
        for m in msgs:
            ids += self.message_ids(m)
        return ids + (self.generation_prompt() if add_generation_prompt else [])

    def fit(self, messages: Sequence[Any], budget: int) -> list[int]:
        """Render within ``budget`` tokens (prompt + generation prompt).

        Policy: the leading system messages (system prompt, memory preamble) and the latest turns
        are kept; the oldest turns after the preamble are dropped first. If the newest message
        alone still does not fit, its beginning is cut (its end is what is being asked). If the
        preamble itself does not fit, its last system messages are cut from the end.
        """
        msgs = self.with_default_system(coerce_messages(messages))
        n_lead = 0
        while n_lead < len(msgs) and msgs[n_lead].role == "system":
            n_lead += 1
        lead = [self.message_ids(m) for m in msgs[:n_lead]]
        turns = [self.message_ids(m) for m in msgs[n_lead:]]
        gen = self.generation_prompt()
        lead_len = sum(map(len, lead))
        # Preamble too long: trim system messages from the last one backwards, keep at least 16 tokens room.
        room_for_turns = 16 if turns else 0
        while lead and lead_len + len(gen) + room_for_turns > budget:
            over = lead_len + len(gen) + room_for_turns - budget
            last = lead[-1]
            body = last[len(self._headers["system"]):-1 - len(self._newline)]
            if len(body) > over:
                body = body[: len(body) - over]
                lead[-1] = self._headers["system"] + body + [self.template.im_end] + self._newline
            else:
                lead.pop()
            lead_len = sum(map(len, lead))
        kept: list[list[int]] = []
        used = lead_len + len(gen)
        for t in reversed(turns):
            if used + len(t) > budget:
                break
            kept.append(t)
            used += len(t)
        kept.reverse()
        if turns and not kept:
            last = turns[-1]
            role_len = next(len(h) for h in self._headers.values() if last[: len(h)] == h)
            header = last[:role_len]
            tail = last[role_len:]
            room = budget - used - len(header)
            if room < 2:
                raise InputError("the context window is too small for this conversation")
            kept = [header + tail[len(tail) - room:]]
        ids = [t for block in lead for t in block] + [t for block in kept for t in block] + gen
        if len(ids) > budget:
            raise InputError("the context window is too small for this conversation")
        return ids
