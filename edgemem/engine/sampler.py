"""Next-token choice: greedy, or temperature / top-k / top-p with a repetition penalty, seedable.

Works on one row of logits in numpy. Greedy is a plain argmax (the hot path of the decode loop);
sampling only sorts when top-p asks for it, and then only the top-k candidates when top-k is set.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..errors import InputError
from ..interfaces import GenerationConfig


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis, in float64 (scoring and perplexity sum many of them)."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def validate(config: GenerationConfig) -> None:
    if config.max_new_tokens < 1:
        raise InputError("max_new_tokens must be >= 1")
    if config.temperature < 0:
        raise InputError("temperature must be >= 0")
    if config.top_k < 0:
        raise InputError("top_k must be >= 0")
    if not 0 < config.top_p <= 1:
        raise InputError("top_p must be in (0, 1]")
    if config.repetition_penalty <= 0:
        raise InputError("repetition_penalty must be > 0")
    if config.no_repeat_ngram < 0:
        raise InputError("no_repeat_ngram must be >= 0")


class Sampler:
    def __init__(self, config: GenerationConfig) -> None:
        validate(config)
        self.config = config
        self.greedy = config.temperature == 0
        # Greedy never draws: skip seeding a generator (OS entropy, ~20 us before the first token).
        self.rng = None if self.greedy else np.random.default_rng(config.seed)
        self.penalty = float(config.repetition_penalty)
        self.no_repeat = int(config.no_repeat_ngram)

    def banned(self, generated: Sequence[int]) -> list[int]:
        """Tokens that would complete an n-gram the reply already holds (a 135M model loops a
        sentence under greedy decoding; a ban on the repeat breaks the loop where it starts)."""
        n = self.no_repeat
        if n <= 0 or len(generated) < n:
            return []
        if n == 1:
            return list(set(generated))
        prefix = tuple(generated[len(generated) - n + 1:])
        return [generated[i + n - 1] for i in range(len(generated) - n + 1)
                if tuple(generated[i:i + n - 1]) == prefix]

    def __call__(self, logits: np.ndarray, seen: Iterable[int] = (), generated: Sequence[int] = ()) -> int:
        c = self.config
        ban = self.banned(generated)
        if ban:
            logits = logits.copy()
            logits[np.asarray(ban, dtype=np.int64)] = -np.inf
        if self.penalty != 1.0:
            logits = logits.copy()
            idx = np.fromiter(set(seen), dtype=np.int64)
            if idx.size:
                vals = logits[idx]
                # CTRL-style: shrink positive logits, push negative ones further down.
                logits[idx] = np.where(vals > 0, vals / self.penalty, vals * self.penalty)
        if self.greedy:
            return int(np.argmax(logits))
        x = logits.astype(np.float64) / c.temperature
        if c.top_k and c.top_k < x.size:
            cand = np.argpartition(-x, c.top_k - 1)[: c.top_k]
        else:
            cand = np.arange(x.size)
        xs = x[cand]
        order = np.argsort(-xs)
        cand, xs = cand[order], xs[order]
        p = np.exp(xs - xs[0])
        p /= p.sum()
        if c.top_p < 1.0:
            keep = int(np.searchsorted(np.cumsum(p), c.top_p) + 1)
            cand, p = cand[:keep], p[:keep] / p[:keep].sum()
        assert self.rng is not None
        return int(cand[self.rng.choice(len(cand), p=p)])
