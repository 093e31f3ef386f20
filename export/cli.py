"""Entry point of ``edgemem-export``: thin shells over the toolchain's Python API.

Subcommands are imported on use (torch takes seconds to import; ``--help`` should not).
"""

from __future__ import annotations

import sys

from edgemem.cli.shell import home_group, run_group

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


cli = home_group("edgemem-export", COMMANDS, "edgemem-export: the off-device toolchain that produces signed bundles.",
                 "Home folder (development signing key lives under it).")


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code, turning expected errors into one line."""
    return run_group(cli, args)


def main() -> None:
    sys.exit(run())
