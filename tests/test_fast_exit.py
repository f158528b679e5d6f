"""The command line leaves without the interpreter's teardown: nothing it printed or wrote may be lost by that."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bnfix.fast_exit import exit_code, leave

ROOT = Path(__file__).resolve().parent.parent
# Buffered streams, as an editor or a pipe gets them: what is not flushed before the exit would be lost.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": str(ROOT)}


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True, input=stdin, timeout=120)


def many_findings(count: int) -> str:
    lines = ["from tensorflow.keras import layers", "", "def build():", "    return ["]
    lines += [f"        layers.BatchNormalization(momentum=0.1),  # {index}" for index in range(count)]
    return "\n".join([*lines, "    ]", ""])


def test_exit_codes_are_what_the_interpreter_would_make_of_them(capsys):
    assert (exit_code(None), exit_code(0), exit_code(3)) == (0, 0, 3)
    assert exit_code("broken") == 1 and capsys.readouterr().err == "broken\n"


def test_a_report_larger_than_a_pipe_arrives_whole_with_its_exit_code(tmp_path):
    (tmp_path / "model.py").write_text(many_findings(1500))
    result = run("-m", "bnfix", "check", "--format", "concise", "--no-progress", "--no-cache", "model.py", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and len(result.stdout) > 200_000  # several times a pipe's 64 KB buffer
    assert [line.split(":")[1] for line in lines if " BNF202 " in line] == [str(5 + index) for index in range(1500)]


def test_the_output_file_and_the_repaired_file_are_written_whole(tmp_path):
    (tmp_path / "model.py").write_text(many_findings(300))
    report = run("-m", "bnfix", "check", "--no-progress", "--no-cache", "--output-file", "report.txt", "model.py", cwd=tmp_path)
    assert report.returncode == 1 and report.stdout == ""
    assert (tmp_path / "report.txt").read_text().count(" BNF202 ") == 300
    fixed = run("-m", "bnfix", "apply", "--unsafe-fixes", "--no-progress", "--no-cache", "model.py", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert (tmp_path / "model.py").read_text().count("momentum=0.9") == 300


def test_stdin_apply_prints_the_whole_repaired_source(tmp_path):
    source = many_findings(2000)
    result = run("-m", "bnfix", "apply", "-", "--unsafe-fixes", "--stdin-filename", "model.py", cwd=tmp_path, stdin=source)
    assert result.returncode == 0
    assert result.stdout == source.replace("momentum=0.1", "momentum=0.9")


def test_exit_handlers_still_run_and_the_code_is_kept(tmp_path):
    script = "import atexit\natexit.register(print, 'handler ran')\nfrom bnfix.fast_exit import leave\nprint('before')\nleave(4)\n"
    result = run("-c", script, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (4, "before\nhandler ran\n")


def test_with_another_thread_running_the_exit_is_the_normal_one():
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        with pytest.raises(SystemExit) as finished:
            leave(3)
        assert finished.value.code == 3
    finally:
        release.set()
        worker.join()
