"""``edgemem verify BUNDLE``: is this bundle signed by a key we trust, and is every byte intact?

Runs on the device before anything loads a model, so it imports no model code at all: only
the manifest, hashes and ed25519.
"""

from __future__ import annotations

import json

import click

from .main import home_of


@click.command(name="verify")
@click.argument("bundle", type=click.Path(exists=False))
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="Also trust this public key file (hex or PEM); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def verify(ctx: click.Context, bundle: str, keys: tuple[str, ...], as_json: bool) -> None:
    """Check BUNDLE (a folder or .tar): signature against trusted keys, then every file's size
    and sha256, and that no unlisted file is present. Exits non-zero with a one-line reason."""
    from ..bundle import verify as verify_bundle
    from ..signing_keys import key_id, load_public_key, trusted_keys

    home = home_of(ctx)
    trusted = trusted_keys(home)
    for k in keys:
        pub = load_public_key(k)
        trusted[key_id(pub)] = pub
    m = verify_bundle(bundle, trusted)
    total = sum(int(e["size"]) for e in m.files.values())
    if as_json:
        click.echo(json.dumps({
            "ok": True, "bundle": bundle, "key_id": m.key_id, "version": m.version,
            "parent_version": m.parent_version, "profile": m.profile, "quantization": m.quantization,
            "files": len(m.files), "bytes": total, "quality": m.quality,
        }, indent=1))
    else:
        click.echo(f"ok: {bundle}: version {m.version}, profile {m.profile}, {m.quantization}, "
                   f"{len(m.files)} files ({total / 1e6:.1f} MB), signed by {m.key_id}")
