"""`--watch` for real: start it, change a file, read the new report, stop it with Ctrl-C (SIGINT)."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def watch_process(cwd: Path, *args: str):
    """`bnfix check --watch --format concise ARGS` running in `cwd`, with readers of its streams; killed at the end."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bnfix", "check", "--watch", "--format", "concise", "--no-progress", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
    )  # fmt: skip
    try:
        yield process, LineReader(process.stdout), LineReader(process.stderr)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


@pytest.fixture
def watching(tmp_path: Path):
    (tmp_path / "model.py").write_text(FIXED_PLACEMENT)
    (tmp_path / "other.py").write_text(CLEAN)
    with watch_process(tmp_path, str(tmp_path)) as (process, stdout, stderr):
        yield tmp_path, process, stdout, stderr


def save_by_rename(path: Path, text: str) -> None:
    """How most editors save: a new file renamed over the old one (a watch on the old file sees it go)."""
    temporary = path.with_name(path.name + ".swp")
    temporary.write_text(text)
    os.replace(temporary, path)


def findings_after(stdout: LineReader, index: int) -> list[str]:
    return [line for line in stdout.lines[index + 1 :] if "BNF" in line]


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


def test_watch_reruns_when_the_pyproject_above_the_watched_paths_changes(tmp_path):
    # `check --watch src` in a project configured at its root: the configuration is outside what is watched.
    (tmp_path / "pyproject.toml").write_text("[tool.bnfix]\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(BROKEN_PLACEMENT)
    finding = f"{Path('src') / 'model.py'}:6:5: BNF101 [*] "
    with watch_process(tmp_path, "src") as (process, stdout, stderr):
        armed = stderr.wait_for("Watching for file changes.")
        # The two streams are read on their own threads: stderr's line can arrive before stdout's finding.
        reported = stdout.wait_for(finding)
        assert [line for line in stdout.lines if "BNF" in line] == [stdout.lines[reported]]
        seen = len(stdout.lines) - 1
        save_by_rename(tmp_path / "pyproject.toml", '[tool.bnfix]\nignore = ["BNF101"]\n')
        change = stderr.wait_for("File change detected...", after=armed)
        armed = stderr.wait_for("Watching for file changes.", after=change)
        assert findings_after(stdout, seen) == []  # the new settings were read
        # Saved by rename once more: the watch follows the new file, and the finding is back.
        save_by_rename(tmp_path / "pyproject.toml", "[tool.bnfix]\n")
        change = stderr.wait_for("File change detected...", after=armed)
        stdout.wait_for(finding, after=seen + 1)
        armed = stderr.wait_for("Watching for file changes.", after=change)
        seen = len(stdout.lines) - 1
        # Written in place, as other editors do.
        (tmp_path / "pyproject.toml").write_text('[tool.bnfix]\npolicy = "keep"\n')
        change = stderr.wait_for("File change detected...", after=armed)
        stderr.wait_for("Watching for file changes.", after=change)
        assert findings_after(stdout, seen) == []
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    assert not [line for line in stderr.lines if "Traceback" in line or "error" in line]


def test_watch_reruns_when_the_config_file_named_by_config_changes(tmp_path):
    settings = tmp_path / "settings" / "lint.cfg"  # any name: `--config` takes any TOML file
    settings.parent.mkdir()
    settings.write_text('ignore = ["BNF101"]\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(BROKEN_PLACEMENT)
    with watch_process(tmp_path, "--config", str(settings), "src") as (process, stdout, stderr):
        armed = stderr.wait_for("Watching for file changes.")
        assert stdout.lines == []
        save_by_rename(settings, "ignore = []\n")
        change = stderr.wait_for("File change detected...", after=armed)
        stdout.wait_for(f"{Path('src') / 'model.py'}:6:5: BNF101 [*] ")
        stderr.wait_for("Watching for file changes.", after=change)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_the_configuration_watched_is_what_the_settings_are_read_from(tmp_path):
    from bnfix.cli_options import RunOptions
    from bnfix.cli_watch import config_files

    project = tmp_path / "project"
    package = project / "packages" / "core"
    (package / "src").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[tool.bnfix]\n")  # above the project's: never read while it has one
    (project / "pyproject.toml").write_text("[tool.bnfix]\npolicy = 'pre'\n")
    (package / "pyproject.toml").write_text("[project]\nname = 'core'\n")  # no table yet; it may gain one
    src = package / "src"
    assert config_files(RunOptions(paths=[src])) == [package / "pyproject.toml", project / "pyproject.toml"]
    assert config_files(RunOptions(paths=[src / "missing.py", tmp_path])) == config_files(RunOptions(paths=[Path.cwd()]))
    # A broken one may be the one that applies once repaired: then every pyproject.toml up to the root is watched.
    (project / "pyproject.toml").write_text("[tool.bnfix\n")
    assert config_files(RunOptions(paths=[src]))[:3] == [
        package / "pyproject.toml", project / "pyproject.toml", tmp_path / "pyproject.toml"
    ]
    assert config_files(RunOptions(paths=[src], config=Path("elsewhere.toml"))) == [Path("elsewhere.toml").resolve()]
