"""``edgemem-export adapter``: a signed adapter-only update (LoRA weights only) for a bundle.

Thin shell over ``export.adapter_update.build_update``.
"""

from __future__ import annotations

import json

import click


@click.command(name="adapter")
@click.option("--bundle", "base_bundle", required=True, type=click.Path(file_okay=False),
              help="The bundle folder the device runs (the update applies to exactly this one).")
@click.option("--adapter", "adapter_dir", required=True, type=click.Path(file_okay=False),
              help="The peft LoRA adapter folder (edgemem-export train --out).")
@click.option("--base", "base_hf", required=True, type=click.Path(file_okay=False),
              help="The HF base folder the bundle was built from (for the off-device reference merge).")
@click.option("--out", required=True, type=click.Path(), help="Folder to write the update into.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False),
              help="ed25519 signing key (default: this home's development key, with a warning).")
@click.option("--version", "version", type=int, help="Update version (default: the bundle's + 1).")
@click.option("--max-ppl-increase", type=float, help="Allowed golden perplexity increase over the reference (default: profile).")
@click.option("--min-agreement", type=float, help="Required greedy agreement with the reference (default: profile).")
@click.option("--tar", "as_tar", is_flag=True, help="Also write OUT.tar, the single-file form.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def adapter(ctx: click.Context, base_bundle: str, adapter_dir: str, base_hf: str, out: str, key_file: str | None,
            version: int | None, max_ppl_increase: float | None, min_agreement: float | None,
            as_tar: bool, as_json: bool) -> None:
    """Build a signed adapter-only update: the device merges it into BUNDLE without torch, and
    refuses it unless the result is inside the gate measured here on a float merge."""
    from edgemem import bundle, signing_keys

    from .adapter_update import build_update

    home = ctx.find_root().obj["home"]
    if key_file:
        key = signing_keys.load_private_key(key_file)
    else:
        key, created = signing_keys.dev_key(home)
        click.echo(f"warning: signing with the development key {signing_keys.dev_key_path(home)}"
                   + (" (created now)" if created else "") + "; devices must trust it", err=True)
    m = build_update(base_bundle, adapter_dir, base_hf, out, key=key, version=version, home=home,
                     max_ppl_increase=max_ppl_increase, min_agreement=min_agreement)
    size = sum(int(e["size"]) for e in m.files.values())
    full = sum(int(e["size"]) for e in bundle.read_manifest(base_bundle).files.values())
    tar = str(bundle.pack(out, out.rstrip("/") + ".tar")) if as_tar else None
    res = {"out": out, "tar": tar, "version": m.version, "applies_to_version": m["applies_to"]["version"],
           "update_bytes": size, "bundle_bytes": full, "ratio": size / full if full else None,
           "reference_ppl": m["golden"]["reference_ppl"], "max_ppl": m["golden"]["max_ppl"]}
    if as_json:
        click.echo(json.dumps(res, indent=1))
    else:
        click.echo(f"adapter update v{m.version} for bundle v{res['applies_to_version']}: {size / 1e6:.2f} MB "
                   f"({100 * res['ratio']:.1f}% of the {full / 1e6:.0f} MB bundle), written to {out}")
