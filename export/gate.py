"""The quality gate: a bundle ships only if its quantized graph still is the model it claims to be.

Quantization can break a model silently (FACTS.md: an int4 build that answered "The stomach
andortune" on repeat). So every build measures, on held-out dialogue text the model never trained
on, teacher-forced with the same token ids:

- the perplexity of the fp32 merged torch model and of the quantized ONNX graph (as the device
  runs it: ``edgemem.engine.DecoderModel``), and their ratio;
- greedy next-token agreement: at every position of a fixed prompt set, does the quantized graph
  pick the same argmax token as the fp32 model?

Limits come from the firmware profile (``[gate]``; defaults ``edgemem.profiles.DEFAULT_GATE``).
The torch side is the reference on purpose: it is independent of the ONNX builder, so a builder bug
(not only quantization noise) fails the gate too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgemem.errors import EdgememError

LogitsFn = Callable[[Sequence[int]], np.ndarray]

# The fixed prompt set for greedy agreement: rendered with the model's chat template, plus the
# generation prompt, so the positions that matter most (the first reply tokens) are included.
AGREEMENT_PROMPTS = (
    "I have had a headache and a mild fever for three days. What should I do?",
    "Can I take ibuprofen together with my blood pressure medication?",
    "My knee hurts when I climb stairs. Should I see a doctor?",
    "What are common side effects of metformin?",
    "I feel dizzy every morning when I stand up.",
    "How much water should I drink when I have a cold?",
    "I am allergic to penicillin. Which antibiotics are safe for me?",
    "My child has a rash on her arms after eating peanuts.",
    "I can't sleep well at night and feel anxious during the day.",
    "Please keep your answers short. Is a temperature of 38.5 degrees dangerous?",
    "What can I do about lower back pain after sitting all day?",
    "I forgot to take my insulin this morning. What now?",
)


class GateFailed(EdgememError):
    """The quantized graph lost too much quality; no bundle is written."""


@dataclass
class GateResult:
    ppl_fp32: float
    ppl_quant: float
    ppl_increase: float
    agreement: float
    n_tokens: int
    n_agreement_positions: int
    passed: bool
    forced: bool
    thresholds: dict[str, float]
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("ppl_fp32", "ppl_quant", "ppl_increase", "agreement"):
            d[k] = round(float(d[k]), 6)
        return d

    def summary(self) -> str:
        return (f"perplexity fp32 {self.ppl_fp32:.3f} -> quantized {self.ppl_quant:.3f} "
                f"({self.ppl_increase:+.2%}, limit {self.thresholds['max_ppl_increase']:.0%}), "
                f"greedy agreement {self.agreement:.1%} (limit {self.thresholds['min_agreement']:.0%}) "
                f"over {self.n_tokens} held-out tokens / {self.n_agreement_positions} prompt positions")


def nll_sum(logits: np.ndarray, ids: Sequence[int]) -> tuple[float, int]:
    """Summed NLL of ids[1:] under logits[:-1] (float64 log-softmax)."""
    x = np.asarray(logits[:-1], dtype=np.float64)
    target = np.asarray(ids[1:], dtype=np.int64)
    m = x.max(axis=-1, keepdims=True)
    lse = (m[:, 0] + np.log(np.exp(x - m).sum(axis=-1)))
    return float((lse - x[np.arange(len(target)), target]).sum()), len(target)


def perplexity(fn: LogitsFn, sequences: Sequence[Sequence[int]]) -> tuple[float, int]:
    total, n = 0.0, 0
    for ids in sequences:
        s, c = nll_sum(fn(ids), ids)
        total += s
        n += c
    if n == 0:
        raise EdgememError("quality gate: no tokens to score")
    return math.exp(total / n), n


def agreement(ref: LogitsFn, quant: LogitsFn, prompts: Sequence[Sequence[int]]) -> tuple[float, int]:
    same, n = 0, 0
    for ids in prompts:
        a = np.asarray(ref(ids)).argmax(axis=-1)
        b = np.asarray(quant(ids)).argmax(axis=-1)
        same += int((a == b).sum())
        n += len(ids)
    return same / max(1, n), n


def run_gate(ref: LogitsFn, quant: LogitsFn, texts: Sequence[Sequence[int]], prompts: Sequence[Sequence[int]],
             max_ppl_increase: float, min_agreement: float, *, force: bool = False) -> GateResult:
    """Measure and judge. Never raises on a failed gate: the caller decides (``build`` raises
    ``GateFailed`` unless forced)."""
    p_ref, n = perplexity(ref, texts)
    p_q, _ = perplexity(quant, texts)
    agree, n_pos = agreement(ref, quant, prompts)
    inc = p_q / p_ref - 1.0
    reasons = []
    if not math.isfinite(p_q) or inc > max_ppl_increase:
        reasons.append(f"perplexity rose {inc:+.2%} (limit {max_ppl_increase:.0%})")
    if agree < min_agreement:
        reasons.append(f"greedy agreement {agree:.1%} is below {min_agreement:.0%}")
    return GateResult(ppl_fp32=p_ref, ppl_quant=p_q, ppl_increase=inc, agreement=agree, n_tokens=n,
                      n_agreement_positions=n_pos, passed=not reasons, forced=bool(force and reasons),
                      thresholds={"max_ppl_increase": max_ppl_increase, "min_agreement": min_agreement},
                      reasons=reasons)


# ---------------------------------------------------------------- the two sides

def torch_logits(hf_dir: Path, threads: int | None = None) -> LogitsFn:
    """Teacher-forced fp32 logits of an HF folder (the reference side)."""
    import torch
    from transformers import AutoModelForCausalLM

    if threads:
        torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype="float32")
    model.eval()

    def fn(ids: Sequence[int]) -> np.ndarray:
        with torch.no_grad():
            out = model(input_ids=torch.tensor([list(ids)], dtype=torch.long)).logits
        return out[0].float().numpy()

    return fn


def onnx_logits(onnx_path: Path, io: dict[str, Any], threads: int = 2) -> LogitsFn:
    """Teacher-forced logits of the quantized graph, run exactly as the device runs it."""
    from edgemem.engine import DecoderModel

    model = DecoderModel(onnx_path, io, threads=threads)
    return model.logits


# ---------------------------------------------------------------- texts

def gate_texts(tokenizer: Any, template_render: Callable[..., str], dialogues: Sequence[Any],
               window: int, max_tokens: int) -> list[list[int]]:
    """Held-out dialogues rendered with the chat template, cut into ``window``-token pieces,
    at most ``max_tokens`` in all."""
    out: list[list[int]] = []
    used = 0
    for d in dialogues:
        ids = tokenizer.encode(template_render(d.messages)).ids
        for s in range(0, len(ids), window):
            piece = ids[s:s + window]
            if len(piece) < 8:
                continue
            piece = piece[: max_tokens - used]
            if len(piece) < 8:
                return out
            out.append(piece)
            used += len(piece)
            if used >= max_tokens:
                return out
    return out


def prompt_ids(tokenizer: Any, template_render: Callable[..., str]) -> list[list[int]]:
    return [tokenizer.encode(template_render([{"role": "user", "content": p}], add_generation_prompt=True)).ids
            for p in AGREEMENT_PROMPTS]


def golden(tokenizer: Any, quant: LogitsFn, text: str, margin: float = 0.05) -> dict[str, Any]:
    """A short text and the perplexity the device must stay under on it (on-device smoke test).

    ``ppl`` is what the build measured on this exact graph; ``max_ppl`` adds ``margin`` for
    thread-count and kernel differences on the device.
    """
    ids = tokenizer.encode(text).ids
    p, _ = perplexity(quant, [ids])
    return {"text": text, "ppl": round(p, 4), "max_ppl": round(p * (1 + margin), 4)}
