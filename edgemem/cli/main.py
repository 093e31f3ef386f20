"""Entry point of the ``edgemem`` command.

Subcommands live in their own modules and are imported only when invoked, so ``edgemem --help``
and ``edgemem verify`` stay fast on a Pi and one broken optional part cannot take the whole CLI
down. Expected failures (``EdgememError``) print one line and exit non-zero; nothing prints a
traceback to a user unless ``EDGEMEM_DEBUG=1``.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .shell import home_group, run_group

# name -> (module, attribute, one-line help). Each module owns its command and its options.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "verify": ("edgemem.cli.verify", "verify", "Check a bundle's signature and every file hash."),
    "profiles": ("edgemem.cli.engine", "profiles", "List firmware profiles and the detected board."),
    "generate": ("edgemem.cli.engine", "generate", "Generate one reply to a prompt."),
    "chat": ("edgemem.cli.engine", "chat", "Chat in the terminal, replies streamed."),
    "bench": ("edgemem.cli.engine", "bench", "Measure cold start, time to first token, decode speed, RSS."),
    "memory": ("edgemem.cli.memory", "memory", "Import, search, list, show, export and forget patient memories."),
    "serve": ("edgemem.cli.serve", "serve", "Serve the kiosk page and the OpenAI-compatible API."),
    "sync": ("edgemem.cli.sync", "sync", "Outbox, apply signed updates, A/B status and rollback."),
    "privacy": ("edgemem.cli.privacy", "privacy", "At-rest encryption keys, audit log, red-flag check."),
    "cards": ("edgemem.cli.cards", "cards", "List, show and search the care-guidance cards."),
    "safety": ("edgemem.cli.safety", "safety", "Emergency triage: check a message, evaluate on a labelled set."),
}


cli = home_group("edgemem", COMMANDS, "edgemem: an on-device personalized medical assistant.",
                 "Home folder holding all device state (default ~/.local/share/edgemem).", version_of="edgemem")


def run(args: list[str] | None = None, **kwargs: Any) -> int:
    """Run the CLI and return its exit code, turning expected errors into one line."""
    return run_group(cli, args, **kwargs)


def main() -> None:
    sys.exit(run())


def home_of(ctx: click.Context) -> "Any":
    """The resolved ``Home`` for a subcommand (works when a subcommand is invoked directly too)."""
    from ..home import Home

    root = ctx.find_root()
    if root.obj and "home" in root.obj:
        return root.obj["home"]
    return Home.resolve(None)
