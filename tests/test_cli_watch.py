"""`--watch` for real: start it, change a file, read the new report, stop it with Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_cli import BROKEN_PLACEMENT, CLEAN, FIXED_PLACEMENT

pytest.importorskip("watchfiles")

ROOT = Path(__file__).resolve().parent.parent


class LineReader:
    """Lines of a child's stream, read on a thread so that waiting for one can time out."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, ""):
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, after: int = 0, timeout: float = 60) -> int:
        """The index of the first line from `after` on that contains `text`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(after, len(self.lines)):
                    if text in self.lines[index]:
                        return index
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{text!r} never came; saw {self.lines[after:]}"
                self._changed.wait(remaining)


@pytest.fixture
def watching(tmp_path: Path):
    (tmp_path / "model.py").write_text(FIXED_PLACEMENT)
    (tmp_path / "other.py").write_text(CLEAN)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bnfix", "check", "--watch", "--format", "concise", "--no-progress", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    stdout, stderr = LineReader(process.stdout), LineReader(process.stderr)
    try:
        yield tmp_path, process, stdout, stderr
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_watch_reruns_when_a_file_changes_and_stops_on_ctrl_c(watching):
    project, process, stdout, stderr = watching
    stderr.wait_for("Starting bnfix in watch mode...")
    armed = stderr.wait_for("Watching for file changes.")
    assert stdout.lines == []  # the first run found nothing
    (project / "model.py").write_text(BROKEN_PLACEMENT)
    first_change = stderr.wait_for("File change detected...", after=armed)
    found = stdout.wait_for(f"{project / 'model.py'}:6:5: BNF101 [*] ")
    rearmed = stderr.wait_for("Watching for file changes.", after=first_change)
    # Repair it by hand: the next run reports nothing for it any more.
    (project / "model.py").write_text(FIXED_PLACEMENT)
    second_change = stderr.wait_for("File change detected...", after=rearmed)
    idle = stderr.wait_for("Watching for file changes.", after=second_change)
    assert [line for line in stdout.lines[found + 1 :] if "BNF" in line] == []
    # A file that is neither Python nor configuration does not start a run.
    (project / "notes.txt").write_text("BatchNormalization\n")
    time.sleep(1.5)
    assert stderr.lines[idle + 1 :] == []
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert not [line for line in stderr.lines if "Traceback" in line or "KeyboardInterrupt" in line]


def test_watch_needs_files_not_stdin():
    from typer.testing import CliRunner

    from bnfix.cli import app

    result = CliRunner().invoke(app, ["check", "--watch", "-"], input="x = 1\n")
    assert result.exit_code == 2 and "error: --watch cannot read stdin ('-'): it watches files" in result.stderr


def test_watch_without_watchfiles_says_which_extra_to_install(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bnfix.cli import app

    monkeypatch.setitem(sys.modules, "watchfiles", None)  # what an environment without the package gives
    result = CliRunner().invoke(app, ["check", "--watch", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == "error: --watch needs the watchfiles package: pip install 'bnfix[watch]'\n"
