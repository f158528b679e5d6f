"""Issue 9: workers hand back what a large module left behind, and very large files are parsed after the pool has
ended, in the main process; neither changes any result or its order."""

from __future__ import annotations

from pathlib import Path

import pytest

import bnfix.worker_memory
from bnfix.process import LARGE_FILE_BYTES, PARALLEL_THRESHOLD, process_files
from bnfix.worker_memory import _release_memory, release_if_grown
from bnfix.settings import Settings

BROKEN = (
    "from tensorflow import keras\n"
    "from tensorflow.keras import layers\n\n"
    "model = keras.Sequential([\n"
    "    layers.Dense(64, use_bias=False),\n"
    "    layers.BatchNormalization(),\n"
    '    layers.Activation("relu"),\n'
    "])\n"
)


def _summary(results) -> list:
    return [(r.path.name, r.error, [(d.code, d.line, d.column) for d in r.diagnostics], r.source == r.original) for r in results]


@pytest.mark.parametrize("large_at", [(0,), (3, 4, 17), (PARALLEL_THRESHOLD + 5,)])
def test_large_files_after_the_pool_keep_every_result_in_path_order(tmp_path: Path, large_at: tuple[int, ...]) -> None:
    padding = "# " + "x" * 98 + "\n"
    paths = []
    for number in range(PARALLEL_THRESHOLD + 6):
        body = BROKEN if number % 3 == 0 else f"VALUE = {number}\n"
        if number in large_at:
            body += padding * (LARGE_FILE_BYTES // len(padding) + 1)
        path = tmp_path / f"module_{number:02}.py"
        path.write_text(body)
        paths.append(path)
    paths.insert(7, tmp_path / "missing.py")  # unreadable: reported by a worker, in its place
    finished = []
    parallel = list(process_files(paths, Settings(), fix=False, jobs=2, on_done=finished.append))
    serial = list(process_files(paths, Settings(), fix=False, jobs=1))
    assert _summary(parallel) == _summary(serial)
    assert [r.path for r in parallel] == paths
    assert sum(finished) == len(paths)
    assert any(r.diagnostics for r in parallel if r.path.exists() and r.path.stat().st_size >= LARGE_FILE_BYTES) == (0 in large_at or 3 in large_at)


def test_releasing_memory_never_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    _release_memory()
    release_if_grown()

    def broken(_: int) -> int:
        raise OSError("no")

    monkeypatch.setattr(bnfix.worker_memory, "_malloc_trim", broken)
    _release_memory()  # a failing trim is dropped, not raised
    assert bnfix.worker_memory._malloc_trim is None
    monkeypatch.setattr(bnfix.worker_memory, "_resident_mb", lambda: None)
    release_if_grown()
