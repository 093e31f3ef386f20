"""``edgemem sync``: the outbox that leaves the device, and signed updates that come back.

A thin shell over ``edgemem.sync`` (``outbox``, ``apply``, ``adapter``, ``slots``); every
expected failure is one ``error: ...`` line and a non-zero exit, and the active bundle is never
touched by a refused update.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .main import home_of


def _echo(obj: Any, as_json: bool, line: str) -> None:
    click.echo(json.dumps(obj, indent=1) if as_json else line)


@click.group(name="sync", context_settings={"help_option_names": ["-h", "--help"]})
def sync() -> None:
    """Outbox for off-device training, signed updates into A/B slots, status and rollback."""


@sync.command(name="apply")
@click.argument("bundle", type=click.Path(exists=False))
@click.option("--allow-downgrade", is_flag=True, help="Accept a version not newer than the active one.")
@click.option("--allow-new-base", is_flag=True,
              help="Accept a different base model/tokenizer/architecture than the active bundle's.")
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="Also trust this public signing key file for this apply; repeatable.")
@click.option("--no-smoke", is_flag=True, help="Skip loading and scoring the staged bundle (not advised).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def apply_cmd(ctx: click.Context, bundle: str, allow_downgrade: bool, allow_new_base: bool,
              keys: tuple[str, ...], no_smoke: bool, as_json: bool) -> None:
    """Verify BUNDLE (a signed bundle folder or .tar, or an adapter-only update), stage it into the
    inactive slot, smoke-test it and switch atomically. The previous bundle is kept for rollback."""
    from ..sync import adapter as adapter_mod
    from ..sync import apply as apply_mod

    home = home_of(ctx)
    if adapter_mod.is_adapter_update(bundle):
        res = adapter_mod.apply_update(bundle, home, allow_downgrade=allow_downgrade,
                                       extra_keys=list(keys), smoke=not no_smoke)
    else:
        res = apply_mod.apply(bundle, home, allow_downgrade=allow_downgrade, allow_new_base=allow_new_base,
                              extra_keys=list(keys), smoke=not no_smoke)
    d = res.to_dict()
    _echo(d, as_json, f"applied version {res.version} into slot {res.slot} "
                      f"(was {res.previous_version}) in {res.seconds:.1f} s; on trial until it starts")


@sync.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show the active and previous slots, their versions, and the boot counter."""
    from ..sync import slots

    st = slots.status(home_of(ctx))
    if as_json:
        click.echo(json.dumps(st, indent=1))
        return
    if st["active"] is None:
        click.echo("no bundle installed (edgemem sync apply BUNDLE)")
        return
    trial = (f", on trial: {st['boot_attempts']}/{st['max_boot_attempts']} start attempts"
             if st["trial"] else "")
    click.echo(f"active: slot {st['active']} version {st['active_version']}{trial}")
    click.echo(f"previous: " + (f"slot {st['previous']} version {st['previous_version']}"
                                if st["can_rollback"] else "none"))
    if st.get("last_event"):
        ev = st["last_event"]
        click.echo(f"last: {ev.get('what')} at {ev.get('time')}" + (f" ({ev['reason']})" if ev.get("reason") else ""))


@sync.command(name="rollback")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def rollback_cmd(ctx: click.Context, as_json: bool) -> None:
    """Switch back to the previous bundle (kept in the other slot)."""
    from ..sync import apply as apply_mod

    r = apply_mod.rollback(home_of(ctx), reason="operator")
    _echo(r, as_json, f"rolled back to version {r['version']} (slot {r['active']}) in {r['seconds'] * 1000:.0f} ms")


@sync.command(name="confirm")
@click.pass_context
def confirm_cmd(ctx: click.Context) -> None:
    """End the trial of the active bundle now (it will no longer be rolled back automatically)."""
    from ..sync import slots

    st = slots.confirm(home_of(ctx))
    click.echo(f"active version {st.version_of(st.active)} confirmed")


@sync.command(name="outbox")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--host-key", type=click.Path(dir_okay=False),
              help="Training host's X25519 public key (default: the pinned keys/outbox-host.pub).")
@click.option("--no-deidentify", is_flag=True, help="Keep names, addresses, phone numbers and dates in the text.")
@click.option("--json", "as_json", is_flag=True, help="Print the package manifest as JSON.")
@click.pass_context
def outbox_cmd(ctx: click.Context, directory: str, host_key: str | None, no_deidentify: bool, as_json: bool) -> None:
    """Write the dialogues and memories of consenting patients, new since the last package,
    de-identified and encrypted to the training host, into DIRECTORY (a USB stick, a share)."""
    from ..sync.outbox import write_outbox

    m = write_outbox(home_of(ctx), directory, host_key=host_key, deidentify=not no_deidentify)
    if m.get("empty"):
        _echo(m, as_json, f"nothing new to send ({m['counts']['not_consenting']} patients without consent skipped)")
        return
    c = m["counts"]
    _echo(m, as_json, f"wrote package {m['package_id']}: {c['dialogues']} dialogues, {c['memories']} memories "
                      f"of {c['patients']} consenting patients ({c['not_consenting']} without consent skipped)")


@sync.command(name="consent")
@click.argument("user")
@click.option("--yes/--no", "value", default=None, help="Give or withdraw consent; omit to show it.")
@click.pass_context
def consent_cmd(ctx: click.Context, user: str, value: bool | None) -> None:
    """Show or set whether USER's dialogues may leave the device for training."""
    from ..memory.service import MemoryService

    with MemoryService(home_of(ctx), None) as svc:
        if value is not None:
            svc.set_consent(user, value)
            from ..privacy import audit

            audit.record(home_of(ctx), "consent", user=user, value=value)
        click.echo(f"{user}: consent {'yes' if svc.consent(user) else 'no'}")


@sync.command(name="host-keygen")
@click.argument("out", type=click.Path(dir_okay=False))
@click.pass_context
def host_keygen_cmd(ctx: click.Context, out: str) -> None:
    """On the training host: make the X25519 key pair outboxes are encrypted to (OUT, OUT.pub)."""
    from ..sync.box import generate_host_keypair, host_key_id, load_public

    priv, pub = generate_host_keypair(out)
    click.echo(f"wrote {priv} (keep it on the host) and {pub} (pin it on devices: edgemem sync pin-host); "
               f"key id {host_key_id(load_public(pub))}")


@sync.command(name="pin-host")
@click.argument("public_key", type=click.Path(dir_okay=False))
@click.pass_context
def pin_host_cmd(ctx: click.Context, public_key: str) -> None:
    """Pin the training host's public key: outboxes are encrypted to it by default."""
    from ..sync.box import host_key_id, load_public
    from ..sync.outbox import pin_host_key

    path = pin_host_key(home_of(ctx), public_key)
    click.echo(f"pinned host key {host_key_id(load_public(path))} at {path}")
