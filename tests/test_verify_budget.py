"""The verify harness under a budget, really training (small models, fixed seeds): epochs, steps and rows capped
the same way for every seed, a timed-out run keeping its epochs, GAN-style *_on_batch loops recorded and probed,
and the input statistics and shift of every call."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bnfix.verify.budget import Budget
from bnfix.verify.compare import Verdict, judge
from bnfix.verify.records import learned
from bnfix.verify.runner import RunOptions, Worker

pytestmark = pytest.mark.training

BUDGETED = textwrap.dedent(
    """\
    import os
    import numpy as np
    import keras
    from keras import layers

    assert os.environ["BNFIX_VERIFY"] == "1" and os.environ["BNFIX_VERIFY_EPOCHS"] == "2"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([
        keras.Input((4,)), layers.Dense(8), layers.BatchNormalization(), layers.Activation("relu"), layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, 32, 50, 0, validation_data=(x[:300] * 10, y[:300]))  # batch_size, epochs, verbose by position
    model.evaluate(x[:500], y[:500], verbose=0)
    """
)

TIMED_OUT = textwrap.dedent(
    """\
    import time
    import numpy as np
    import keras

    x, y = np.zeros((32, 2), "float32"), np.zeros((32, 1), "float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    slow = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(0.3))
    model.fit(x, y, epochs=1000, verbose=0, callbacks=[slow])
    """
)

GAN_LOOP = textwrap.dedent(
    """\
    import numpy as np
    import keras
    from keras import layers

    rng = np.random.default_rng(0)
    critic = keras.Sequential([
        keras.Input((2,)), layers.Dense(8), layers.BatchNormalization(), layers.Activation("relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    critic.compile(optimizer="adam", loss="binary_crossentropy")
    labels = np.concatenate([np.ones((16, 1)), np.zeros((16, 1))]).astype("float32")
    for step in range(40):
        real = rng.normal(2.0, 1.0, size=(16, 2)).astype("float32")
        fake = rng.normal(-2.0, 1.0, size=(16, 2)).astype("float32")
        critic.train_on_batch(np.concatenate([real, fake]), labels)
    critic.test_on_batch(real, np.ones((16, 1), "float32"))
    critic.predict_on_batch(fake + 20.0)
    """
)


def run_scripts(tmp_path: Path, scripts: dict[str, str], seeds=(0,), **options) -> dict[str, list[dict]]:
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    worker = Worker(RunOptions(**options), tmp_path, 0)
    try:
        return {
            name: [worker.run(tmp_path / name, seed, tmp_path / f"{name}.{seed}.log", grace=2.0) for seed in seeds]
            for name in scripts
        }
    finally:
        worker.close()


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    directory = tmp_path_factory.mktemp("budget")
    budgeted = run_scripts(directory, {"budgeted.py": BUDGETED}, seeds=(0, 1), budget=Budget(epochs=2, max_samples=64))
    stepped = run_scripts(directory, {"stepped.py": BUDGETED}, budget=Budget(epochs=2, steps=1))
    others = run_scripts(directory, {"timed_out.py": TIMED_OUT, "gan.py": GAN_LOOP}, timeout=4.0)
    return {**budgeted, **stepped, **others}


def test_epochs_and_rows_are_capped_and_the_scripts_own_count_is_kept(records):
    first, second = records["budgeted.py"]
    assert first["status"] == "ok", first.get("output_tail")
    (fit,) = first["fits"]
    assert fit["epochs"] == 2 and len(fit["history"]["loss"]) == 2 and fit["completed"]
    assert fit["budget"] == {
        "requested_epochs": 50, "epochs": 2, "requested_steps_per_epoch": None, "steps_per_epoch": None,
        "rows": 64, "script_rows": 1000, "batch_size": 32, "script_updates": 50 * 32,
    }  # fmt: skip
    assert fit["updates"] == 2 * 2  # 64 rows in batches of 32, two epochs
    assert first["budget"] == {"epochs": 2, "steps": None, "max_samples": 64}
    (evaluation,) = first["evaluations"]
    assert evaluation["inputs"][0]["rows"] == 64  # evaluate's 500 rows were cut to the same budget
    # The same rows for every seed: the input statistics of both seeds agree exactly.
    assert fit["inputs"] == second["fits"][0]["inputs"] and evaluation["inputs"] == second["evaluations"][0]["inputs"]


def test_steps_cap_steps_per_epoch(records):
    (run,) = records["stepped.py"]
    (fit,) = run["fits"]
    assert fit["budget"]["steps_per_epoch"] == 1 and fit["updates"] == 2


def test_input_statistics_and_the_shift_of_evaluation_inputs(records):
    fit = records["budgeted.py"][0]["fits"][0]
    (summary,) = fit["inputs"]
    assert summary["per"] == "feature" and len(summary["mean"]) == len(summary["std"]) == 4
    assert all(abs(mean) < 0.5 and 0.6 < std < 1.4 for mean, std in zip(summary["mean"], summary["std"]))
    # validation inputs scaled by 10: their means sit far from the training means in training standard deviations
    assert fit["validation_input_shift"] > 1.0
    assert records["budgeted.py"][0]["evaluations"][0]["input_shift"] < 0.5  # the same distribution


def test_a_timed_out_run_keeps_the_epochs_it_finished(records):
    (run,) = records["timed_out.py"]
    assert run["status"] == "timeout"
    (fit,) = run["fits"]
    assert fit["epochs"] >= 1 and not fit["completed"]
    assert len(fit["history"]["loss"]) == fit["epochs"]
    judgement = judge(records["gan.py"], [run])
    assert judgement.verdict is Verdict.TIMED_OUT
    assert judgement.reason == f"the repaired version timed out after {fit['epochs']} epoch{'' if fit['epochs'] == 1 else 's'}"


def test_gan_loops_are_recorded_and_probed_after_their_last_batch(records):
    (run,) = records["gan.py"]
    assert run["status"] == "ok", run.get("output_tail")
    calls = {entry["method"]: entry for entry in run["batch_calls"]}
    assert {name: entry["calls"] for name, entry in calls.items()} == {
        "train_on_batch": 40, "test_on_batch": 1, "predict_on_batch": 1,
    }  # fmt: skip
    training = calls["train_on_batch"]
    assert len(training["losses"]) == 40 and training["final_loss"] < training["first_loss"]
    assert training["probe"]["bn_layers"] == 1 and training["probe"]["inference_gap"] >= 0
    assert calls["predict_on_batch"]["input_shift"] > 5  # fake + 20 against the training batches
    assert learned(run)[0] is True


def test_the_fixed_rows_keep_x_y_and_python_lists_aligned(monkeypatch):
    import keras
    import numpy

    from bnfix.verify import harness

    monkeypatch.setattr(harness, "keras", keras)
    monkeypatch.setattr(harness, "np", numpy)
    x = numpy.arange(100).reshape(100, 1)
    y = [float(value) for value in range(100)]  # labels as a Python list
    kept_x, kept_y = harness.subset_structure(x, 10), harness.subset_structure(y, 10)
    assert kept_x.shape == (10, 1) and list(kept_x[:, 0]) == list(kept_y)
    assert list(harness.subset_structure({"a": x}, 10)["a"][:, 0]) == list(kept_y)  # dict inputs: the same rows
    assert harness.subset_structure(x[:5], 10).shape == (5, 1)  # fewer rows than the budget: untouched
