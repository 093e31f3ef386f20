"""The on-device smoke test a staged bundle must pass before the device switches to it.

Signatures and hashes prove a bundle is the one the builder made, not that it works here: this
onnxruntime build may reject an op, the model may not fit, or a bad build may talk gibberish.
So before a switch the staged bundle is loaded through the same engine that will serve it, asked
to generate a few tokens, and scored on the golden text its manifest carries: its perplexity must
stay within ``golden.max_ppl`` (set by the builder's quality gate). A quantized model whose
quality collapsed fails here, on the device, with the old bundle still active.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import Manifest
from ..errors import BundleError
from ..home import Home


def perplexity(logits: np.ndarray, ids: list[int]) -> float:
    """exp(mean negative log-likelihood) of ``ids[1:]`` given teacher-forced ``logits[:-1]``."""
    x = np.asarray(logits, dtype=np.float64)[:-1]
    x = x - x.max(axis=-1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    nll = -logp[np.arange(len(ids) - 1), np.asarray(ids[1:])]
    return float(math.exp(nll.mean()))


def golden_perplexity(folder: Path, manifest: Manifest, threads: int = 2) -> float | None:
    """Perplexity of the bundle's decoder on its golden text (None if the manifest has none)."""
    golden = manifest.golden
    if not golden or not golden.get("text"):
        return None
    from tokenizers import Tokenizer

    from ..engine import DecoderModel

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids = tok.encode(golden["text"], add_special_tokens=False).ids
    if len(ids) < 2:
        raise BundleError("golden text in the manifest is too short to score")
    model = DecoderModel(str(folder / "model.onnx"), manifest.io, threads=threads)
    return perplexity(model.logits(ids), ids)


def smoke_test(folder: Path, manifest: Manifest, home: Home | None = None, new_tokens: int = 4) -> dict[str, Any]:
    """Load, generate, score the golden text; raise ``BundleError`` with one line on failure."""
    from ..interfaces import ChatMessage, GenerationConfig

    t0 = time.perf_counter()
    try:
        from ..engine import Engine

        engine = Engine.from_bundle(folder, home=home)
        cfg = GenerationConfig(max_new_tokens=new_tokens, temperature=0.0)
        pieces = list(engine.stream_chat([ChatMessage("user", "Hello, how are you?")], cfg))
        ppl = golden_perplexity(folder, manifest)
    except BundleError as e:
        raise BundleError(f"smoke test failed: {e}") from None
    except Exception as e:  # onnxruntime, tokenizers: any failure to run means "do not switch"
        raise BundleError(f"smoke test failed: the new bundle does not run here "
                          f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    report: dict[str, Any] = {"generated_chars": len("".join(pieces)), "seconds": round(time.perf_counter() - t0, 3)}
    if ppl is not None:
        max_ppl = float(manifest.golden["max_ppl"])  # type: ignore[index]
        report.update(golden_ppl=round(ppl, 4), max_ppl=max_ppl)
        if not math.isfinite(ppl) or ppl > max_ppl:
            raise BundleError(f"smoke test failed: golden-text perplexity {ppl:.3f} exceeds the "
                              f"manifest's limit {max_ppl:.3f}")
    return report
