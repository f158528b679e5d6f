"""BNF301 (inference in training mode) and BNF302 (frozen base without training=False): fixes and look-alikes."""

from __future__ import annotations

import textwrap

import pytest

from bnfix.engine import check_source
from tests.helpers import assert_fix, codes_found, settings_for

HEADER = "import numpy as np\nimport tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
MODEL = "model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])\n"


# ------------------------------------------------------------------------------------------ BNF301


def test_per_sample_predictions_in_training_mode_are_fixed_only_as_unsafe():
    before = HEADER + MODEL + "predictions = np.array([float(model(s[None, :], training=True)[0, 0]) for s in x_test])\n"
    after = before.replace("training=True", "training=False")
    assert codes_found(before, "BNF301") == ["BNF301"]
    assert_fix(before, before, "BNF301")
    assert_fix(before, after, "BNF301", unsafe_fixes=True)


@pytest.mark.parametrize(
    "use",
    [
        "y = model(x_test, training=True)",
        "print(model(x_test, training=True).numpy())",
        "def evaluate(x):\n    return model(x, training=True)",
        "for batch in batches:\n    out = model(batch, training=True)",
        "m2 = keras.models.load_model('m.keras')\ny = m2(x, training=True)",
        "base = keras.applications.MobileNetV2()\ny = base(x, training=True)",
        "def report(my_model, x):\n    return my_model(x, training=True)",
        "y = self.model(x, training=True)",
    ],
)
def test_predictions_from_models(use):
    source = HEADER + MODEL + use + "\n"
    assert_fix(source, source.replace("training=True", "training=False"), "BNF301", unsafe_fixes=True)


def test_subclassed_model_instance():
    source = HEADER + textwrap.dedent(
        """\
        class Net(keras.Model):
            def call(self, x, training=None):
                return self.bn(x, training=True)

        net = Net()
        y = net(x, training=True)
        """
    )
    # The call inside `call` is the definition; only the prediction is reported.
    assert_fix(source, source.replace("net(x, training=True)", "net(x, training=False)"), "BNF301", unsafe_fixes=True)


@pytest.mark.parametrize(
    "code",
    [
        # Training steps.
        "@tf.function\ndef train_step(x, y):\n    with tf.GradientTape() as tape:\n        loss = loss_fn(y, model(x, training=True))\n    return loss",
        "for x, y in ds:\n    with tf.GradientTape() as tape:\n        logits = model(x, training=True)",
        "class Trainer(keras.Model):\n    def train_step(self, data):\n        y = self(data, training=True)\n        return y",
        # pix2pix: BN applied in training mode inside the model definition.
        "def downsample(x):\n    x = layers.Conv2D(8, 3)(x)\n    return layers.BatchNormalization()(x, training=True)",
        "def upsample(x):\n    bn = layers.BatchNormalization()\n    return bn(x, training=True)",
        # A layer or model class's own call method.
        "class MCDropout(layers.Dropout):\n    def call(self, inputs):\n        return super().call(inputs, training=True)",
        # A functional model whose base runs in training mode on purpose.
        "inputs = keras.Input((8,))\nfeatures = model(inputs, training=True)\nout = keras.Model(inputs, features)",
        # Monte-Carlo dropout: one input, many samples, averaged or stacked.
        "mean = np.mean([model(x, training=True) for _ in range(100)], axis=0)",
        "samples = np.stack([model(x_test, training=True).numpy() for i in range(30)])",
        "preds = []\nfor _ in range(50):\n    preds.append(model(x, training=True))\nmean = tf.reduce_mean(tf.stack(preds), axis=0)",
        "t = 0\nwhile t < 20:\n    draws.append(model(x, training=True))\n    t += 1",
        # Result discarded: refreshing BN statistics on purpose.
        "for batch in calibration:\n    model(batch, training=True)",
        "_ = model(x, training=True)",
        # Not a model.
        "def augment(img, training):\n    return img\n\ny = augment(x, training=True)",
        "aug = tf.keras.layers.RandomFlip()\ny = aug(x, training=True)",
        "y = generator_fn(x, training=True)",
        # Already right.
        "y = model(x, training=False)",
        "y = model(x, training=is_training)",
    ],
)
def test_training_mode_look_alikes(code):
    source = HEADER + MODEL + code + "\n"
    assert codes_found(source, "BNF301") == []


