"""The Python files of the real-code trees the corpus checks read (bench/*_check.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator


def python_files(paths: list[str]) -> Iterator[Path]:
    """Each path that is a file, and every .py file under each directory, in a stable order."""
    for path in map(Path, paths):
        if path.is_file():
            yield path
            continue
        for root, directories, names in os.walk(path):
            directories.sort()
            yield from (Path(root, name) for name in sorted(names) if name.endswith(".py"))
