"""``edgemem safety``: emergency triage from the command line (a thin shell over ``edgemem.safety``).

``check`` runs the same two stages as the kiosk on one message; ``eval`` measures recall and false
positives per kind, and latency, on a labelled JSONL file. Both use the classifier of ``--bundle``
or the active bundle; without one the rules and numbers run alone, and the commands say so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from .main import home_of


def _classifier(ctx: click.Context, bundle: Path | None, rules_only: bool) -> Any:
    from .. import safety

    if rules_only:
        return None
    if bundle is None:
        from ..sync.slots import active_bundle

        bundle = active_bundle(home_of(ctx))
    folder = safety.find_classifier(bundle)
    if folder is None:
        click.echo("warning: no triage classifier (no bundle, or a bundle without safety/triage.onnx): "
                   "rules and numbers only", err=True)
        return None
    return safety.TriageClassifier(folder)


@click.group()
def safety() -> None:
    """Emergency triage: check one message, or measure the detector on a labelled set."""


_bundle = click.option("--bundle", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
                       help="Bundle folder whose classifier to use (default: the active bundle).")
_rules_only = click.option("--rules-only", is_flag=True, help="Leave the learned stage out.")


@safety.command("check")
@click.argument("text", required=False)
@click.option("--context", "context", multiple=True, help="An earlier patient turn (repeatable, oldest first).")
@click.option("--profile", "profile_name", default=None, help="Profile whose emergency number to use.")
@_bundle
@_rules_only
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def check_cmd(ctx: click.Context, text: str | None, context: tuple[str, ...], profile_name: str | None,
              bundle: Path | None, rules_only: bool, as_json: bool) -> None:
    """Check TEXT (or stdin) for an emergency. Exit status 3 for an emergency, 4 for urgent."""
    from .. import profiles, safety as safety_mod

    if text is None:
        text = sys.stdin.buffer.read().decode("utf-8", "replace")
    number = profiles.load(profile_name or "x86-kiosk", home_of(ctx).root).emergency_number
    flag = safety_mod.check(text, number, context=list(context), classifier=_classifier(ctx, bundle, rules_only))
    if as_json:
        click.echo(json.dumps({"flag": flag.to_dict() if flag else None}, ensure_ascii=False))
    elif flag is None:
        click.echo("no emergency found")
    else:
        click.echo(f"{flag.tier.upper()} ({flag.category}, {flag.stage}: {flag.matched}): {flag.message}")
    if flag is not None:
        ctx.exit(3 if flag.tier == "emergency" else 4)


@safety.command("eval")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@_bundle
@_rules_only
@click.option("--show-errors", is_flag=True, help="Also list missed emergencies and false alarms.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def eval_cmd(ctx: click.Context, files: tuple[Path, ...], bundle: Path | None, rules_only: bool,
             show_errors: bool, as_json: bool) -> None:
    """Recall and false positives per kind, and latency, on JSONL FILES
    ({"text", "label": "emergency"|"urgent"|"not", "category", "context"?} a line)."""
    from .. import safety as safety_mod
    from ..safety.evaluate import evaluate, read_rows

    if not files:
        raise InputError("give one or more JSONL files")
    rows = read_rows(files)
    clf = _classifier(ctx, bundle, rules_only)
    res = evaluate(rows, lambda r: safety_mod.check(r.text, context=r.context, classifier=clf))
    res["classifier"] = None if clf is None else {"version": clf.version, "thresholds": clf.thresholds}
    if not show_errors:
        res.pop("missed")
        res.pop("false_alarms")
    if as_json:
        click.echo(json.dumps(res, ensure_ascii=False))
        return
    lines = [f"recall {res['recall']:.1%} of {res['emergencies']}, false positives "
             f"{res['false_positive_rate']:.1%} of {res['look_alikes']}, p50 {res['latency_ms']['p50']} ms, "
             f"p99 {res['latency_ms']['p99']} ms"]
    for name, k in res["kinds"].items():
        rec = "-" if k["recall"] is None else f"{k['recall']:.0%}"
        fpr = "-" if k["false_positive_rate"] is None else f"{k['false_positive_rate']:.0%}"
        lines.append(f"  {name:18} recall {rec:>5} ({k['caught']}/{k['emergencies']})  FP {fpr:>4} "
                     f"({k['false_alarms']}/{k['look_alikes']})")
    for m in res.get("missed", []):
        lines.append(f"  missed: {m['text']}")
    for a in res.get("false_alarms", []):
        lines.append(f"  false alarm ({a['as']}, {a['stage']}): {a['text']}")
    click.echo("\n".join(lines))