@pytest.mark.parametrize("comment", ["# bnfix: ignore[BNF301]", "# noqa: BNF301"])
def test_bnf301_suppression(comment):
    source = HEADER + MODEL + f"y = model(x, training=True)  {comment}\n"
    assert codes_found(source, "BNF3") == []
    assert_fix(source, source, "BNF3", unsafe_fixes=True)


# ------------------------------------------------------------------------------------------ BNF302

TRANSFER = """\
    import numpy as np
    from tensorflow import keras
    from tensorflow.keras import layers

    base = keras.applications.MobileNetV2(include_top=False, weights="imagenet")
    base.trainable = False
    inputs = keras.Input(shape=(160, 160, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    base.trainable = True
    """


def test_frozen_base_gets_training_false():
    assert codes_found(TRANSFER, "BNF302") == ["BNF302"]
    assert_fix(TRANSFER, TRANSFER.replace("x = base(x)", "x = base(x, training=False)"), "BNF302")


def test_frozen_base_in_a_model_building_function():
    before = HEADER + textwrap.dedent(
        """\
        def build(base):
            base.trainable = False
            inputs = keras.Input((8,))
            return keras.Model(inputs, base(inputs))
        """
    )
    assert_fix(before, before.replace("base(inputs))", "base(inputs, training=False))"), "BNF302")


def test_message_states_where_the_base_was_frozen():
    (found,) = check_source(textwrap.dedent(TRANSFER), settings_for("BNF302")).diagnostics
    message = found.message
    assert message.startswith("base is frozen (line 6) but called without training=False")


@pytest.mark.parametrize(
    "change",
    [
        ("x = base(x)", "x = base(x, training=False)"),  # already right
        ("x = base(x)", "x = base(x, training=True)"),  # an explicit choice
        ("base.trainable = False\n", ""),  # never frozen
        ("base.trainable = False\n", "base.trainable = False\nbase.trainable = True\n"),  # unfrozen again
        ("base.trainable = False\n", "if freeze:\n    base.trainable = False\n"),  # maybe frozen
        ("x = base(x)", "x = base(np.zeros((1, 160, 160, 3)))"),  # called on data, not in a functional model
        ("x = base(x)", "x = base(*tensors)"),
    ],
)
def test_frozen_base_look_alikes(change):
    old, new = change
    source = textwrap.dedent(TRANSFER).replace(old, new, 1)
    assert source != textwrap.dedent(TRANSFER)
    assert codes_found(source, "BNF302") == []


def test_called_before_being_frozen_is_left_alone():
    source = HEADER + "inputs = keras.Input((8,))\nx = base(inputs)\nbase.trainable = False\n"
    assert codes_found(source, "BNF302") == []


def test_frozen_at_module_level_but_called_in_a_function_is_left_alone():
    # Inside the function `base` is a parameter: not known to be the frozen model.
    source = HEADER + "base.trainable = False\n\ndef head(base):\n    inputs = keras.Input((8,))\n    return base(inputs)\n"
    assert codes_found(source, "BNF302") == []


@pytest.mark.parametrize("comment", ["# bnfix: ignore[BNF302]", "# noqa: BNF302"])
def test_bnf302_suppression(comment):
    source = textwrap.dedent(TRANSFER).replace("x = base(x)", f"x = base(x)  {comment}")
    assert codes_found(source) == []
    assert codes_found(source.replace(comment, ""), ignore=("BNF302",)) == []
