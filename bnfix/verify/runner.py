"""The parent side of `bnfix verify`: which versions of each script to run, and running them safely.

Every run (one version of a script — the original, the repair, or one repair per placement policy — with one
seed) happens in a fresh temporary mirror of the script's project (staging.py: code copied, large data linked,
writes kept off the user's files by write_guard.py), which is deleted afterwards, or, when the run left it exactly
as staged, restaged for the next run in the same slot. The budget (budget.py) travels
with every request, identical for both versions. Runs go to `--jobs` workers: one
`python -m bnfix.verify.harness --serve` process imports TensorFlow and forks the other workers from itself, and
each worker forks a child per run. That keeps the 3-5 s import out of every run, pays it once per session, and
each run still starts from a clean, freshly imported process. This module never imports TensorFlow or Keras.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from bnfix.sources.files import SourceText
from bnfix.process import process_file
from bnfix.settings import PlacementPolicy, Settings
from bnfix.verify.budget import Budget
from bnfix.verify.own_count import OwnCountDecision, depends_on_update_count, own_count_decision
from bnfix.verify.schedule import RunQueue
from bnfix.verify.staging import Stage, StagingFailed, as_staged, linked_files_changed, restage, stage_project

# The harness imports TensorFlow before the first run's clock starts; this is its allowance on top of the runs.
STARTUP_ALLOWANCE = 90.0


@dataclass(frozen=True)
class RunOptions:
    seeds: tuple[int, ...] = (0, 1, 2)
    timeout: float = 300.0  # seconds per run (one script, one seed)
    jobs: int = 2  # worker processes, each running one run at a time
    max_copy_bytes: int = 200 * 1024 * 1024
    sample_size: int = 256
    python: str = sys.executable
    budget: Budget = Budget()
    invocation_dir: Path | None = None  # where `bnfix verify` started: the runs' working directory, if in the project


@dataclass
class Variant:
    """One repaired version of a script: the policy it was made under and what was fixed."""

    policy: str
    fixed: list[str]
    source: str


@dataclass
class ScriptPlan:
    path: Path
    text: SourceText | None = None
    variants: list[Variant] = field(default_factory=list)
    error: str | None = None


@dataclass
class ScriptRuns:
    plan: ScriptPlan
    original: list[dict] = field(default_factory=list)  # harness records, one per seed
    variants: dict[str, list[dict]] = field(default_factory=dict)  # policy -> records
    error: str | None = None
    # BNF203 repairs under a budget that cut the updates (own_count.py): the decision, and when it was affordable
    # the runs without a budget, "original" and per policy, as `original` and `variants` above.
    own_count: OwnCountDecision | None = None
    own_count_runs: dict[str, list[dict]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ planning


def plan_script(path: Path, settings: Settings, policies: Sequence[PlacementPolicy] | None = None) -> ScriptPlan:
    """The repaired versions of `path`, made exactly as `apply` makes them (one per policy for --compare-policies)."""
    plan = ScriptPlan(path)
    for policy in policies or [settings.policy]:
        try:
            result = process_file(path, dataclasses.replace(settings, policy=policy), fix=True)
        except Exception as error:  # a rule's bug: this script cannot be verified, the others still can
            plan.error = f"internal error while repairing: {type(error).__name__}: {error}"
            return plan
        if result.error is not None:
            plan.error = f"{result.error.line}:{result.error.column}: {result.error.message}"
            return plan
        plan.text = result.text
        if result.changed:
            plan.variants.append(Variant(policy.value, [d.code for d in result.fixed], result.source))
    return plan


# ------------------------------------------------------------------------------------------------ running


class WorkerFailed(Exception):
    """The harness process could not start, or stopped answering."""


class Worker:
    """One `python -m bnfix.verify.harness --serve` process: Keras imported once, one forked child per run.

    With `servers`, the process forks that many more workers once Keras is imported (`forked`, one per other slot),
    so that a session imports TensorFlow once for all its workers.
    """

    def __init__(self, options: RunOptions, workspace: Path, slot: int, servers: int = 0) -> None:
        self.options = options
        self.errors = workspace / f"worker-{slot}.log"
        self._buffer = b""
        self.forked: list[ForkedWorker] = []
        pipes = [(os.pipe(), os.pipe()) for _ in range(servers)]  # (requests, replies) per forked server
        theirs = [(requests[0], replies[1]) for requests, replies in pipes]
        try:
            with open(self.errors, "wb") as errors:
                try:
                    self.process = self._start(options, workspace, errors, theirs)
                except OSError as error:
                    for descriptor in (requests[1] for requests, _ in pipes):
                        os.close(descriptor)
                    for descriptor in (replies[0] for _, replies in pipes):
                        os.close(descriptor)
                    raise WorkerFailed(f"cannot start {options.python}: {error.strerror or error}") from None
        finally:
            for descriptor in (d for pair in theirs for d in pair):
                os.close(descriptor)
        ours = [(os.fdopen(requests[1], "wb"), replies[0]) for requests, replies in pipes]
        assert self.process.stdin is not None and self.process.stdout is not None
        self._requests, self._replies = self.process.stdin, self.process.stdout.fileno()
        line = self._read_line(time.monotonic() + STARTUP_ALLOWANCE)
        reply = _json_or_none(line)
        if not reply or not reply.get("ready"):
            for requests, replies in ours:
                requests.close()
                os.close(replies)
            self.kill()
            detail = (reply or {}).get("error", {}).get("message") or _tail(self.errors, 1500).strip() or "no output"
            raise WorkerFailed(f"the verify harness could not start ({options.python} -m bnfix.verify.harness): {detail}")
        pids = list(reply.get("servers") or [])
        for pid, (requests, replies) in zip(pids + [None] * len(ours), ours):
            try:
                if pid is None:
                    raise WorkerFailed("the harness forked fewer workers than asked")
                self.forked.append(ForkedWorker(options, self.errors, int(pid), requests, replies))
            except WorkerFailed:  # that slot starts a worker of its own
                requests.close()
                os.close(replies)

    @staticmethod
    def _start(options: RunOptions, workspace: Path, errors, servers: list[tuple[int, int]]) -> subprocess.Popen:
        command = [options.python, "-m", "bnfix.verify.harness", "--serve", "--sample-size", str(options.sample_size)]
        for reads, writes in servers:
            command += ["--server", f"{reads}:{writes}"]
        return subprocess.Popen(
            command, cwd=workspace, env=_child_environment(options), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=errors, start_new_session=True, pass_fds=[d for pair in servers for d in pair],
        )  # fmt: skip

    def run(
        self, script: Path, seed: int, log: Path, grace: float = 5.0, context: dict | None = None, budget: Budget | None = None
    ) -> dict:
        """One run under `budget` (default: the session's); the harness kills it `grace` seconds after the time
        limit if the alarm did not end it."""
        budget = self.options.budget if budget is None else budget
        request = {
            "script": str(script), "seed": seed, "timeout": self.options.timeout, "log": str(log), "grace": grace,
            "context": {"budget": budget.as_dict(), **(context or {})},
        }  # fmt: skip
        try:
            self._requests.write((json.dumps(request) + "\n").encode())
            self._requests.flush()
        except OSError as error:
            raise WorkerFailed(f"the verify harness stopped: {error}") from None
        # The harness kills a run `grace` s past its limit; more than that on top means the harness itself is stuck.
        record = _json_or_none(self._read_line(time.monotonic() + self.options.timeout + grace + REPLY_ALLOWANCE))
        if record is None:
            raise WorkerFailed(f"the verify harness stopped answering: {_tail(self.errors, 1500).strip()}")
        return record

    def _read_line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._replies], [], [], remaining)
            if ready:
                chunk = os.read(self._replies, 1 << 16)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def end_requests(self) -> None:
        """No more runs: the worker ends once it has finished the current one (close() waits for that)."""
        try:
            self._requests.close()
        except OSError:
            pass

    def close(self) -> None:
        self.end_requests()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.process.kill()
        self.process.wait()


class ForkedWorker(Worker):
    """A worker forked by another once Keras was imported (harness `--server`): the same protocol on its own pipes,
    in its own session. It is not this process's child: it ends when its requests end (its replies then close), or
    is killed by its session."""

    def __init__(self, options: RunOptions, errors: Path, pid: int, requests, replies: int) -> None:
        self.options, self.errors, self.pid = options, errors, pid
        self._buffer = b""
        self.forked = []
        self._requests, self._replies = requests, replies
        self._open = True
        reply = _json_or_none(self._read_line(time.monotonic() + REPLY_ALLOWANCE))
        if not reply or not reply.get("ready"):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            detail = _tail(self.errors, 1500).strip() or "no output"
            raise WorkerFailed(f"a forked verify worker did not start: {detail}")

    def close(self) -> None:
        self.end_requests()
        deadline = time.monotonic() + 10
        while self._read_line(deadline) is not None:  # None: its replies closed (it ended), or it is stuck
            pass
        if time.monotonic() >= deadline:
            self.kill()
        self._release()

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.end_requests()
        self._release()

    def _release(self) -> None:
        if self._open:
            self._open = False
            os.close(self._replies)


REPLY_ALLOWANCE = 30.0


def _json_or_none(line: bytes | None) -> dict | None:
    if line is None:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _child_environment(options: RunOptions) -> dict[str, str]:
    env = dict(os.environ)
    # Hash randomisation is fixed when the interpreter starts, and every run is forked from one worker.
    env["PYTHONHASHSEED"] = str(options.seeds[0] if options.seeds else 0)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ anywhere, not even in the copy
    env.update(options.budget.environment())  # BNFIX_VERIFY=1: a script may shorten itself
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("MPLBACKEND", "Agg")  # a plt.show() must not wait for a window
    package_root = str(Path(__file__).resolve().parents[2])  # so that `-m bnfix.verify.harness` resolves
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), package_root) if p)
    return env


def _tail(path: Path, size: int = 3000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-size:].decode("utf-8", errors="replace")


def failed_record(seed: int, status: str, kind: str, message: str, output: str = "") -> dict:
    return {
        "seed": seed, "status": status, "error": {"type": kind, "message": message, "traceback": output},
        "duration": None, "fits": [], "evaluations": [], "predictions": [],
    }  # fmt: skip


# ------------------------------------------------------------------------------------------------ the session


@dataclass(frozen=True)
class _Unit:
    """One run: a version of a script (None: the original) with one seed, under the session's budget or `budget`."""

    index: int
    version: str
    source: str | None
    seed: int
    budget: Budget | None = None

    @property
    def key(self) -> tuple[int, str, bool]:
        return (self.index, self.version, self.budget is not None)


def run_plans(
    plans: Sequence[ScriptPlan],
    options: RunOptions,
    on_done: Callable[[ScriptPlan, str, float, bool], None] | None = None,
) -> list[ScriptRuns]:
    """Run every plan's original and distinct repaired versions once per seed, on `options.jobs` workers; then,
    for BNF203 repairs whose updates the budget cut, both versions at the script's own count where affordable.
    `on_done(plan, version, seconds, own_count)` hears when every seed of a version has run."""
    outcomes = [ScriptRuns(plan, error=plan.error) for plan in plans]
    units: list[_Unit] = []
    shares: list[dict[str, str]] = []  # per outcome: policy -> the version whose runs it shares
    for index, outcome in enumerate(outcomes):
        shared: dict[str, str] = {}
        shares.append(shared)
        if outcome.error is not None or not outcome.plan.variants:
            continue
        versions: dict[str, str | None] = {"original": None}
        by_text: dict[str, str] = {}
        for variant in outcome.plan.variants:
            digest = hashlib.sha256(variant.source.encode("utf-8")).hexdigest()
            if digest not in by_text:  # policies that give the same text share one set of runs
                by_text[digest] = variant.policy
                versions[variant.policy] = variant.source
            shared[variant.policy] = by_text[digest]
        units.extend(_Unit(index, name, source, seed) for name, source in versions.items() for seed in options.seeds)
    if not units:
        return outcomes

    workspace = Path(tempfile.mkdtemp(prefix="bnfix-verify-"))
    count = max(1, min(options.jobs, len(units)))
    source = _WorkerSource(options, workspace, count)
    slots = [_WorkerSlot(source, slot) for slot in range(count)]
    try:
        records = _run_units(units, slots, outcomes, options, workspace, on_done)
        for index, outcome in enumerate(outcomes):
            if outcome.error is None and outcome.plan.variants:
                runs = lambda version: [records[(index, version, seed)] for seed in options.seeds]  # noqa: E731
                outcome.original = runs("original")
                outcome.variants = {policy: runs(version) for policy, version in shares[index].items()}
        if options.budget.active:
            _run_at_own_update_count(outcomes, shares, slots, options, workspace, on_done)
    finally:
        for slot in slots:  # all at once: the worker that forked the others waits for them before it ends
            slot.end_requests()
        source.close()
        for slot in slots:
            slot.close()
        shutil.rmtree(workspace, ignore_errors=True)
    return outcomes


def _run_at_own_update_count(outcomes, shares, slots, options: RunOptions, workspace: Path, on_done) -> None:
    """BNF203 repairs judged after fewer updates than the script's own (own_count.py): both versions once more per
    seed without the budget, when one run is expected to fit in the time limit. The original is run once, whichever
    of its repairs needs it."""
    unbudgeted = Budget()
    units: list[_Unit] = []
    wanted: dict[int, list[str]] = {}
    for index, outcome in enumerate(outcomes):
        if not outcome.variants:
            continue
        versions = sorted({shares[index][v.policy] for v in outcome.plan.variants if depends_on_update_count(v.fixed)})
        decisions = [own_count_decision(outcome.original, outcome.variants[version], options.timeout) for version in versions]
        decisions = [decision for decision in decisions if decision is not None]
        if not decisions:
            continue
        outcome.own_count = max(decisions, key=lambda decision: decision.expected_seconds)
        if not outcome.own_count.affordable:
            continue
        wanted[index] = ["original", *versions]
        sources = {"original": None, **{v.policy: v.source for v in outcome.plan.variants}}
        units.extend(_Unit(index, name, sources[name], seed, unbudgeted) for name in wanted[index] for seed in options.seeds)
    if not units:
        return
    records = _run_units(units, slots, outcomes, options, workspace, on_done)
    for index, versions in wanted.items():
        runs = {version: [records[(index, version, seed)] for seed in options.seeds] for version in versions}
        outcomes[index].own_count_runs = {
            "original": runs["original"],
            **{policy: runs[version] for policy, version in shares[index].items() if version in runs},
        }


def _run_units(units, slots, outcomes, options: RunOptions, workspace: Path, on_done) -> dict[tuple[int, str, int], dict]:
    """Every unit once, on the workers in `slots` (schedule.py decides the order); records by (index, version, seed)."""
    records: dict[tuple[int, str, int], dict] = {}
    pending: dict[tuple, int] = {}
    for unit in units:
        pending[unit.key] = pending.get(unit.key, 0) + 1
    started: dict[tuple, float] = {}
    queue = RunQueue(units)
    lock = threading.Lock()

    def work(workers: _WorkerSlot) -> None:
        while True:
            with lock:
                unit = queue.pop()
                if unit is None:
                    return
                started.setdefault(unit.key, time.perf_counter())
            begun = time.perf_counter()
            try:
                record = _run_unit(workers, unit, outcomes[unit.index].plan, options, workspace)
            except Exception as error:  # a bug here must not lose the other runs
                record = failed_record(unit.seed, "error", "InternalError", f"{type(error).__name__}: {error}")
            with lock:
                records[(unit.index, unit.version, unit.seed)] = record
                queue.finished(unit, time.perf_counter() - begun)
                pending[unit.key] -= 1
                done = pending[unit.key] == 0
            if done and on_done is not None:
                on_done(outcomes[unit.index].plan, unit.version, time.perf_counter() - started[unit.key], unit.budget is not None)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in slots[: max(1, min(len(slots), len(units)))]]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:  # workers run in their own sessions, so Ctrl-C reaches only this process
        with lock:
            queue.clear()
        for slot in slots:
            slot.discard()
        raise
    return records


