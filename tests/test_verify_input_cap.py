"""`--max-samples` on tf.data datasets, generators and PyDatasets (input_cap.py), really training: each keeps its
first ceil(N / batch size) batches in every epoch, the steps follow, and the record says what was kept."""

from __future__ import annotations

import textwrap

import pytest

from bnfix.verify.budget import Budget
from bnfix.verify.records import capped_inputs
from bnfix.verify.runner import RunOptions, Worker

pytestmark = pytest.mark.training

NOT_ARRAYS = textwrap.dedent(
    """\
    import numpy as np
    import keras
    import tensorflow as tf
    from keras import layers

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")

    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)  # 32 batches
    held_out = tf.data.Dataset.from_tensor_slices((x[:320], y[:320])).batch(32)
    model.fit(batches, epochs=2, verbose=0, validation_data=held_out)
    model.evaluate(batches, verbose=0)
    predicted = model.predict(batches.map(lambda features, target: features), verbose=0)
    print("predicted rows", len(predicted))

    model.fit(batches.repeat(), steps_per_epoch=20, epochs=2, verbose=0)  # an endless dataset

    seen = []

    def endless():
        while True:
            for start in range(0, 1000, 50):
                seen.append(start)
                yield x[start:start + 50], y[start:start + 50]

    model.fit(endless(), steps_per_epoch=10, epochs=2, verbose=0)
    assert seen == [0, 50], seen  # two batches read once, then replayed

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 25

        def __getitem__(self, index):
            return x[index * 40:(index + 1) * 40], y[index * 40:(index + 1) * 40]

    model.fit(Batches(), epochs=2, verbose=0)
    """
)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    directory = tmp_path_factory.mktemp("capped")
    (directory / "not_arrays.py").write_text(NOT_ARRAYS)
    worker = Worker(RunOptions(budget=Budget(max_samples=100)), directory, 0)
    try:
        return worker.run(directory / "not_arrays.py", 0, directory / "run.log", grace=2.0)
    finally:
        worker.close()


def test_each_input_keeps_its_first_batches_every_epoch(record):
    assert record["status"] == "ok", record.get("output_tail") or record.get("error")
    dataset, endless, generator, py_dataset = record["fits"]
    # 100 rows in batches of 32: the first 4 of 32 batches, in each of 2 epochs; the validation data likewise.
    assert dataset["updates"] == 2 * 4 and dataset["budget"]["script_updates"] == 2 * 32
    assert dataset["budget"]["capped_x"] == {
        "kind": "tf.data.Dataset", "batches": 4, "batch_size": 32, "rows": 128, "script_batches": 32,
    }  # fmt: skip
    assert dataset["budget"]["capped_validation_data"]["batches"] == 4
    # An endless dataset with the script's 20 steps per epoch: 4 steps over the same first 4 batches.
    assert endless["updates"] == 2 * 4 and endless["budget"]["steps_per_epoch"] == 4
    assert endless["budget"]["script_updates"] == 2 * 20
    # A generator of batches of 50: its first 2, replayed every epoch (the script asserts it read only those).
    assert generator["updates"] == 2 * 2 and generator["budget"]["capped_x"]["kind"] == "generator"
    # A PyDataset of 25 batches of 40: a view of its first 3.
    assert py_dataset["updates"] == 2 * 3 and py_dataset["budget"]["script_updates"] == 2 * 25


def test_evaluate_and_predict_keep_the_same_batches_and_the_record_says_so(record):
    (evaluation,) = record["evaluations"]
    (prediction,) = record["predictions"]
    assert evaluation["capped_x"]["batches"] == prediction["capped_x"]["batches"] == 4
    assert prediction["rows"] == 128
    assert capped_inputs(record) == [
        "fit x (tf.data.Dataset): the first 4 batches of 32 (128 rows, of 32 batches)",
        "fit validation_data (tf.data.Dataset): the first 4 batches of 32 (128 rows, of 10 batches)",
        "fit x (tf.data.Dataset): the first 4 batches of 32 (128 rows)",  # endless: no count of its own
        "fit x (generator): the first 2 batches of 50 (100 rows)",
        "fit x (PyDataset): the first 3 batches of 40 (120 rows, of 25 batches)",
        "evaluate x (tf.data.Dataset): the first 4 batches of 32 (128 rows, of 32 batches)",
        "predict x (tf.data.Dataset): the first 4 batches of 32 (128 rows, of 32 batches)",
    ]
