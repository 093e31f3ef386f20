"""What every edgemem command line shares: subcommands imported on use, and one-line errors.

Both ``edgemem`` (``cli/main.py``) and the off-device ``edgemem-export`` (``export/cli.py``) are
thin shells over a table of subcommands. Importing a subcommand only when it runs keeps
``--help`` fast on a Pi (and ``edgemem-export --help`` free of the seconds torch takes), and one
broken optional part (a missing extra) turns one command into a one-line error instead of taking
the whole CLI down. ``export`` may import ``edgemem``, never the reverse, so the shared shell lives
here.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Mapping

import click

from ..errors import EdgememError
from ..home import Home

# name -> (module, attribute, one-line help). Each module owns its command and its options.
CommandTable = Mapping[str, tuple[str, str, str]]


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, from ``lazy_commands``.

    Use as ``@click.group(cls=LazyGroup, lazy_commands=TABLE)``.
    """

    def __init__(self, *args: Any, lazy_commands: CommandTable, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy_commands:
            return None
        module, attr, help_text = self.lazy_commands[name]
        try:
            cmd: click.Command = getattr(importlib.import_module(module), attr)
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
        # Help text comes from the table, so `--help` imports no subcommand module.
        with formatter.section("Commands"):
            formatter.write_dl([(n, self.lazy_commands[n][2]) for n in sorted(self.lazy_commands)])


def home_group(name: str, lazy_commands: CommandTable, doc: str, home_help: str,
               version_of: str | None = None) -> click.Group:
    """The top-level group of a CLI: ``-h/--help``, ``--home`` (or ``$EDGEMEM_HOME``) resolved into
    ``ctx.obj["home"]`` for every subcommand, and the subcommands of ``lazy_commands``."""
    def callback(home: str | None) -> None:
        click.get_current_context().obj = {"home": Home.resolve(home)}

    callback.__doc__ = doc
    if version_of is not None:
        callback = click.version_option(package_name=version_of)(callback)
    callback = click.option("--home", type=click.Path(file_okay=False), envvar="EDGEMEM_HOME", help=home_help)(callback)
    return click.group(name=name, cls=LazyGroup, lazy_commands=lazy_commands,
                       context_settings={"help_option_names": ["-h", "--help"]})(callback)


def run_group(group: click.Command, args: list[str] | None = None, **kwargs: Any) -> int:
    """Run a CLI and return its exit code, turning expected errors into one line (no traceback
    unless ``EDGEMEM_DEBUG=1``)."""
    try:
        rv = group.main(args=args, standalone_mode=False, **kwargs)
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
