"""How a benchmark hands over its figures: JSON on stdout, and the same JSON in a file if asked.

One place, so every benchmark's ``--json`` file is exactly what it printed (the docs quote both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(result: Any, path: Path | None, indent: int = 1) -> None:
    """Print ``result`` as JSON; also write it to ``path`` (parents made) when one is given."""
    text = json.dumps(result, indent=indent)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
