"""``python -m edgemem.cli.offline ARGS``: run ``edgemem ARGS`` with non-loopback sockets refused.

The runner of an offline kiosk (``ExecStart=... -m edgemem.cli.offline serve ...``). The guard itself
(``edgemem.privacy.offline``) sits on a low floor and knows nothing of the CLI; this shell turns it
on, checks it with its self-test, then hands the arguments to ``edgemem``. Importing the CLI opens no
socket (its subcommands load lazily), so the guard is on before any command's code runs.
"""

from __future__ import annotations

import sys

from ..privacy.offline import force_offline_env, install, self_test
from .main import run


def main(argv: list[str] | None = None) -> None:
    """Run ``edgemem ARGS`` offline; exit 1 when the guard fails its self-test."""
    force_offline_env()
    install()
    if not self_test():
        print("error: offline guard failed its self-test", file=sys.stderr)
        sys.exit(1)
    print("edgemem: offline guard on (non-loopback sockets refused)", file=sys.stderr)
    sys.exit(run(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
