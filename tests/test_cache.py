"""The result cache: a warm run reports and writes exactly what a cold one does, and no damaged entry is trusted."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bnfix.process
from bnfix.cache import DEFAULT_CACHE_DIR, CachedOutcome, ResultCache, content_hash, run_key
from bnfix.cli import app
from bnfix.diagnostics import Diagnostic
from bnfix.fixes.safety import FixSafety
from bnfix.process import process_files
from bnfix.settings import PlacementPolicy, Settings
from tests.test_cli import BROKEN_PLACEMENT

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
runner = CliRunner()



def _notebook(*cells: str) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": cell.splitlines(True)}
                for cell in cells
            ],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )


def _tree(root: Path) -> Path:
    """Every fixture, a notebook, files that fail, and enough plain modules that a cold run needs the process pool."""
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.bnfix]\n")
    (root / "a").mkdir()
    for fixture in sorted(FIXTURES.glob("*.py")):
        shutil.copy(fixture, root / "a" / fixture.name)
    (root / "plain").mkdir()
    for number in range(bnfix.process.PARALLEL_THRESHOLD):
        (root / "plain" / f"module_{number}.py").write_text(f"VALUE = {number}\n")
    (root / "notebook.ipynb").write_text(_notebook("import numpy as np\n%matplotlib inline\n", BROKEN_PLACEMENT))
    (root / "syntax_error.py").write_text("from tensorflow.keras import layers\nlayers.BatchNormalization(\n")
    (root / "latin1.py").write_bytes(b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + BROKEN_PLACEMENT.encode())
    (root / "undecodable.py").write_bytes(b"x = '\xff\xfe BatchNormalization'\n")
    (root / "crlf.py").write_bytes(BROKEN_PLACEMENT.replace("\n", "\r\n").encode())
    return root


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and DEFAULT_CACHE_DIR not in p.parts}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _tree(tmp_path / "project")


def _cache_entries(root: Path) -> list[Path]:
    return [path for path in (root / DEFAULT_CACHE_DIR).rglob("*.json") if not path.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    "command",
    [
        ("check", "--format", "json"),
        ("check", "--format", "sarif"),  # carries the proposed repair
        ("check", "--format", "concise", "--policy", "pre", "--unsafe-fixes"),
        ("apply", "--diff", "--policy", "pre", "--unsafe-fixes"),
    ],
)
def test_a_warm_run_prints_exactly_what_a_cold_run_and_an_uncached_run_print(tree: Path, command: tuple) -> None:
    uncached = _invoke(*command, "--no-progress", "--no-cache", "--jobs", "2", str(tree))
    assert not (tree / DEFAULT_CACHE_DIR).exists()  # --no-cache writes nothing either
    cold = _invoke(*command, "--no-progress", "--jobs", "2", str(tree))
    assert _cache_entries(tree), "the cold run filled the cache"
    warm = _invoke(*command, "--no-progress", "--jobs", "2", str(tree))
    assert uncached.exit_code == cold.exit_code == warm.exit_code
    assert uncached.stdout == cold.stdout == warm.stdout
    assert uncached.stderr == cold.stderr == warm.stderr
    assert "BNF101" in warm.stdout or "+++" in warm.stdout  # the tree does have something to say


def test_apply_writes_the_same_bytes_from_a_warm_cache(tmp_path: Path) -> None:
    uncached, warm = _tree(tmp_path / "uncached"), _tree(tmp_path / "warm")
    _invoke("apply", "--no-progress", "--no-cache", str(uncached))
    _invoke("apply", "--diff", "--no-progress", str(warm))  # fills the cache in apply mode without writing
    assert _files(warm) != _files(uncached)
    applied = _invoke("apply", "--no-progress", str(warm))
    assert "Traceback" not in applied.output
    assert _files(warm) == _files(uncached)
    # The repaired files are new content: the next run computes them afresh, and finds nothing to repair.
    assert _invoke("apply", "--diff", "--no-progress", str(warm)).stdout == ""


def test_a_warm_run_with_nothing_changed_starts_no_process_pool(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(cache_dir=str(tree / DEFAULT_CACHE_DIR))
    paths = sorted(tree.rglob("*.py"))
    assert len(paths) >= bnfix.process.PARALLEL_THRESHOLD
    cold = list(process_files(paths, settings, fix=False, jobs=2, use_cache=True))

    import concurrent.futures

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    warm = list(process_files(paths, settings, fix=False, jobs=2, use_cache=True))
    assert [(r.path, r.diagnostics, r.error, r.source) for r in warm] == [(r.path, r.diagnostics, r.error, r.source) for r in cold]


def test_only_changed_files_are_processed_again(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(cache_dir=str(tree / DEFAULT_CACHE_DIR))
    paths = sorted(tree.rglob("*.py"))
    list(process_files(paths, settings, fix=False, jobs=1, use_cache=True))
    edited = tree / "a" / "resnet_block.py"
    edited.write_text(BROKEN_PLACEMENT)
    processed = []
    real = bnfix.process._process_hashed
    monkeypatch.setattr(bnfix.process, "_process_hashed", lambda path, *options: processed.append(path) or real(path, *options))
    results = {r.path: r for r in process_files(paths, settings, fix=False, jobs=1, use_cache=True)}
    assert processed == [edited]
    assert [d.code for d in results[edited].diagnostics] == ["BNF101"]


def test_damaged_or_partial_entries_are_ignored_and_replaced(tree: Path) -> None:
    expected = _invoke("check", "--format", "json", "--no-progress", "--no-cache", str(tree)).stdout
    _invoke("check", "--format", "json", "--no-progress", str(tree))
    entries = sorted(_cache_entries(tree))
    damages = [
        lambda data: data[: len(data) // 2],  # a partial write
        lambda data: b"",
        lambda data: data.replace(b"BNF1", b"BNF9"),  # the body changed under its checksum
        lambda data: data.split(b"\n", 1)[1],  # no checksum line
        lambda data: b"\x00\xff" * 40,
    ]
    for number, entry in enumerate(entries):
        entry.write_bytes(damages[number % len(damages)](entry.read_bytes()))
    assert _invoke("check", "--format", "json", "--no-progress", str(tree)).stdout == expected
    # The damaged entries were rewritten whole.
    for entry in entries:
        checksum, _, body = entry.read_bytes().partition(b"\n")
        assert hashlib.sha256(body).hexdigest().encode() == checksum
    assert _invoke("check", "--format", "json", "--no-progress", str(tree)).stdout == expected


def test_an_entry_well_formed_but_for_other_bytes_or_settings_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_bytes(BROKEN_PLACEMENT.encode())
    settings = Settings()
    cache = ResultCache(tmp_path / "cache", run_key(settings, ("check", 2.0)))
    outcome = CachedOutcome(None, [Diagnostic("BNF999", "stored", 1, 1, 1, 2, None, FixSafety.SAFE)], [], None, None)
    assert cache.store(path, content_hash(b"other bytes"), outcome)
    assert cache.load(path, path.read_bytes()) is None
    assert cache.store(path, content_hash(path.read_bytes()), outcome)
    assert cache.load(path, path.read_bytes()) == outcome
    for other in (Settings(policy=PlacementPolicy.PRE), Settings(unsafe_fixes=True), Settings(keras_version=(2, 15)), Settings(ignore=("BNF2",))):
        assert ResultCache(tmp_path / "cache", run_key(other, ("check", 2.0))).load(path, path.read_bytes()) is None
    for mode in (("apply", 2.0), ("propose", 2.0), ("check", 5.0)):
        assert ResultCache(tmp_path / "cache", run_key(settings, mode)).load(path, path.read_bytes()) is None
    # Where the cache lives and which files a run walks do not decide a file's result.
    same = Settings(exclude=("build/",), cache_dir=str(tmp_path / "cache"))
    assert ResultCache(tmp_path / "cache", run_key(same, ("check", 2.0))).load(path, path.read_bytes()) == outcome


def test_installing_or_removing_nbformat_is_another_key(monkeypatch) -> None:
    """Without nbformat a notebook's result is "reading notebooks needs nbformat": not what to show once it is there."""
    import bnfix.analysis.keras_version as versions

    with_nbformat = run_key(Settings(), ("check", 2.0))
    real = versions.distribution_version
    monkeypatch.setattr(versions, "distribution_version", lambda name: None if name == "nbformat" else real(name))
    assert run_key(Settings(), ("check", 2.0)) != with_nbformat


