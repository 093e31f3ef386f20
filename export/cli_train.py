"""``edgemem-export import-malp``, ``train`` and ``merge``: thin shells over export.dialogues,
export.train and export.merge."""

from __future__ import annotations

import json

import click

from .train import DEFAULT_TARGETS, TrainConfig


@click.command(name="import-malp")
@click.argument("source", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for train.jsonl and heldout.jsonl.")
@click.option("--system", "system_prompt", default=None, help="Prepend this system message to every dialogue.")
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
def import_malp(source: str, out: str, system_prompt: str | None, as_json: bool) -> None:
    """Convert the MaLP release (folder or dialogues.json) into edgemem dialogue JSONL.

    Role prefixes and stray quotes are cleaned, a dialogue is cut at the first turn that breaks
    character, and the fixed content-hash split puts ~10% into heldout.jsonl.
    """
    from .dialogues import import_malp as run_import

    stats = run_import(source, out, system_prompt)
    if as_json:
        click.echo(json.dumps(stats, indent=1))
    else:
        click.echo(f"{stats['kept']} of {stats['dialogues']} dialogues -> {stats['train']} train, "
                   f"{stats['heldout']} held-out in {out}")


@click.command(name="train")
@click.option("--base", "base_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Converted base folder (edgemem-export base).")
@click.option("--data", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Dialogue JSONL; repeatable. Held-out dialogues in it are skipped.")
@click.option("--from-outbox", "from_outbox", type=click.Path(exists=True, file_okay=False),
              help="Also train on a device outbox folder (edgemem sync outbox), decrypted with --host-key.")
@click.option("--host-key", type=click.Path(exists=True, dir_okay=False),
              help="The training host's X25519 private key for --from-outbox.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Adapter folder to write.")
@click.option("--heldout", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Dialogue JSONL whose held-out split is evaluated before and after; repeatable.")
@click.option("--rank", default=TrainConfig.rank, show_default=True)
@click.option("--alpha", default=TrainConfig.alpha, show_default=True)
@click.option("--dropout", default=TrainConfig.dropout, show_default=True)
@click.option("--targets", default=",".join(DEFAULT_TARGETS), show_default=True, help="Comma-separated module names.")
@click.option("--lr", default=TrainConfig.lr, show_default=True)
@click.option("--steps", default=TrainConfig.steps, show_default=True)
@click.option("--batch-size", default=TrainConfig.batch_size, show_default=True)
@click.option("--seq-len", default=TrainConfig.seq_len, show_default=True)
@click.option("--warmup", default=TrainConfig.warmup, show_default=True)
@click.option("--seed", default=TrainConfig.seed, show_default=True)
@click.option("--save-every", default=TrainConfig.save_every, show_default=True, help="Checkpoint period (steps).")
@click.option("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
@click.option("--eval-max-tokens", default=20000, show_default=True)
@click.option("--name", default=None, help="Adapter id (default lora-<sha256 prefix>).")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in OUT.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def train(base_dir: str, data: tuple[str, ...], from_outbox: str | None, host_key: str | None, out: str,
          heldout: tuple[str, ...], rank: int, alpha: int,
          dropout: float, targets: str, lr: float, steps: int, batch_size: int, seq_len: int, warmup: int,
          seed: int, save_every: int, threads: int | None, eval_max_tokens: int, name: str | None,
          resume: bool, no_progress: bool, as_json: bool) -> None:
    """Train a LoRA adapter (peft) on dialogue JSONL; loss on assistant tokens only."""
    from .train import train as run_train

    cfg = TrainConfig(rank=rank, alpha=alpha, dropout=dropout,
                      targets=tuple(t.strip() for t in targets.split(",") if t.strip()), lr=lr, steps=steps,
                      batch_size=batch_size, seq_len=seq_len, warmup=warmup, seed=seed, save_every=save_every,
                      threads=threads)
    log = (lambda s: None) if as_json else (lambda s: click.echo(s, err=True))
    import tempfile

    from edgemem.errors import InputError

    if not data and not from_outbox:
        raise InputError("give --data FILE and/or --from-outbox DIR")
    if from_outbox and not host_key:
        raise InputError("--from-outbox needs --host-key (the host's private outbox key)")
    # Decrypted patient dialogues live only in a temporary folder for the length of the run.
    with tempfile.TemporaryDirectory(prefix="edgemem-outbox-") as tmp:
        if from_outbox:
            from .outbox_reader import outbox_to_jsonl

            got = outbox_to_jsonl(from_outbox, host_key, f"{tmp}/outbox.jsonl")  # type: ignore[arg-type]
            log(f"outbox: {got['dialogues']} dialogues of {got['patients']} patients from {got['packages']} packages")
            data = tuple(data) + (got["jsonl"],)
        r = run_train(base_dir, data, out, cfg, resume=resume, heldout=heldout, eval_max_tokens=eval_max_tokens,
                      name=name, progress=not no_progress and not as_json, log=log)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=1))
    else:
        extra = ""
        if r.heldout_ppl_base is not None and r.heldout_ppl_adapter is not None:
            extra = f"; held-out perplexity {r.heldout_ppl_base:.3f} -> {r.heldout_ppl_adapter:.3f}"
        click.echo(f"adapter {r.adapter_id}: {r.steps} steps in {r.seconds:.0f} s, loss {r.final_loss:.3f}{extra} -> {out}")


@click.command(name="merge")
@click.option("--base", "base_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--adapter", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--heldout", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Also measure held-out perplexity (assistant tokens) of base and merged.")
@click.option("--seq-len", default=TrainConfig.seq_len, show_default=True, help="Window for --heldout.")
@click.option("--eval-max-tokens", default=20000, show_default=True)
@click.option("--overwrite", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def merge(base_dir: str, adapter: str, out: str, heldout: tuple[str, ...], seq_len: int, eval_max_tokens: int,
          overwrite: bool, as_json: bool) -> None:
    """Merge a LoRA adapter into its base (fp32 safetensors + tokenizer + edgemem_base.json)."""
    from .merge import merge as run_merge
    from .train import evaluate

    info = run_merge(base_dir, adapter, out, overwrite=overwrite)
    res: dict = {"out": out, "base": info.id, "adapter": info.adapter}
    if heldout:
        res["heldout_ppl_base"] = evaluate(base_dir, heldout, seq_len, eval_max_tokens)
        res["heldout_ppl_merged"] = evaluate(out, heldout, seq_len, eval_max_tokens)
    if as_json:
        click.echo(json.dumps(res, indent=1))
    else:
        line = f"merged {info.adapter['id']} into {info.id} -> {out}"
        if heldout:
            line += f"; held-out perplexity {res['heldout_ppl_base']:.3f} -> {res['heldout_ppl_merged']:.3f}"
        click.echo(line)
