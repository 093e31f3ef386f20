"""Shared fixtures. Every test gets its own home folder; nothing touches ~/.local/share/edgemem."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("EDGEMEM_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    # A fresh home would otherwise get MiniLM converted from the installed package (90 MB, seconds);
    # tests of that step (test_memory_home_embedder.py) lift this.
    monkeypatch.setenv("EDGEMEM_NO_PACKAGE_EMBEDDER", "1")
    return home


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Llama HF folder with a ChatML tokenizer (built once per session)."""
    from tiny_model import make_tiny_llama

    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def minilm_embedder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real all-MiniLM-L6-v2 exported to ONNX (model.onnx + tokenizer.json), once per session."""
    from export.embedder import export_embedder

    out = tmp_path_factory.mktemp("minilm")
    export_embedder(None, out)
    return out


@pytest.fixture(scope="session")
def _tiny_bundle_built(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path,
                       minilm_embedder_dir: Path) -> tuple[Path, Path]:
    """Build the tiny bundle once per session: (bundle folder, signing public key file)."""
    from edgemem import signing_keys
    from edgemem.home import Home
    from export.base import convert
    from export.build import build

    root = tmp_path_factory.mktemp("tiny-bundle")
    key = signing_keys.generate()
    priv, pub = signing_keys.save_keypair(key, root / "test-signing.key")
    base = root / "base"
    convert(tiny_llama_dir, base)
    build("pi-5", root / "bundle", base=base, key=priv, home=Home(root / "build-home"),
          heldout=[Path(__file__).resolve().parent / "data" / "dialogues.jsonl"],
          embedder=minilm_embedder_dir, gate_tokens=1024, version=1)
    return root / "bundle", pub


@pytest.fixture()
def tiny_bundle(_tiny_bundle_built: tuple[Path, Path], _isolated_home: Path) -> Path:
    """A signed int8 bundle (profile pi-5, context 512, version 1, parent_version null) of the
    tiny random Llama, built through ``export.build.build`` exactly as a real bundle is: fused
    ONNX decoder, ``tokenizer.json``, the real MiniLM ``embedder/``, a passed quality gate,
    ``golden``, and a ``.tar`` twin at ``tiny_bundle.with_name("bundle.tar")``.

    Trust: it is signed with a session test key (not a dev key). This fixture writes that key's
    public half into the test's isolated ``$EDGEMEM_HOME/keys/trusted/``, so
    ``edgemem.bundle.verify(tiny_bundle)``, ``Engine.from_bundle(tiny_bundle)`` and
    ``edgemem verify`` accept it with no extra step; ``tiny_bundle_key`` gives the ``.pub`` file for
    ``--key``. The folder is shared by the whole session: copy it (``shutil.copytree``) before
    changing anything in it.
    """
    from edgemem import signing_keys
    from edgemem.home import Home

    path, pub = _tiny_bundle_built
    signing_keys.trust(signing_keys.load_public_key(pub), Home(_isolated_home))
    return path


@pytest.fixture()
def tiny_bundle_key(_tiny_bundle_built: tuple[Path, Path]) -> Path:
    """The ``.pub`` file (hex ed25519) of the key that signed ``tiny_bundle``."""
    return _tiny_bundle_built[1]
