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
    from ..engine.sampler import log_softmax

    logp = log_softmax(np.asarray(logits)[:-1])
    nll = -logp[np.arange(len(ids) - 1), np.asarray(ids[1:])]
    return float(math.exp(nll.mean()))


def golden_check(folder: Path, manifest: Manifest, threads: int = 2, model: Any = None) -> dict[str, Any] | None:
    """Score the golden text: perplexity, and greedy agreement with the builder's ``argmax`` if given.

    The text is tokenized without special tokens, exactly as the builder's gate scored it.
    """
    golden = manifest.golden
    if not golden or not golden.get("text"):
        return None
    from tokenizers import Tokenizer

    from ..engine import DecoderModel

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids = tok.encode(golden["text"], add_special_tokens=False).ids
    if len(ids) < 2:
        raise BundleError("golden text in the manifest is too short to score")
    if model is None:
        model = DecoderModel(str(folder / "model.onnx"), manifest.io, threads=threads)
    logits = model.logits(ids)
    out: dict[str, Any] = {"golden_ppl": perplexity(logits, ids), "golden_tokens": len(ids)}
    ref = golden.get("argmax")
    if ref:
        got = logits.argmax(-1)[: len(ref)]
        out["agreement"] = float((got == np.asarray(ref[: len(got)])).mean())
    return out


def smoke_test(folder: Path, manifest: Manifest, home: Home | None = None, new_tokens: int = 4,
               trusted_keys: Any = None) -> dict[str, Any]:
    """Load, generate, score the golden text; raise ``BundleError`` with one line on failure."""
    from ..interfaces import ChatMessage, GenerationConfig

    t0 = time.perf_counter()
    try:
        from ..engine import Engine

        engine = Engine.from_bundle(folder, home=home, trusted_keys=trusted_keys)
        cfg = GenerationConfig(max_new_tokens=new_tokens, temperature=0.0)
        pieces = list(engine.stream_chat([ChatMessage("user", "Hello, how are you?")], cfg))
        golden = golden_check(folder, manifest, model=engine.model)  # the session just loaded
    except BundleError as e:
        raise BundleError(f"smoke test failed: {e}") from None
    except Exception as e:  # onnxruntime, tokenizers: any failure to run means "do not switch"
        raise BundleError(f"smoke test failed: the new bundle does not run here "
                          f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    report: dict[str, Any] = {"generated_chars": len("".join(pieces)), "seconds": round(time.perf_counter() - t0, 3)}
    if golden is not None:
        g = manifest.golden or {}
        ppl = golden["golden_ppl"]
        max_ppl = float(g["max_ppl"])
        report.update(golden_ppl=round(ppl, 4), max_ppl=max_ppl)
        if not math.isfinite(ppl) or ppl > max_ppl:
            raise BundleError(f"smoke test failed: golden-text perplexity {ppl:.3f} exceeds the "
                              f"manifest's limit {max_ppl:.3f}")
        if "agreement" in golden:
            need = float(g.get("min_agreement", 0.9))
            report.update(agreement=round(golden["agreement"], 4), min_agreement=need)
            if golden["agreement"] < need:
                raise BundleError(f"smoke test failed: greedy agreement {golden['agreement']:.3f} with the "
                                  f"off-device build is below {need:.3f}")
    return report
