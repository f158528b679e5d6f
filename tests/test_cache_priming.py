"""Cache priming's child (bnfix.server.cache_priming): which files it checks, with which settings, in what order,
and that what it stores is what the server and `bnfix check` then read. The server's side is in test_server.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bnfix.cache import ResultCache
from bnfix.config import load_settings
from bnfix.process import DEFAULT_MAX_CODE_MB
from bnfix.server.cache_priming import _by_settings, prime

ROOT = Path(__file__).resolve().parent.parent
MODEL = "from tensorflow.keras import layers\n\nlayers.BatchNormalization(eps=1e-3)\n"


def _project(directory: Path, table: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(f"[tool.bnfix]\n{table}", encoding="utf-8")
    return directory


def _write(path: Path, text: str = MODEL, modified: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if modified is not None:
        os.utime(path, (modified, modified))
    return path


def _cached(path: Path, overrides: dict | None = None):
    cache = ResultCache.for_run(load_settings([path], overrides or {}), ("check", DEFAULT_MAX_CODE_MB))
    return cache.load(path, path.read_bytes())


def test_files_are_grouped_by_their_own_projects_settings_newest_first_and_outside_projects_left_out(tmp_path: Path) -> None:
    outer = _project(tmp_path / "outer", 'exclude = ["skipped/"]\n')
    inner = _project(outer / "inner", 'policy = "pre"\n')
    old = _write(outer / "old.py", modified=1_000)
    _write(outer / "new.py", modified=3_000)
    nested = _write(inner / "nested.py", modified=2_000)
    _write(outer / "skipped" / "excluded.py", modified=4_000)
    _write(outer / "notes.ipynb", "{}")  # notebooks: the server reads no cached notebook result
    loose = _write(tmp_path / "loose" / "scratch.py", modified=5_000)  # no project: no cache to share

    groups = _by_settings([outer, loose.parent], {})

    assert [[path.name for path in paths] for _, paths in groups] == [["new.py", "old.py"], ["nested.py"]]
    (outer_settings, _), (inner_settings, _) = groups
    assert outer_settings == load_settings([old], {}) and inner_settings == load_settings([nested], {})
    assert inner_settings.policy != outer_settings.policy


def test_projects_with_the_same_options_are_primed_each_into_its_own_cache(tmp_path: Path) -> None:
    first, second = _project(tmp_path / "first"), _project(tmp_path / "second")
    paths = _write(first / "a.py", modified=1_000), _write(second / "b.py", modified=2_000)
    groups = _by_settings([first, second], {})
    assert [[path.name for path in found] for _, found in groups] == [["b.py"], ["a.py"]]
    prime([first, second], {}, lambda done, total: None)
    assert [[d.code for d in _cached(path).diagnostics] for path in paths] == [["BNF201"], ["BNF201"]]
    assert sorted(entry.parent.name for entry in tmp_path.glob("*/.bnfix_cache")) == ["first", "second"]


def test_client_settings_are_part_of_each_files_settings(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    path = _write(project / "model.py")
    [(settings, paths)] = _by_settings([project], {"select": ("BNF2",)})
    assert paths == [path] and settings == load_settings([path], {"select": ("BNF2",)})


def test_prime_stores_what_check_finds_and_reports_each_file(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    first, second = _write(project / "a.py"), _write(project / "b.py", "import os\n")
    reports: list[tuple[int, int]] = []
    prime([project], {}, lambda done, total: reports.append((done, total)))
    assert reports == [(0, 2), (1, 2), (2, 2)]
    assert [d.code for d in _cached(first).diagnostics] == ["BNF201"]
    assert _cached(second).diagnostics == []
    assert _cached(first, {"select": ("BNF1",)}) is None  # other settings, another key


def test_the_child_runs_at_the_lowest_priority_and_prints_its_progress(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    path = _write(project / "a.py")
    script = (
        "import os, sys; from bnfix.server import cache_priming as p; "
        "p.main(sys.argv[1:]); print('nice', os.nice(0))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(os.getpid()), json.dumps({"bnfix": {"select": ["BNF2"], "cachePriming": True}}), str(project)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = run.stdout.splitlines()
    assert lines[:2] == ["0 1", "1 1"]
    if hasattr(os, "nice"):
        assert lines[2] == "nice 19"
    assert [d.code for d in _cached(path, {"select": ("BNF2",)}).diagnostics] == ["BNF201"]


def test_bad_settings_stop_the_child_before_it_checks_anything(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    _write(project / "a.py")
    run = subprocess.run(
        [sys.executable, "-m", "bnfix.server.cache_priming", str(os.getpid()), json.dumps({"policy": "sideways"}), str(project)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (run.returncode, run.stdout) == (2, "") and "policy" in run.stderr
    assert not (project / ".bnfix_cache").exists()