def _store_many(directory: str, path: str, rounds: int) -> None:
    cache = ResultCache(Path(directory), "0" * 64)
    for number in range(rounds):
        diagnostics = [Diagnostic("BNF101", "m" * (number % 7) * 1000, 1, 1, 1, 2, None, None)]
        cache.store(Path(path), content_hash(b"x"), CachedOutcome(None, diagnostics, [], None, None))


def test_concurrent_writers_never_leave_a_damaged_entry(tmp_path: Path) -> None:
    path = str(tmp_path / "model.py")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_store_many, args=(str(tmp_path / "cache"), path, 150)) for _ in range(3)]
    for writer in writers:
        writer.start()
    cache = ResultCache(tmp_path / "cache", "0" * 64)
    seen = 0
    while any(writer.is_alive() for writer in writers):
        outcome = cache.load(Path(path), b"x")
        if outcome is not None:
            seen += 1
            assert outcome.diagnostics[0].message == "m" * len(outcome.diagnostics[0].message)
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    assert cache.load(Path(path), b"x") is not None
    assert not list((tmp_path / "cache").rglob(".tmp-*")), "no temporary file left behind"


def test_the_cache_directory_is_marked_ignored_and_clean_removes_it(tree: Path) -> None:
    _invoke("check", "--no-progress", str(tree))
    cache = tree / DEFAULT_CACHE_DIR
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    result = _invoke("clean", str(tree))
    assert result.exit_code == 0 and result.stdout == f"removed {cache}\n"
    assert not cache.exists()
    assert _invoke("clean", str(tree)).stdout == f"no cache at {cache}\n"


