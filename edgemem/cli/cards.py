"""``edgemem cards``: the care-guidance cards of a bundle (a thin shell over ``edgemem.care``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from .main import home_of

_bundle = click.option("--bundle", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
                       help="Bundle folder (default: the active bundle).")


def _content(ctx: click.Context, bundle: Path | None) -> Any:
    from ..care import CareContent, find_content

    if bundle is None:
        from ..sync.slots import active_bundle

        bundle = active_bundle(home_of(ctx))
    folder = find_content(bundle)
    if folder is None:
        raise InputError("no care content: no active bundle, or a bundle built without care/ "
                         "(give --bundle, or rebuild it)")
    return CareContent.load(folder)


@click.group()
def cards() -> None:
    """List, show and search the care-guidance cards shipped in the bundle."""


@cards.command("list")
@_bundle
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, bundle: Path | None, as_json: bool) -> None:
    """Every card: id, title, domain, audience."""
    content = _content(ctx, bundle)
    rows = [{"id": c.id, "title": c.title, "domain": c.domain, "audience": c.audience, "version": c.version}
            for c in content.cards]
    if as_json:
        click.echo(json.dumps(rows))
    else:
        click.echo("\n".join(f"{r['id']:40} {r['title']} ({r['domain']}, {r['audience']})" for r in rows))


@cards.command("show")
@click.argument("card_id")
@_bundle
@click.option("--fact", "facts", multiple=True, help="A patient statement to personalise with (repeatable), "
              "e.g. --fact 'I take warfarin'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_cmd(ctx: click.Context, card_id: str, bundle: Path | None, facts: tuple[str, ...], as_json: bool) -> None:
    """One card; with --fact, as that patient would read it (conflicting steps replaced)."""
    content = _content(ctx, bundle)
    card = content.by_id.get(card_id)
    if card is None:
        raise InputError(f"no card {card_id!r} (see `edgemem cards list`)")
    pf = content.lexicon.facts_from_text(list(facts))
    advice = content.personalise(card, pf)
    if as_json:
        click.echo(json.dumps({"card": card.raw, "facts": pf.to_dict(), "advice": advice.to_dict()}))
        return
    lines = [f"{card.title}  [{card.id} v{card.version}, reviewed {card.reviewed}]", card.summary, ""]
    lines += [f"- {s}" for s in advice.steps] + [f"! {c}" for c in advice.cautions]
    lines += [f"x removed for this patient ({r['why']}): {r['step']}" for r in advice.removed]
    lines += ["See a doctor or nurse if:"] + [f"  {s}" for s in card.see_doctor]
    lines += ["Call the emergency number if:"] + [f"  {s}" for s in card.emergency] + [f"Source: {card.source}"]
    click.echo("\n".join(lines))


@cards.command("search")
@click.argument("question")
@click.option("-k", "k", default=3, show_default=True, help="How many cards.")
@_bundle
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def search_cmd(ctx: click.Context, question: str, k: int, bundle: Path | None, as_json: bool) -> None:
    """The cards that best answer QUESTION."""
    if not question.strip():
        raise InputError("give a question")
    hits = _content(ctx, bundle).search(question, k)
    rows = [{"id": h.card.id, "title": h.card.title, "score": round(h.score, 3)} for h in hits]
    if as_json:
        click.echo(json.dumps(rows))
    else:
        click.echo("\n".join(f"{r['score']:7.2f}  {r['id']}  {r['title']}" for r in rows) or "no card")
