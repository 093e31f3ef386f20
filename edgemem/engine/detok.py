"""Incremental detokenization: text pieces that never split a UTF-8 character.

Byte-level BPE tokens can end in the middle of a multi-byte character (an emoji, an accented
letter); decoding token by token would emit U+FFFD replacement characters. This keeps a small
window of ids, decodes it, and emits only the new text once it no longer ends in an incomplete
character (the approach of vLLM's and TGI's streaming decoders).
"""

from __future__ import annotations

from typing import Any

_REPLACEMENT = "\ufffd"


class IncrementalDecoder:
    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self._prefix = 0  # start of the decoding window
        self._read = 0  # ids before this are already emitted

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False) if ids else ""

    def push(self, token: int) -> str:
        """Add one id; return the newly complete text (possibly empty)."""
        self.ids.append(int(token))
        prefix_text = self._decode(self.ids[self._prefix:self._read])
        full = self._decode(self.ids[self._prefix:])
        if len(full) > len(prefix_text) and not full.endswith(_REPLACEMENT):
            piece = full[len(prefix_text):]
            self._prefix, self._read = self._read, len(self.ids)
            return piece
        return ""

    def flush(self) -> str:
        """Whatever is left at the end (an incomplete character decodes as U+FFFD)."""
        prefix_text = self._decode(self.ids[self._prefix:self._read])
        full = self._decode(self.ids[self._prefix:])
        self._prefix = self._read = len(self.ids)
        return full[len(prefix_text):]
