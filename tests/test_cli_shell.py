"""The shell both CLIs share (edgemem.cli.shell): lazy subcommands, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import click

from edgemem.cli.shell import LazyGroup, run_group
from edgemem.errors import EdgememError


@click.group(cls=LazyGroup, lazy_commands={
    "broken": ("edgemem.no_such_module", "cmd", "A command whose module is missing."),
})
def demo() -> None:
    """A demo group."""


def test_a_missing_module_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.delenv("EDGEMEM_DEBUG", raising=False)
    assert run_group(demo, ["broken"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: 'broken' is not available in this install: ") and err.count("\n") == 1


def test_help_lists_the_table_without_importing(capsys):
    assert run_group(demo, ["--help"]) == 0
    out = capsys.readouterr().out
    assert "A command whose module is missing." in out and "broken" in out


def test_expected_errors_keep_their_exit_code(capsys):
    class Refused(EdgememError):
        exit_code = 3

    @click.command()
    def refuse() -> None:
        raise Refused("no, and here is why")

    assert run_group(refuse, []) == 3
    assert capsys.readouterr().err == "error: no, and here is why\n"


def test_both_clis_help_imports_no_subcommand_module():
    """`--help` stays fast: neither CLI imports a subcommand (nor torch) to list its commands."""
    code = ("import sys; from edgemem.cli.main import run as e; from export.cli import run as x;"
            "e(['--help']); x(['--help']);"
            "bad = [m for m in sys.modules if m.startswith(('edgemem.cli.', 'export.cli_')) and m != 'edgemem.cli.main'"
            " and m != 'edgemem.cli.shell' or m == 'torch'];"
            "print('LOADED', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("LOADED []"), out
