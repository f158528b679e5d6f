"""BNF203 (moving statistics that cannot converge) and BNF204 (tiny batches): update counts, fixes, silences."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal

import pytest

from bnfix.rules.statistics import converging_momentum
from tests.helpers import SEED_EXAMPLE_2, assert_fix, codes_found, messages

HEADER = "import numpy as np\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
MODEL = "model = keras.Sequential([layers.Dense(8), layers.BatchNormalization({bn}), layers.Dense(1)])\n"

SEED_DEFAULT_MOMENTUM = SEED_EXAMPLE_2.replace("BatchNormalization(moving_average_fraction=0.9), #Explicitly setting moving average", "BatchNormalization(),")


def updates_reported(source: str) -> int | None:
    """The update count BNF203 states, or None when it says nothing."""
    found = messages(source, "BNF203")
    if not found:
        return None
    match = re.match(r"after (\d+) updates", found[0])
    assert match, found[0]
    return int(match.group(1))


# ------------------------------------------------------------------------------------------ BNF203: the seed


def test_seed_example_2_with_the_default_momentum_is_found_and_fixed():
    (message,) = messages(SEED_DEFAULT_MOMENTUM, "BNF203")
    assert message.startswith("after 40 updates (10 epochs x 4 batches of 32 from 100 samples)")
    assert message.endswith("the moving statistics still hold 67% of their initial values (momentum 0.99)")
    after = SEED_DEFAULT_MOMENTUM.replace("BatchNormalization(),", "BatchNormalization(momentum=0.89),")
    assert_fix(SEED_DEFAULT_MOMENTUM, after, "BNF203")


def test_seed_example_2_with_momentum_0_9_is_silent():
    source = SEED_DEFAULT_MOMENTUM.replace("BatchNormalization(),", "BatchNormalization(momentum=0.9),")
    assert codes_found(source, "BNF203") == []  # 0.9 ** 40 = 1.5%


def test_momentum_under_its_caffe_name_counts_and_the_fix_edits_that_argument():
    before = SEED_DEFAULT_MOMENTUM.replace("BatchNormalization(),", "BatchNormalization(moving_average_fraction=0.99),")
    after = SEED_DEFAULT_MOMENTUM.replace("BatchNormalization(),", "BatchNormalization(momentum=0.89),")
    assert codes_found(before, "BNF203") == ["BNF203"]
    assert_fix(before, after, "BNF20")


@pytest.mark.parametrize(
    ("updates", "momentum"),
    [(40, "0.89"), (20, "0.79"), (100, "0.95"), (229, "0.98"), (7, "0.51")],
)
def test_converging_momentum_is_the_largest_two_decimal_value(updates, momentum):
    value = converging_momentum(updates)
    assert value == Decimal(momentum)
    assert float(value) ** updates <= 0.01 < (float(value) + 0.01) ** updates


def test_no_fix_below_seven_updates():
    assert converging_momentum(6) is None
    source = HEADER + MODEL.format(bn="") + "x = np.zeros((64, 4))\nmodel.fit(x, x, epochs=3)\n"  # 6 updates
    (message,) = messages(source, "BNF203")
    assert "after 6 updates" in message and "train longer" in message
    assert_fix(source, source, "BNF203")


# ------------------------------------------------------------------------------------------ BNF203: counting N


@pytest.mark.parametrize(
    ("data", "fit", "updates"),
    [
        ("x = np.random.rand(100, 4)", "model.fit(x, y, epochs=10)", 40),
        ("x = np.random.randn(100, 4).astype('float32')", "model.fit(x, y, epochs=10)", 40),
        ("x = np.zeros((100, 4))", "model.fit(x, y, batch_size=10, epochs=3)", 30),
        ("x = np.random.normal(0, 1, size=(100, 4)) * 10 + 5", "model.fit(x, y, epochs=2)", 8),
        ("rng = np.random.default_rng(0)\nx = rng.normal(size=(100, 4))", "model.fit(x, y, epochs=2)", 8),
        ("N = 50\nx = np.ones((N * 2, 4))", "model.fit(x, y, epochs=2)", 8),
        ("data = np.random.rand(1000, 4)\nx = data[:100]", "model.fit(x, y)", 4),
        ("data = np.random.rand(1000, 4)\nx = data[900:]", "model.fit(x, y)", 4),
        ("x = load()[:100]", "model.fit(x, y)", 4),  # at most 100 rows: an upper bound
        ("data = np.random.rand(130, 4)\nx, x_test = data[:100], data[100:]", "model.fit(x, y, epochs=3)", 12),
        ("x = np.concatenate([np.zeros((60, 4)), np.ones((40, 4))])", "model.fit(x, y)", 4),
        ("x = np.random.rand(100, 4)", "model.fit(x, y, 25, 5)", 20),  # positional batch_size, epochs
        ("x = np.random.rand(100, 4)", "model.fit(x, y, epochs=10, initial_epoch=5)", 20),
        ("x = np.random.rand(100, 4)", "model.fit(x, y, epochs=10, validation_split=0.2)", 30),
        ("x = np.random.rand(101, 4)", "model.fit(x, y, batch_size=10, epochs=2, validation_split=0.2)", 16),  # floor(80.8)
        ("x = np.random.rand(100, 4)", "model.fit(x, y, epochs=10, validation_split=0.2, validation_data=(v, w))", 40),
        ("x = np.random.rand(10000, 4)", "model.fit(x, y, epochs=3, steps_per_epoch=10)", 30),
        ("x = np.random.rand(200, 4)", "model.fit(x=x, y=y, batch_size=len(x) // 4, epochs=5)", 20),
    ],
)
def test_updates_from_what_the_source_makes_plain(data, fit, updates):
    source = HEADER + MODEL.format(bn="") + data + "\ny = None\n" + fit + "\n"
    assert updates_reported(source) == updates


@pytest.mark.parametrize(
    ("split", "updates"),
    [
        ("test_size=0.2", 13),  # 500 - ceil(100) = 400 rows: 13 batches
        ("test_size=100", 13),
        ("train_size=0.5", 8),  # floor(250) rows
        ("", 12),  # default test_size 0.25: 375 rows
    ],
)
def test_train_test_split_arithmetic(split, updates):
    source = (
        HEADER
        + "from sklearn.model_selection import train_test_split\n"
        + MODEL.format(bn="")
        + "X = np.random.rand(500, 4)\ny = np.random.rand(500)\n"
        + f"X_train, X_test, y_train, y_test = train_test_split(X, y, {split})\n"
        + "model.fit(X_train, y_train)\n"
    )
    assert updates_reported(source) == updates


def test_fits_on_one_model_add_up():
    source = HEADER + MODEL.format(bn="") + "x = np.zeros((320, 4))\nmodel.fit(x, x, epochs=2)\nmodel.fit(x, x, epochs=3)\n"
    (message,) = messages(source, "BNF203")
    assert message.startswith("after 50 updates (2 fit calls: 20 + 30)")


def test_a_base_shared_by_two_models_counts_both_trainings():
    source = HEADER + (
        "base = keras.Sequential([layers.Dense(8), layers.BatchNormalization()])\n"
        "head = keras.Sequential([base, layers.Dense(1)])\n"
        "inputs = keras.Input((4,))\n"
        "model = keras.Model(inputs, layers.Dense(1)(base(inputs)))\n"
        "x = np.zeros((320, 4))\n"
        "head.fit(x, x, epochs=2)\n"
        "model.fit(x, x, epochs=3)\n"
    )
    assert updates_reported(source) == 50


# ------------------------------------------------------------------------------------------ BNF203: models


def test_functional_model_built_by_a_function_with_a_block_helper():
    before = HEADER + textwrap.dedent(
        """\
        def block(x):
            x = layers.Dense(16, activation="relu")(x)
            return layers.BatchNormalization(momentum=0.95)(x)

        def build_model():
            inputs = keras.Input(shape=(4,))
            x = layers.Dense(16, activation="relu")(inputs)
            x = layers.BatchNormalization()(x)
            x = block(x)
            outputs = layers.Dense(1)(x)
            return keras.Model(inputs=inputs, outputs=outputs)

        model = build_model()
        x = np.random.rand(640, 4)
        model.fit(x, x[:, :1], epochs=2)
        """
    )
    after = before.replace("BatchNormalization(momentum=0.95)", "BatchNormalization(momentum=0.89)").replace(
        "BatchNormalization()", "BatchNormalization(momentum=0.89)"
    )
    assert codes_found(before, "BNF203") == ["BNF203", "BNF203"]  # 40 updates: 67% and 13% left
    assert_fix(before, after, "BNF203")


def test_model_add_runs_and_subclassed_models():
    added = HEADER + (
        "model = keras.Sequential()\nmodel.add(layers.Dense(8))\nmodel.add(layers.BatchNormalization())\n"
        "x = np.zeros((100, 4))\nmodel.fit(x, x, epochs=10)\n"
    )
    assert updates_reported(added) == 40
    subclassed = HEADER + textwrap.dedent(
        """\
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.norm = layers.BatchNormalization()

            def call(self, x):
                return self.norm(x)

        model = Net()
        x = np.zeros((100, 4))
        model.fit(x, x, epochs=10)
        """
    )
    assert updates_reported(subclassed) == 40


# ------------------------------------------------------------------------------------------ BNF203: silence


@pytest.mark.parametrize(
    "training",
    [
        # N from files, datasets and generators.
        "x = np.load('x.npy')\nmodel.fit(x, y, epochs=10)",
        "import pandas as pd\nx = pd.read_csv('d.csv').values\nmodel.fit(x, y, epochs=10)",
        "import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices((a, b)).batch(32)\nmodel.fit(ds, epochs=10)",
        "model.fit(generator(), epochs=10)",
        "(x, y), _ = keras.datasets.mnist.load_data()\nmodel.fit(x, y, epochs=10)",
        # Unknowable epochs, or a fit repeated in a loop.
        "x = np.zeros((100, 4))\nmodel.fit(x, y, epochs=n_epochs)",
        "x = np.zeros((100, 4))\nfor fold in range(5):\n    model.fit(x, y, epochs=10)",
        "x = np.zeros((100, 4))\nmodel.fit(x, y, **fit_args)",
        # A name last assigned in a branch that may not run.
        "x = np.load('x.npy')\nif small:\n    x = np.zeros((100, 4))\nmodel.fit(x, y, epochs=10)",
        # A boolean mask: rows unknown.
        "data = np.random.rand(1000, 4)\nx = data[data[:, 0] > 0.5]\nmodel.fit(x, y, epochs=10)",
        # Enough updates: 0.99 ** 313 = 4%.
        "x = np.zeros((10000, 4))\nmodel.fit(x, y)",
    ],
)
def test_silent_when_the_source_does_not_make_n_plain(training):
    source = HEADER + MODEL.format(bn="") + training + "\n"
    assert codes_found(source, "BNF203") == []


@pytest.mark.parametrize(
    "model",
    [
        "model = keras.models.load_model('m.keras')",
        "model = make_model()",  # not defined here
        "model = keras.Sequential([layers.Dense(8), layers.Dense(1)])",  # no BN
        MODEL.format(bn="momentum=m").rstrip(),  # momentum by a name
        MODEL.format(bn="**bn_config").rstrip(),
    ],
)
def test_silent_when_the_model_or_its_momentum_is_unknown(model):
    source = HEADER + "m = pick()\n" + model + "\nx = np.zeros((100, 4))\nmodel.fit(x, x, epochs=10)\n"
    assert codes_found(source, "BNF203") == []


def test_model_passed_as_an_argument_is_unknown():
    source = HEADER + "x = np.zeros((100, 4))\ndef train(model):\n    model.fit(x, x, epochs=10)\n"
    assert codes_found(source, "BNF203") == []


def test_local_class_named_batch_normalization_is_not_keras():
    source = (
        "import numpy as np\nfrom tensorflow import keras\n\nclass BatchNormalization:\n    pass\n\n"
        "model = keras.Sequential([BatchNormalization()])\nx = np.zeros((100, 4))\nmodel.fit(x, x, epochs=10)\n"
    )
    assert codes_found(source, "BNF203") == []


@pytest.mark.parametrize("comment", ["# bnfix: ignore[BNF203]", "# noqa: BNF203"])
def test_bnf203_suppression(comment):
    source = SEED_DEFAULT_MOMENTUM.replace("BatchNormalization(),", f"BatchNormalization(),  {comment}")
    assert codes_found(source, "BNF2") == []
    assert codes_found(source) == ["BNF103"]  # only the named code is suppressed


# ------------------------------------------------------------------------------------------ BNF204


def test_tiny_batches_are_reported_without_a_fix():
    source = HEADER + MODEL.format(bn="momentum=0.5") + "x = np.zeros((96, 4))\nmodel.fit(x, x, epochs=4, batch_size=4)\n"
    (message,) = messages(source, "BNF204")
    assert message.startswith("batch_size=4:") and "4 samples" in message
    assert "GroupNormalization" in message and "LayerNormalization" in message
    assert_fix(source, source, "BNF204", unsafe_fixes=True)


@pytest.mark.parametrize(
    "fit",
    ["model.fit(x, x, batch_size=1)", "model.fit(x, x, batch_size=7)", "model.fit(x, x, batch_size=BATCH)", "model.fit(x, x, 7)"],
)
def test_tiny_batch_forms(fit):
    source = HEADER + MODEL.format(bn="") + "BATCH = 2\n" + fit + "\n"
    assert codes_found(source, "BNF204") == ["BNF204"]


@pytest.mark.parametrize(
    "fit",
    [
        "model.fit(x, x, batch_size=8)",
        "model.fit(x, x)",  # Keras's default, 32
        "model.fit(x, x, batch_size=size)",
        "other.fit(x, x, batch_size=2)",  # not a model defined here
    ],
)
def test_tiny_batch_look_alikes(fit):
    source = HEADER + MODEL.format(bn="") + fit + "\n"
    assert codes_found(source, "BNF204") == []


def test_tiny_batches_on_a_model_without_bn_are_fine():
    source = HEADER + "model = keras.Sequential([layers.Dense(8), layers.LayerNormalization()])\nmodel.fit(x, x, batch_size=2)\n"
    assert codes_found(source, "BNF204") == []


def test_tiny_batches_suppressed():
    source = HEADER + MODEL.format(bn="") + "model.fit(x, x, batch_size=2)  # noqa: BNF204\n"
    assert codes_found(source, "BNF204") == []