class _WorkerSource:
    """Workers for the slots of a session: the first started forks one for every other slot once it has imported
    Keras (one TensorFlow import per session); a slot whose worker failed, or that found none forked, starts its own."""

    def __init__(self, options: RunOptions, workspace: Path, slots: int) -> None:
        self.options, self.workspace, self.slots = options, workspace, slots
        self._spares: list[Worker] = []
        self._started = False
        self._lock = threading.Lock()

    def worker(self, slot: int) -> Worker:
        with self._lock:
            if self._spares:
                return self._spares.pop(0)
            first, self._started = not self._started, True
            servers = self.slots - 1 if first and hasattr(os, "fork") else 0
            worker = Worker(self.options, self.workspace, slot, servers=servers)
            self._spares, worker.forked = worker.forked, []
            return worker

    def close(self) -> None:
        """Forked workers no slot took (a session with fewer runs than slots)."""
        with self._lock:
            for spare in self._spares:
                spare.close()
            self._spares = []


class _WorkerSlot:
    """A worker started on first use (a run whose copy fails never pays for TensorFlow) and restarted after a
    failure; if it cannot start at all, every later run in this slot is an error with the reason."""

    def __init__(self, source: _WorkerSource, slot: int) -> None:
        self.source, self.slot = source, slot
        self.worker: Worker | None = None
        self.startup_error: str | None = None
        self.mirror: tuple[Path, Stage] | None = None  # (its directory, the stage) a run left as staged, for the next

    def get(self) -> Worker:
        if self.startup_error is not None:
            raise WorkerFailed(self.startup_error)
        if self.worker is None:
            try:
                self.worker = self.source.worker(self.slot)
            except WorkerFailed as error:
                self.startup_error = str(error)
                raise
        return self.worker

    def discard(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None

    def end_requests(self) -> None:
        if self.worker is not None:
            self.worker.end_requests()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _run_unit(workers: _WorkerSlot, unit: _Unit, plan: ScriptPlan, options: RunOptions, workspace: Path) -> dict:
    """Run one unit in a fresh mirror of the script's project (staging.py): the slot's last mirror when its run left
    it as staged (restage), else a new one; a mirror a run changed is deleted at once."""
    try:
        directory, stage = _mirror_for(workers, unit, plan, options, workspace)
    except StagingFailed as error:
        return failed_record(unit.seed, "error", "StagingFailed", str(error))
    except OSError as error:
        return failed_record(unit.seed, "error", "StagingFailed", f"cannot stage the script's project: {error}")
    keep = False
    try:
        log = directory / "output.log"
        context = {"cwd": str(stage.cwd), "protect": str(stage.project), "stage": str(stage.root)}
        try:
            record = workers.get().run(stage.script, unit.seed, log, context=context, budget=unit.budget)
        except WorkerFailed as error:
            workers.discard()
            return failed_record(unit.seed, "error", "HarnessError", str(error), _tail(log))
        if record.get("status") != "ok":
            record["output_tail"] = _tail(log, 2000)
        _as_user_paths(record, stage)
        changed = linked_files_changed(stage)
        if changed:
            record["wrote_through_links"] = changed
        keep = as_staged(stage)
        return record
    finally:
        if keep:
            log.unlink(missing_ok=True)
            workers.mirror = (directory, stage)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def _mirror_for(workers: _WorkerSlot, unit: _Unit, plan: ScriptPlan, options: RunOptions, workspace: Path):
    """(directory, stage) for this run: the slot's untouched mirror restaged for this script, or a new mirror."""
    previous, workers.mirror = workers.mirror, None
    if previous is not None:
        directory, stage = previous
        try:
            reused = restage(
                stage, plan.path, unit.source, plan.text,
                invocation_dir=options.invocation_dir, max_copy_bytes=options.max_copy_bytes,
            )  # fmt: skip
        except (OSError, StagingFailed):
            reused = False
        if reused:
            return directory, stage
        shutil.rmtree(directory, ignore_errors=True)
    directory = Path(tempfile.mkdtemp(prefix="run-", dir=workspace))
    try:
        stage = stage_project(
            plan.path, directory / "stage", unit.source, plan.text,
            invocation_dir=options.invocation_dir, max_copy_bytes=options.max_copy_bytes,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory, stage


def _as_user_paths(record: dict, stage) -> None:
    """Error messages name the user's files, not their temporary mirror (so both versions' reasons compare)."""
    error = record.get("error")
    if isinstance(error, dict):
        for key in ("message", "traceback"):
            if isinstance(error.get(key), str):
                error[key] = stage.user_path(error[key])
    if isinstance(record.get("output_tail"), str):
        record["output_tail"] = stage.user_path(record["output_tail"])


def default_jobs() -> int:
    """Two versions of a script side by side: more children than cores only slows each one down."""
    return max(1, min(2, os.cpu_count() or 1))


def seeds_from(count: int, first: int = 0) -> tuple[int, ...]:
    return tuple(range(first, first + count))
