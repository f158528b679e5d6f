"""Memory and garbage-collector settings of the processes that analyse modules.

A pool worker hands back the memory a large module left behind, so the process tree stays small. The measured case
(bench/README.md, issue 9): two workers that had each parsed a large keras module kept ~160 MB each to their end,
since CPython and glibc keep freed memory, and the tree went over 250 MB.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Callable


# A worker that parsed a large module keeps its peak memory (libcst needs ~600 bytes a byte of source) to its end:
# CPython and glibc keep the freed memory. Two such workers and the main process went over 250 MB on keras. So a worker
# whose memory grew this much since it last looked collects the module's cycles and hands glibc's free heap back
# (Linux only: it reads /proc/self/statm, ~10 us a file; the release itself costs 10-100 ms, after few files).
RELEASE_GROWTH_MB = 24
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1048576 if hasattr(os, "sysconf") else 0.0
_released_at_mb: float | None = None
_malloc_trim: Callable[[int], int] | None | bool = False  # False: not looked up yet; None: not available


# libcst allocates ~600 bytes of objects per byte of source and almost none of them form cycles, so at CPython's
# default threshold (a collection every 700 net allocations) the collector spends 15-20% of a check traversing a tree
# it cannot free (bench/README.md: 1.25 -> 1.05 s of CPU on a 5,000-line module). mypy raises its threshold for the
# same reason. Cycles are still collected, less often, and `release_if_grown` collects after a large module.
COLLECTOR_THRESHOLDS = (50_000, 20, 20)


def tune_collector() -> None:
    """Collect less often in a process about to analyse modules (forked pool workers inherit the setting)."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def release_if_grown() -> None:
    global _released_at_mb
    resident = _resident_mb()
    if resident is None:
        return
    if _released_at_mb is None or resident < _released_at_mb:
        _released_at_mb = resident
    elif resident - _released_at_mb >= RELEASE_GROWTH_MB:
        _release_memory()
        _released_at_mb = _resident_mb() or resident


def _resident_mb() -> float | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return None


def _release_memory() -> None:
    """Free what the last module left behind; never fails, and without glibc only collects."""
    global _malloc_trim
    gc.collect()
    if _malloc_trim is False:
        _malloc_trim = _find_malloc_trim()
    if _malloc_trim is not None:
        try:
            _malloc_trim(0)
        except Exception:  # noqa: BLE001 - releasing memory is an optimisation, never a failure of the run
            _malloc_trim = None


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (ImportError, OSError, AttributeError):  # musl (Alpine) has no malloc_trim; some builds have no ctypes
        return None
