"""The small interfaces the runtime's parts meet at.

As mem0 does, stores, embedders and generators sit behind narrow protocols, so a Jetson CUDA
engine, another vector index or a remote embedder slots in without touching the memory logic or
the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np


@dataclass
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram: int = 0  # n > 0: never emit a token that repeats an n-gram of the reply
    stop: Sequence[str] = field(default_factory=tuple)
    seed: int | None = None


@runtime_checkable
class Embedder(Protocol):
    """Texts -> L2-normalized float32 vectors of a fixed width."""

    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class Generator(Protocol):
    """A chat model: counts tokens and streams a reply as text pieces."""

    context_length: int

    def count_tokens(self, text: str) -> int: ...

    def stream_chat(self, messages: Sequence[ChatMessage], config: GenerationConfig) -> Iterator[str]: ...


@runtime_checkable
class PromptCache(Protocol):
    """A generator that keeps the conversation's KV prefix: renders a chat to the ids it would feed
    and feeds the known start of the next prompt in idle time (``Engine.prefill``). A generator
    without it simply starts each reply cold; callers check with ``isinstance``, never getattr."""

    def render_chat(self, messages: Sequence[ChatMessage], add_generation_prompt: bool = True) -> list[int]: ...

    def prefill(self, messages: Sequence[ChatMessage], should_stop: Callable[[], bool] | None = None) -> int: ...


@runtime_checkable
class Scorer(Protocol):
    """A model that scores continuations (closed-set choice, perplexity): token ids, the
    log-probability of each continuation, and ``scratch()``, the same in borrowed KV rows that
    leave the cached conversation intact (``Engine.scratch``)."""

    def encode(self, text: str) -> list[int]: ...

    def score(self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[float]: ...

    def scratch(self) -> ContextManager["Scorer"]: ...


@runtime_checkable
class VectorIndex(Protocol):
    """Approximate nearest neighbours over int64 keys; derived state, rebuildable from SQLite."""

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, keys: Sequence[int]) -> None: ...

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]: ...

    def __len__(self) -> int: ...
