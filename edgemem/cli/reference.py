"""A command-line reference written from the click commands themselves, so it cannot drift.

``docs/cli-reference.md`` is this module's output for both CLIs (``python -m export.cli_reference``
writes it; ``export`` may import ``edgemem``, so the page that covers both is assembled there). A
test regenerates it and fails when the checked-in page differs, as sqlite-utils does for its
``docs/cli-reference``. Every command's ``--help``, at a fixed width, in command-path order.
"""

from __future__ import annotations

from typing import Iterator

import click

WIDTH = 100  # fixed, so the page does not depend on the terminal that wrote it


def _walk(cmd: click.Command, ctx: click.Context) -> Iterator[click.Context]:
    yield ctx
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from _walk(sub, click.Context(sub, info_name=name, parent=ctx,
                                                terminal_width=WIDTH, max_content_width=WIDTH))


def command_reference(group: click.Command, prog: str, heading: str = "##") -> str:
    """Markdown: one section per command (``prog``, ``prog sub``, ``prog sub subsub``), each its
    ``--help`` verbatim in a code block."""
    # The group's own settings (``-h/--help``) reach every sub-context, as when a person runs it.
    settings = {**group.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    root = click.Context(group, info_name=prog, **settings)
    parts = []
    for ctx in _walk(group, root):
        parts.append(f"{heading} {ctx.command_path}\n\n```\n{ctx.command.get_help(ctx).rstrip()}\n```\n")
    return "\n".join(parts)


def main() -> None:
    """``python -m edgemem.cli.reference``: the ``edgemem`` command's reference on stdout."""
    from .main import cli

    click.echo(command_reference(cli, "edgemem"), nl=False)


if __name__ == "__main__":
    main()
