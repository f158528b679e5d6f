"""Run a command and measure it: wall time, CPU time, and peak memory of the whole process tree.

Peak memory is sampled every 10 ms, from a thread, as the summed RSS of the process and its descendants (a
process pool's workers included), read from /proc; `max_process_mb` is the kernel's ru_maxrss of the largest single
process. The wall time comes from a blocking wait, so it ends when the command does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
REPO = Path(__file__).resolve().parent.parent


def use_this_checkout() -> None:
    """Measure the bnfix of this checkout, in this process and in every `python -m bnfix` it starts, whatever
    other copy an editable install elsewhere points at."""
    sys.path.insert(0, str(REPO))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    peak_tree_mb: float
    max_process_mb: float
    returncode: int
    crashed: bool  # a Python traceback on stderr (an uncaught exception also exits 1, like findings)

    def as_dict(self) -> dict:
        return {key: round(value, 3) if isinstance(value, float) else value for key, value in asdict(self).items()}


def run_measured(command: list[str], stdin_path: Path | None = None, cwd: Path | None = None, env: dict | None = None) -> Measurement:
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    stderr = tempfile.TemporaryFile()
    try:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr, cwd=cwd, env=env)
        sampler = _PeakSampler(process.pid)
        # A blocking wait ends the wall time when the child ends; a polling loop here added up to its 10 ms period
        # to every run (a third of the gap between an editor call and its floor).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        peak_kb = sampler.stop()
        stderr.seek(0)
        crashed = b"Traceback (most recent call last)" in stderr.read()
    finally:
        stderr.close()
        if stdin_path:
            stdin.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(wall, cpu, peak_kb / 1024, usage.ru_maxrss / 1024, process.returncode, crashed)


class _PeakSampler:
    """The process tree's summed RSS every 10 ms, from a thread (the main thread waits for the child)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))
            if self._stopped.wait(0.01):
                return

    def stop(self) -> int:
        self._stopped.set()
        self._thread.join()
        return self.peak_kb


def _tree_rss_kb(pid: int) -> int:
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE_KB
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue  # the process ended between two reads
    return total
