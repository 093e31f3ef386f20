"""Entry point of the ``edgemem`` command.

Subcommands live in their own modules and are imported only when invoked, so ``edgemem --help``
and ``edgemem verify`` stay fast on a Pi and one broken optional part cannot take the whole CLI
down. Expected failures (``EdgememError``) print one line and exit non-zero; nothing prints a
traceback to a user unless ``EDGEMEM_DEBUG=1``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ..errors import EdgememError

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


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, help_text = COMMANDS[name]
        try:
            cmd = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            if os.environ.get("EDGEMEM_DEBUG"):
                raise
            why = str(e)  # Python unbinds ``e`` when the except block ends; the command runs later

            @click.command(name=name, help=help_text + " (unavailable)")
            def _missing() -> None:
                raise EdgememError(f"'{name}' is not available in this install: {why}")

            return _missing
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table, so `edgemem --help` imports no subcommand module.
        with formatter.section("Commands"):
            formatter.write_dl([(n, COMMANDS[n][2]) for n in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), envvar="EDGEMEM_HOME",
              help="Home folder holding all device state (default ~/.local/share/edgemem).")
@click.version_option(package_name="edgemem")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """edgemem: an on-device personalized medical assistant."""
    from ..home import Home

    ctx.obj = {"home": Home.resolve(home)}


def run(args: list[str] | None = None, **kwargs: Any) -> int:
    """Run the CLI and return its exit code, turning expected errors into one line."""
    try:
        rv = cli.main(args=args, standalone_mode=False, **kwargs)
        # With standalone_mode=False click *returns* the code of ctx.exit(n) instead of raising.
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
    except EdgememError as e:
        if os.environ.get("EDGEMEM_DEBUG"):
            raise
        click.echo(f"error: {e}", err=True)
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        if os.environ.get("EDGEMEM_DEBUG"):
            raise
        # Full disk, permissions, missing files: one line, never a traceback.
        click.echo(f"error: {e.strerror or e}{': ' + str(e.filename) if e.filename else ''}", err=True)
        return 1
    except Exception as e:
        line = _expected_failure(e)
        if line is None or os.environ.get("EDGEMEM_DEBUG"):
            raise
        click.echo(f"error: {line}", err=True)
        return 1


def _expected_failure(e: Exception) -> str | None:
    """One line for failures that come from the environment or the input, not from a bug: the
    database refusing a write (full disk, I/O error, locked) and text that is not UTF-8."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(e, sqlite3.Error):
        hint = " (is the disk full?)" if "disk" in str(e) or "full" in str(e) else ""
        return f"the memory database refused the operation: {e}{hint}; nothing already stored was lost"
    if isinstance(e, UnicodeError):
        return "input is not valid UTF-8 text"
    return None


def main() -> None:
    sys.exit(run())


def home_of(ctx: click.Context) -> "Any":
    """The resolved ``Home`` for a subcommand (works when a subcommand is invoked directly too)."""
    from ..home import Home

    root = ctx.find_root()
    if root.obj and "home" in root.obj:
        return root.obj["home"]
    return Home.resolve(None)
