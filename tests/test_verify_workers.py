"""The workers of a session: the first imports Keras and forks the others (one TensorFlow import per session), and
a forked worker's runs compute exactly what the first worker's runs, or a fresh process's, compute."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from bnfix.verify import runner
from bnfix.verify.runner import ForkedWorker, RunOptions, ScriptPlan, Variant, Worker, WorkerFailed, run_plans

TRAINS = textwrap.dedent(
    """\
    import numpy as np
    import keras

    np.random.seed(0)
    x = np.random.randn(64, 4).astype("float32")
    y = x[:, :1] * x[:, 1:2]
    layers = [keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dense(1)]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.evaluate(x, y, verbose=0)
    """
)


def without_durations(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "duration"}


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "trains.py"
    path.write_text(TRAINS)
    return path


@pytest.mark.training
def test_a_forked_worker_computes_what_the_first_worker_and_a_fresh_one_compute(tmp_path, script):
    first = Worker(RunOptions(), tmp_path, 0, servers=1)
    (forked,) = first.forked
    fresh = Worker(RunOptions(), tmp_path, 2)
    try:
        workers = (first, forked, fresh)
        records = [worker.run(script, 1, tmp_path / f"{slot}.log") for slot, worker in enumerate(workers)]
    finally:
        for worker in (forked, first, fresh):
            worker.close()
    assert [record["status"] for record in records] == ["ok"] * 3
    assert without_durations(records[1]) == without_durations(records[0]) == without_durations(records[2])
    assert records[0]["fits"][0]["history"]["loss"]  # the comparison is of real numbers


@pytest.mark.training
def test_killing_the_first_worker_leaves_the_forked_one_answering(tmp_path):
    (tmp_path / "fine.py").write_text("print('hello')\n")
    first = Worker(RunOptions(), tmp_path, 0, servers=1)
    (forked,) = first.forked
    try:
        first.kill()
        record = forked.run(tmp_path / "fine.py", 0, tmp_path / "fine.log")
    finally:
        forked.close()
    assert record["status"] == "ok" and (tmp_path / "fine.log").read_text() == "hello\n"
    assert isinstance(forked, ForkedWorker) and forked.pid != first.process.pid


@pytest.mark.training
def test_ending_the_requests_ends_every_worker_and_a_script_cannot_read_them(tmp_path):
    (tmp_path / "reads.py").write_text("import sys\nprint(repr(sys.stdin.read()))\n")
    first = Worker(RunOptions(), tmp_path, 0, servers=1)
    (forked,) = first.forked
    records = [worker.run(tmp_path / "reads.py", 0, tmp_path / f"{n}.log") for n, worker in enumerate((first, forked))]
    for worker in (forked, first):
        worker.end_requests()
    forked.close()
    first.close()
    assert [record["status"] for record in records] == ["ok", "ok"]
    assert (tmp_path / "0.log").read_text() == (tmp_path / "1.log").read_text() == "''\n"  # stdin is /dev/null
    deadline = time.monotonic() + 5
    while not (gone(first.process.pid) and gone(forked.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(forked.pid), "the first worker reaps the worker it forked before it ends"


@pytest.mark.training
def test_a_session_with_two_jobs_imports_keras_once(tmp_path, script, monkeypatch):
    started = []
    real_start = Worker._start
    monkeypatch.setattr(Worker, "_start", staticmethod(lambda *args: started.append(args[-1]) or real_start(*args)))
    repaired = TRAINS.replace("epochs=2", "epochs=1")
    plan = ScriptPlan(script, variants=[Variant("post", ["BNF000"], repaired)])
    (outcome,) = run_plans([plan], RunOptions(seeds=(0, 1), jobs=2, invocation_dir=tmp_path))
    assert [len(servers) for servers in started] == [1]  # one process, asked to fork one more worker
    assert [run["status"] for run in outcome.original + outcome.variants["post"]] == ["ok"] * 4
    assert [len(run["fits"][0]["history"]["loss"]) for run in outcome.variants["post"]] == [1, 1]


@pytest.mark.training
def test_every_run_sees_a_fresh_mirror_and_one_left_as_staged_serves_the_next_run(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "setup.py").write_text("")
    (project / "writes.py").write_text(
        "import os\n"
        'assert not os.path.exists("out.txt"), "an earlier run left its file"\n'
        'open("out.txt", "w").write("x")\n'
    )
    (project / "quiet.py").write_text("print('quiet')\n")
    staged = []
    real_stage = runner.stage_project
    monkeypatch.setattr(runner, "stage_project", lambda *args, **kw: staged.append(args[0]) or real_stage(*args, **kw))
    repaired = {project / name: (project / name).read_text() + "# repaired\n" for name in ("writes.py", "quiet.py")}
    plans = [ScriptPlan(path, variants=[Variant("post", ["BNF000"], text)]) for path, text in repaired.items()]
    outcomes = run_plans(plans, RunOptions(seeds=(0, 1, 2), jobs=1, invocation_dir=tmp_path))
    runs = [run for outcome in outcomes for run in outcome.original + outcome.variants["post"]]
    assert [run["status"] for run in runs] == ["ok"] * 12, [run.get("error") for run in runs]
    # A new mirror for the first run and after each of the 6 runs of writes.py (but a last one): 6 or 7 of 12.
    assert 6 <= len(staged) <= 7


def test_a_worker_that_cannot_start_says_why_and_leaves_no_pipe_open(tmp_path):
    descriptors = len(os.listdir("/proc/self/fd"))
    with pytest.raises(WorkerFailed, match="cannot start /nonexistent/python"):
        Worker(RunOptions(python="/nonexistent/python"), tmp_path, 0, servers=1)
    assert len(os.listdir("/proc/self/fd")) == descriptors
