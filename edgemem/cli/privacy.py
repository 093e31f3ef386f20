"""``edgemem privacy``: the data key, the audit log and the red-flag detector from the shell.

A thin shell over ``edgemem.privacy.data_key``, ``edgemem.privacy.audit`` and ``edgemem.safety``;
every command has ``--json`` for scripts and reports failures as one ``error:`` line.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from .. import profiles, safety
from ..errors import EdgememError, InputError
from ..memory.service import reencrypt_home
from ..privacy import data_key
from ..privacy.audit import AuditLog
from ..safety.evaluate import evaluate, read_rows
from .main import home_of


def _emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, sort_keys=True) if as_json else text)


def _prompt_passphrase(label: str = "Passphrase", confirm: bool = False) -> str:
    if not sys.stdin.isatty():
        raise InputError(f"no passphrase: set EDGEMEM_PASSPHRASE (stdin is not a terminal)")
    return click.prompt(label, hide_input=True, confirmation_prompt=confirm)


@click.group("privacy")
def privacy() -> None:
    """At-rest encryption keys, audit log, red-flag check (docs/privacy.md)."""


# -- keys ------------------------------------------------------------------------------------
@privacy.group("key")
def key() -> None:
    """The at-rest data key: init, rotate, status."""


@key.command("init")
@click.option("--passphrase", "use_passphrase", is_flag=True,
              help="Derive the key from a passphrase (scrypt) instead of writing a 0600 key file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def key_init(ctx: click.Context, use_passphrase: bool, as_json: bool) -> None:
    """Create this device's data key (refuses to replace an existing one)."""
    home = home_of(ctx).ensure()
    passphrase = None
    if use_passphrase:
        passphrase = os.environ.get(data_key.PASSPHRASE_ENV) or _prompt_passphrase("New passphrase", confirm=True)
    k = data_key.init_key(home, passphrase=passphrase)
    st = data_key.status(home)
    _emit(st, as_json, f"data key {k.key_id.hex()} created ({st['mode']})")


