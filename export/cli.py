"""Entry point of ``edgemem-export``: thin shells over the toolchain's Python API.

Subcommands are imported on use (torch takes seconds to import; ``--help`` should not).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from edgemem.errors import EdgememError

COMMANDS: dict[str, tuple[str, str, str]] = {
    "base": ("export.cli_base", "base", "Turn a shipped GGUF (or a local HF folder) into a clean HF folder."),
    "train": ("export.cli_train", "train", "Train a LoRA adapter (peft) on dialogue JSONL."),
    "import-malp": ("export.cli_train", "import_malp", "Convert the MaLP release into edgemem dialogue JSONL with a fixed split."),
    "merge": ("export.cli_train", "merge", "Merge a LoRA adapter into its base model."),
    "embedder": ("export.cli_embedder", "embedder", "Export the sentence embedder, or distil a faster student of it."),
    "onnx": ("export.cli_build", "onnx", "Export an HF Llama folder to an optimized, quantized ONNX decoder."),
    "build": ("export.cli_build", "build", "Build a signed, quality-gated bundle for a firmware profile."),
    "keygen": ("export.cli_build", "keygen", "Make an ed25519 bundle-signing key pair."),
    "adapter": ("export.cli_adapter", "adapter", "Build a signed adapter-only update."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(n, COMMANDS[n][2]) for n in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), envvar="EDGEMEM_HOME",
              help="Home folder (development signing key lives under it).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """edgemem-export: the off-device toolchain that produces signed bundles."""
    from edgemem.home import Home

    ctx.obj = {"home": Home.resolve(home)}


def run(args: list[str] | None = None) -> int:
    try:
        cli.main(args=args, standalone_mode=False)
        return 0
    except EdgememError as e:
        if os.environ.get("EDGEMEM_DEBUG"):
            raise
        click.echo(f"error: {e}", err=True)
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        if os.environ.get("EDGEMEM_DEBUG"):
            raise
        click.echo(f"error: {e.strerror or e}{': ' + str(e.filename) if e.filename else ''}", err=True)
        return 1


def main() -> None:
    sys.exit(run())