def test_cache_dir_is_relative_to_the_pyproject_and_clean_refuses_a_directory_it_did_not_make(tree: Path) -> None:
    (tree / "pyproject.toml").write_text('[tool.bnfix]\ncache-dir = "build/bnfix-cache"\n')
    _invoke("check", "--no-progress", str(tree / "a"))
    assert _cache_entries(tree) == []
    assert (tree / "build" / "bnfix-cache" / "CACHEDIR.TAG").is_file()
    (tree / "pyproject.toml").write_text('[tool.bnfix]\ncache-dir = "a"\n')
    result = _invoke("clean", str(tree))
    assert result.exit_code == 2
    assert "is not a bnfix cache directory" in result.stderr
    assert (tree / "a" / "resnet_block.py").is_file()
    (tree / "pyproject.toml").write_text("[tool.bnfix]\ncache-dir = 3\n")
    result = _invoke("check", "--no-progress", str(tree))
    assert result.exit_code == 2 and "cache-dir: must be a string, not 3" in result.stderr
    (tree / "pyproject.toml").write_text('[tool.bnfix]\ncache-dir = " "\n')
    result = _invoke("check", "--no-progress", str(tree))
    assert result.exit_code == 2 and "cache-dir must be a path, not an empty string" in result.stderr


def test_an_unwritable_cache_never_fails_a_run(tree: Path) -> None:
    (tree / "pyproject.toml").write_text('[tool.bnfix]\ncache-dir = "blocked/cache"\n')
    (tree / "blocked").write_text("a file where the cache directory would go\n")
    expected = _invoke("check", "--format", "concise", "--no-progress", "--no-cache", str(tree))
    result = _invoke("check", "--format", "concise", "--no-progress", str(tree))
    assert (result.exit_code, result.stdout) == (expected.exit_code, expected.stdout)
