"""``python -m export.cli_reference > docs/cli-reference.md``: the reference of both CLIs.

The page is generated, never edited by hand; ``tests/test_docs.py`` fails when the checked-in page
differs from what the commands say (run this again after changing a command or its help).
"""

from __future__ import annotations

import sys

from edgemem.cli.main import cli as edgemem_cli
from edgemem.cli.reference import command_reference

from .cli import cli as export_cli

HEADER = """# Command-line reference

Generated from the click commands by `python -m export.cli_reference > docs/cli-reference.md`;
do not edit by hand (a test compares this page with the commands). The Python API under each
command is described in the other docs/ pages.

- [`edgemem`](#edgemem): on the device.
- [`edgemem-export`](#edgemem-export): the off-device toolchain.

"""


def render() -> str:
    """The whole page, as it should be checked in."""
    return HEADER + command_reference(edgemem_cli, "edgemem") + "\n" + command_reference(export_cli, "edgemem-export")


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
