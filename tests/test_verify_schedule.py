"""The order of a verify session's runs (schedule.py): every version's first seed, then the rest longest first."""

from __future__ import annotations

from dataclasses import dataclass

from bnfix.verify.schedule import RunQueue


@dataclass(frozen=True)
class Run:
    version: str
    seed: int

    @property
    def key(self) -> str:
        return self.version


def drain(queue: RunQueue, seconds: dict[str, float]) -> list[Run]:
    order = []
    while (unit := queue.pop()) is not None:
        order.append(unit)
        queue.finished(unit, seconds[unit.version])
    return order


def test_first_seeds_in_the_scripts_order_then_the_longest_versions_first():
    runs = [Run(version, seed) for version in ("short", "long", "middle") for seed in (0, 1, 2)]
    order = drain(RunQueue(runs), {"short": 1.0, "long": 4.0, "middle": 2.0})
    assert order == [
        Run("short", 0), Run("long", 0), Run("middle", 0),
        Run("long", 1), Run("long", 2), Run("middle", 1), Run("middle", 2), Run("short", 1), Run("short", 2),
    ]  # fmt: skip


def test_a_version_still_running_its_first_seed_counts_as_long():
    queue = RunQueue([Run(version, seed) for version in ("a", "b") for seed in (0, 1)])
    first_a, first_b = queue.pop(), queue.pop()
    assert (first_a, first_b) == (Run("a", 0), Run("b", 0))
    queue.finished(first_a, 5.0)  # b's first run has not reported yet
    assert queue.pop() == Run("b", 1)
    assert queue.pop() == Run("a", 1) and queue.pop() is None and len(queue) == 0


def test_clear_empties_the_queue():
    queue = RunQueue([Run("a", 0), Run("a", 1)])
    queue.clear()
    assert queue.pop() is None