@key.command("rotate")
@click.option("--new-passphrase", "new_pass", is_flag=True,
              help="Protect the new key with a (new) passphrase; without it a new key file is written.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def key_rotate(ctx: click.Context, new_pass: bool, as_json: bool) -> None:
    """Re-encrypt all patient data under a fresh key. Stop the server first."""
    home = home_of(ctx)
    current = os.environ.get(data_key.PASSPHRASE_ENV)
    new_passphrase = None
    if new_pass:
        new_passphrase = os.environ.get("EDGEMEM_NEW_PASSPHRASE") or _prompt_passphrase("New passphrase", confirm=True)
    # The key module sits below the memory: the CLI hands it the memory's re-encrypt step.
    result = data_key.rotate(home, reencrypt=reencrypt_home, passphrase=current, new_passphrase=new_passphrase,
                         prompt=lambda: _prompt_passphrase("Current passphrase"))
    _emit(result, as_json, f"rotated {result['old_key_id']} -> {result['new_key_id']} "
                           f"({result['mode']}, {result['seconds']} s)")


@key.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def key_status(ctx: click.Context, as_json: bool) -> None:
    """What protects the data on this device (opens nothing)."""
    st = data_key.status(home_of(ctx))
    if as_json:
        _emit(st, True, "")
        return
    if st["mode"] is None:
        click.echo("no data key yet (one is created on first use; 'edgemem privacy key init' to choose)")
        return
    lines = [f"mode: {st['mode']}", f"key id: {st['key_id']}", f"created: {st['created']}",
             f"rotated: {st['rotated'] or 'never'}", f"database key id: {st['database_key_id'] or '-'}"]
    if st["key_file"]:
        lines.append(f"key file: {st['key_file']} ({st['key_file_mode']})")
    if st["rotation_pending"]:
        lines.append("rotation pending: finished on next start")
    click.echo("\n".join(lines))


# -- audit -----------------------------------------------------------------------------------
@privacy.group("audit")
def audit() -> None:
    """The append-only audit log (no patient text)."""


@audit.command("show")
@click.option("--user", help="Only entries about this patient (matched by pseudonym).")
@click.option("--action", help="Only this action (read, search, export, forget, ...).")
@click.option("--since", help="Only entries at or after this ISO-8601 UTC time.")
@click.option("--limit", type=click.IntRange(1), help="Only the last N entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def audit_show(ctx: click.Context, user: str | None, action: str | None, since: str | None,
               limit: int | None, as_json: bool) -> None:
    """Print audit entries, oldest first."""
    for e in AuditLog(home_of(ctx)).query(user=user, action=action, since=since, limit=limit):
        if as_json:
            click.echo(json.dumps(e, sort_keys=True))
        else:
            extra = " ".join(f"{k}={e[k]}" for k in sorted(e) if k not in ("ts", "seq", "action", "actor", "mac"))
            click.echo(f"{e.get('ts')} #{e.get('seq')} {e.get('action')} by {e.get('actor')} {extra}".rstrip())


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def audit_verify(ctx: click.Context, as_json: bool) -> None:
    """Check the log's MAC chain: no entry edited, removed or reordered."""
    report = AuditLog(home_of(ctx)).verify()
    if as_json:
        _emit(asdict(report), True, "")
    elif report.ok:
        click.echo(f"ok: {report.entries} entries, chain intact" + (f", {report.torn} torn line(s) skipped" if report.torn else ""))
    if not report.ok:
        raise EdgememError(f"audit log tampered with or damaged at line {report.line}: {report.problem}")


# -- red flags -------------------------------------------------------------------------------
@privacy.group("redflag")
def redflag() -> None:
    """The deterministic emergency detector."""


@redflag.command("check")
@click.argument("text", required=False)
@click.option("--profile", "profile_name", default=None,
              help="Firmware profile whose emergency number to use (default: x86-kiosk).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def redflag_check(ctx: click.Context, text: str | None, profile_name: str | None, as_json: bool) -> None:
    """Check TEXT (or stdin, one message) for an emergency. Exit status 3 when one is found."""
    if text is None:
        raw = sys.stdin.buffer.read()
        text = raw.decode("utf-8", "replace")
    number = profiles.load(profile_name or "x86-kiosk", home_of(ctx).root).emergency_number
    flag = safety.check(text, number)
    if as_json:
        _emit({"red_flag": flag.to_dict() if flag else None}, True, "")
    else:
        click.echo(f"RED FLAG ({flag.category}): {flag.message}" if flag else "no red flag")
    if flag is not None:
        ctx.exit(3)


@redflag.command("eval")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def redflag_eval(files: tuple[Path, ...], as_json: bool) -> None:
    """Recall and false-positive rate on JSONL test sets ({"text", "label": "redflag"|"ok"}), rules and
    numbers only (``edgemem safety eval`` adds the bundle's classifier and per-kind figures)."""
    if not files:
        raise InputError("give one or more JSONL files (e.g. tests/data/redflags*.jsonl)")
    res = evaluate(read_rows(files), lambda r: safety.check(r.text))
    missed = [m["text"] for m in res["missed"]]
    alarms = [a["text"] for a in res["false_alarms"]]
    tp, fp = res["emergencies"] - len(missed), len(alarms)
    fn, tn = len(missed), res["look_alikes"] - fp
    result = {"positives": tp + fn, "negatives": fp + tn, "recall": res["recall"],
              "false_positive_rate": res["false_positive_rate"], "missed": missed, "false_alarms": alarms}
    _emit(result, as_json, f"recall {tp}/{tp + fn} = {result['recall']:.1%}, false positives {fp}/{fp + tn} = "
                           f"{result['false_positive_rate']:.1%}" + "".join(f"\n  missed: {t}" for t in missed)
          + "".join(f"\n  false alarm: {t}" for t in alarms))
