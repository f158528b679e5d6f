"""On a terminal (a real pseudo-terminal, as an interactive shell gives): colour for codes, paths, fix markers and
diffs, none when piped, NO_COLOR and FORCE_COLOR honoured; a progress bar that moves from the first file finished and
shows the file count and rate."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from bnfix.process import process_files
from bnfix.settings import Settings

from tests.test_cli import BROKEN_PLACEMENT

ROOT = Path(__file__).resolve().parent.parent
BOLD, RED_BOLD, CYAN, GREEN, RED, RESET = "\x1b[1m", "\x1b[1;31m", "\x1b[36m", "\x1b[32m", "\x1b[31m", "\x1b[0m"


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR")}
    return {**env, "PYTHONPATH": str(ROOT), "TERM": "xterm", **extra}


def run_on_terminal(args: list[str], cwd: Path, terminal: str = "stdout", **env: str) -> tuple[int, str, str]:
    """Run bnfix with `terminal` ("stdout" or "stderr") on a pseudo-terminal and the other stream on a pipe."""
    leader, follower = pty.openpty()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, terminal: follower}
    process = subprocess.Popen([sys.executable, "-m", "bnfix", *args], cwd=cwd, env=environment(**env), **streams)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    other = (process.stderr if terminal == "stdout" else process.stdout).read()
    process.wait(timeout=120)
    os.close(leader)
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()
    return process.returncode, seen.decode(errors="replace").replace("\r\n", "\n"), other.decode()


def run_piped(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bnfix", *args], cwd=cwd, env=environment(**env), capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_text(BROKEN_PLACEMENT)
    return tmp_path


def test_a_terminal_gets_colour_for_paths_codes_and_fix_markers(project):
    code, terminal, _ = run_on_terminal(["check", "--format", "concise", "model.py"], project)
    assert code == 1
    assert terminal.startswith(f"{BOLD}model.py{RESET}:6:5: {RED_BOLD}BNF101{RESET} {CYAN}[*]{RESET} BatchNormalization before")
    code, terminal, _ = run_on_terminal(["check", "model.py"], project)
    assert f"{CYAN}[*]{RESET} 1 fixable with `bnfix apply`." in terminal


def test_a_diff_on_a_terminal_is_coloured(project):
    code, terminal, _ = run_on_terminal(["apply", "--diff", "model.py"], project)
    assert code == 1
    header = f"{BOLD}--- a/model.py{RESET}\n{BOLD}+++ b/model.py{RESET}\n{CYAN}@@ -2,8 +2,8 @@{RESET} from tensorflow import keras\n"
    assert header in terminal  # the function context after the ranges is not coloured, as in git
    assert f"{RED}-    layers.BatchNormalization(),{RESET}" in terminal and f"{GREEN}+    layers.BatchNormalization(),{RESET}" in terminal


def test_pipes_get_no_colour(project):
    for args in (["check", "model.py"], ["apply", "--diff", "model.py"], ["check", "--statistics", "model.py"]):
        piped = run_piped(args, project)
        assert piped.returncode == 1 and "\x1b[" not in piped.stdout and piped.stdout


def test_no_color_turns_colour_off_on_a_terminal(project):
    code, terminal, _ = run_on_terminal(["check", "--format", "concise", "model.py"], project, NO_COLOR="1")
    assert code == 1 and terminal.startswith("model.py:6:5: BNF101 [*] ") and "\x1b[" not in terminal


def test_force_color_turns_colour_on_in_a_pipe_and_no_color_wins(project):
    forced = run_piped(["check", "--format", "concise", "model.py"], project, FORCE_COLOR="1")
    assert forced.stdout.startswith(f"{BOLD}model.py{RESET}:6:5: {RED_BOLD}BNF101{RESET} ")
    both = run_piped(["check", "--format", "concise", "model.py"], project, FORCE_COLOR="1", NO_COLOR="1")
    assert "\x1b[" not in both.stdout


def test_machine_formats_and_output_files_are_never_coloured(project):
    for output_format in ("json", "sarif", "github"):
        code, terminal, _ = run_on_terminal(["check", "--format", output_format, "model.py"], project, FORCE_COLOR="1")
        assert code == 1 and "\x1b[" not in terminal, output_format
    code, terminal, _ = run_on_terminal(["check", "-o", "report.txt", "model.py"], project)
    assert terminal == "" and "\x1b[" not in (project / "report.txt").read_text()


def test_errors_on_a_terminal_stderr_are_coloured(project):
    code, terminal, stdout = run_on_terminal(["check", "missing.py"], project, terminal="stderr")
    assert code == 2 and terminal == f"{RED_BOLD}error:{RESET} missing.py: no such file or directory\n"


# ---------------------------------------------------------------- progress


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    for index in range(60):
        (tmp_path / f"m{index:02d}.py").write_text(BROKEN_PLACEMENT if index % 10 == 0 else "x = 1\n")
    return tmp_path


def test_progress_bar_shows_the_file_count_and_rate(many_files):
    code, terminal, stdout = run_on_terminal(["check", "--format", "concise", "."], many_files, terminal="stderr")
    assert code == 1 and stdout.count("BNF101") == 6
    assert "bnfix check" in terminal and "60/60" in terminal and "files/s" in terminal


def test_no_progress_and_pipes_draw_no_bar(many_files):
    code, terminal, _ = run_on_terminal(["check", "--no-progress", "--format", "concise", "."], many_files, terminal="stderr")
    assert code == 1 and terminal == ""
    assert run_piped(["check", "--format", "concise", "."], many_files).stderr == ""


def test_progress_is_told_as_files_finish_not_in_path_order(tmp_path):
    """The first file in path order is slow: the progress callback hears of the others before its result exists."""
    layers = '    layers.Dense(8),\n    layers.BatchNormalization(),\n    layers.Activation("relu"),\n' * 200
    slow = "from tensorflow import keras\nfrom tensorflow.keras import layers\nmodel = keras.Sequential([\n" + layers + "])\n"
    paths = [tmp_path / "a_slow.py"] + [tmp_path / f"b{index:02d}.py" for index in range(39)]
    paths[0].write_text(slow)
    for path in paths[1:]:
        path.write_text("x = 1\n")
    done: list[int] = []
    results = process_files(paths, Settings(), fix=False, jobs=2, on_done=done.append)
    first = next(results)
    told_before_first_result = sum(done)
    rest = list(results)
    assert first.path == paths[0] and [r.path for r in rest] == paths[1:]  # the report keeps path order
    assert told_before_first_result > 1
    assert sum(done) == len(paths)


def test_progress_without_a_pool_is_told_file_by_file(tmp_path):
    paths = [tmp_path / f"m{index}.py" for index in range(3)]
    for path in paths:
        path.write_text("x = 1\n")
    done: list[int] = []
    assert [r.path for r in process_files(paths, Settings(), fix=False, jobs=1, on_done=done.append)] == paths
    assert done == [1, 1, 1]
