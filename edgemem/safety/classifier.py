"""The learned triage stage: a linear model over hashed n-grams, run as a tiny ONNX graph.

Rules recognise the words of an emergency; people use other words. This stage scores how much a
message *as a whole* reads like an emergency of some kind, learned from the project's triage set
(``export/data/triage``, trained by ``python -m export.triage train``). It is deliberately small
(one Gather + weighted sum + softmax, about 3 MB of fp16 weights) so it runs in well under a
millisecond on a Pi and needs no sentence embedder: the same file serves every firmware profile.

It ships inside the signed bundle as ``safety/triage.onnx`` with ``safety/triage.json`` (labels,
thresholds chosen on the dev split, training data hashes). No torch on the device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EdgememError
from .features import featurize

NOT = "not"
URGENT = "urgent"


@dataclass(frozen=True)
class Score:
    """What the classifier makes of one text."""

    p_emergency: float  # sum of the emergency kinds' probabilities
    kind: str           # the most likely emergency kind
    p_urgent: float
    p_not: float


class TriageClassifier:
    """``score(text)`` over ``<folder>/triage.onnx`` and its ``triage.json``."""

    def __init__(self, folder: str | Path) -> None:
        import onnxruntime as ort

        self.folder = Path(folder)
        model, meta = self.folder / "triage.onnx", self.folder / "triage.json"
        if not model.is_file() or not meta.is_file():
            raise EdgememError(f"{self.folder}: no triage classifier (needs triage.onnx and triage.json)")
        self.meta: dict[str, Any] = json.loads(meta.read_text(encoding="utf-8"))
        self.labels: list[str] = list(self.meta["labels"])
        self.thresholds: dict[str, float] = {k: float(v) for k, v in self.meta["thresholds"].items()}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._kinds = [i for i, name in enumerate(self.labels) if name not in (NOT, URGENT)]
        self._not = self.labels.index(NOT)
        self._urgent = self.labels.index(URGENT) if URGENT in self.labels else None

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "?"))

    def probs(self, text: str) -> np.ndarray:
        ids, vals = featurize(text)
        out = self.session.run(None, {"ids": np.asarray(ids, dtype=np.int64),
                                      "vals": np.asarray(vals, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def score(self, text: str) -> Score:
        p = self.probs(text)
        kinds = p[self._kinds]
        best = self._kinds[int(np.argmax(kinds))]
        return Score(p_emergency=float(kinds.sum()), kind=self.labels[best],
                     p_urgent=float(p[self._urgent]) if self._urgent is not None else 0.0,
                     p_not=float(p[self._not]))


def find_classifier(bundle: str | Path | None) -> Path | None:
    """``<bundle>/safety`` when the bundle ships a classifier, else None."""
    if bundle is None:
        return None
    folder = Path(bundle) / "safety"
    return folder if (folder / "triage.onnx").is_file() and (folder / "triage.json").is_file() else None
