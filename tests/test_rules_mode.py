"""BNF301 (inference in training mode) and BNF302 (frozen base without training=False): fixes and look-alikes."""

from __future__ import annotations

import ast
import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

from bnfix.analysis.pretrained_bases import APPLICATION_FAMILIES
from bnfix.engine import check_source
from bnfix.fixes.safety import FixSafety
from tests.helpers import assert_fix, codes_found, messages, settings_for

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
        def build():
            base = keras.applications.DenseNet121(include_top=False)
            base.trainable = False
            inputs = keras.Input((224, 224, 3))
            return keras.Model(inputs, base(inputs))
        """
    )
    assert_fix(before, before.replace("base(inputs))", "base(inputs, training=False))"), "BNF302")


def test_a_base_given_as_a_parameter_is_not_known_to_be_pretrained():
    source = HEADER + "def build(base):\n    base.trainable = False\n    inputs = keras.Input((8,))\n    return keras.Model(inputs, base(inputs))\n"
    assert codes_found(source, "BNF302") == []


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


# ------------------------------------------------------------------------------------------ BNF302: its premise

FROZEN_CALL = "base.trainable = False\ninputs = keras.Input((224, 224, 3))\nx = base(inputs)\n"


@pytest.mark.parametrize("family", ["VGG16", "VGG19", "ConvNeXtTiny"])
def test_application_families_without_batch_normalization_are_never_reported(family):
    source = HEADER + f"base = keras.applications.{family}(include_top=False)\n" + FROZEN_CALL
    assert codes_found(source, "BNF302") == []


@pytest.mark.parametrize("family", ["ResNet50", "tf.keras.applications.resnet50.ResNet50", "MobileNetV2", "Xception"])
def test_application_families_with_batch_normalization_say_so(family):
    constructor = family if "." in family else f"keras.applications.{family}"
    source = HEADER + f"base = {constructor}(include_top=False)\n" + FROZEN_CALL
    (message,) = messages(source, "BNF302")
    name = family.rsplit(".", 1)[-1]
    assert message == (
        f"base is frozen (line 6) but called without training=False, and it is keras.applications.{name} with "
        "pretrained weights: after unfreezing, its BatchNormalization layers switch to batch statistics and "
        "overwrite the pre-trained ones"
    )
    assert_fix(source, source.replace("base(inputs)", "base(inputs, training=False)"), "BNF302")


def test_weights_none_has_no_pretrained_statistics_unless_they_are_loaded():
    random_init = HEADER + "base = keras.applications.ResNet50(weights=None)\n" + FROZEN_CALL
    assert codes_found(random_init, "BNF302") == []
    loaded = random_init.replace("base.trainable", "base.load_weights('resnet.weights.h5')\nbase.trainable")
    assert codes_found(loaded, "BNF302") == ["BNF302"]


@pytest.mark.parametrize(
    ("constructor", "dropout"),
    [
        ("keras.applications.EfficientNetB0(include_top=False)", "its Dropout layers"),  # stochastic depth
        ("keras.applications.MobileNet()", "its Dropout layers"),  # the classifier head
        ("keras.models.load_model('base.keras')", "any Dropout layers it has"),  # layers not shown
    ],
)
def test_a_base_that_may_contain_dropout_gets_an_unsafe_fix_that_says_so(constructor, dropout):
    source = HEADER + f"base = {constructor}\n" + FROZEN_CALL
    (found,) = check_source(source, settings_for("BNF302")).diagnostics
    assert found.message.endswith(f"; training=False also switches off {dropout}")
    assert found.fix_safety is FixSafety.UNSAFE and dropout in found.fix_description
    assert_fix(source, source, "BNF302")
    assert_fix(source, source.replace("base(inputs)", "base(inputs, training=False)"), "BNF302", unsafe_fixes=True)


def test_mobilenet_without_its_head_has_no_dropout():
    source = HEADER + "base = keras.applications.MobileNet(include_top=False)\n" + FROZEN_CALL
    assert_fix(source, source.replace("base(inputs)", "base(inputs, training=False)"), "BNF302")


def test_a_loaded_model_is_not_said_to_have_batch_normalization():
    source = HEADER + "base = keras.saving.load_model('base.keras')\n" + FROZEN_CALL
    (message,) = messages(source, "BNF302")
    assert "it was loaded from a file (line 5)" in message
    assert "any BatchNormalization layers it has" in message and "its BatchNormalization" not in message


BUILT_BASE = "base = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(8)])\n"


def test_a_built_model_whose_weights_are_loaded_is_pretrained():
    source = HEADER + BUILT_BASE + "base.load_weights('base.weights.h5')\n" + FROZEN_CALL
    (message,) = messages(source, "BNF302")
    assert "it had pretrained weights loaded (line 6)" in message and "its BatchNormalization layers" in message
    assert_fix(source, source.replace("base(inputs)", "base(inputs, training=False)"), "BNF302")


def test_a_built_model_with_dropout_whose_weights_are_loaded_gets_an_unsafe_fix():
    source = HEADER + BUILT_BASE.replace("layers.Dense(8)])", "layers.Dropout(0.5)])") + "base.load_weights('w.h5')\n" + FROZEN_CALL
    (found,) = check_source(source, settings_for("BNF302")).diagnostics
    assert found.fix_safety is FixSafety.UNSAFE and found.message.endswith("switches off its Dropout layers")


def test_a_model_without_batch_normalization_is_never_reported_even_when_pretrained():
    source = HEADER + BUILT_BASE.replace("layers.BatchNormalization()", "layers.ReLU()") + "base.load_weights('w.h5')\n" + FROZEN_CALL
    assert codes_found(source, "BNF302") == []


def test_a_base_trained_before_the_freeze_is_pretrained():
    source = HEADER + BUILT_BASE + "pretraining = keras.Sequential([base, layers.Dense(1)])\npretraining.fit(x, y)\n" + FROZEN_CALL
    (message,) = messages(source, "BNF302")
    assert "it was trained (line 7) before the freeze" in message


def test_a_gan_discriminator_frozen_for_the_combined_model_is_not_reported():
    source = HEADER + textwrap.dedent(
        """\
        discriminator = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(1)])
        discriminator.compile(optimizer="adam", loss="binary_crossentropy")
        generator = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(8)])
        discriminator.trainable = False
        z = keras.Input(shape=(4,))
        combined = keras.Model(z, discriminator(generator(z)))
        combined.compile(optimizer="adam", loss="binary_crossentropy")
        for step in range(100):
            discriminator.train_on_batch(x, y)
            combined.train_on_batch(noise, y)
        """
    )
    assert codes_found(source, "BNF302") == []


def test_a_frozen_base_kept_on_self_is_found_through_its_assignment():
    source = HEADER + textwrap.dedent(
        """\
        class Classifier:
            def __init__(self):
                self.base = keras.applications.InceptionV3(include_top=False)

            def build(self):
                self.base.trainable = False
                inputs = keras.Input((299, 299, 3))
                return keras.Model(inputs, self.base(inputs))
        """
    )
    assert_fix(source, source.replace("self.base(inputs))", "self.base(inputs, training=False))"), "BNF302")


def _installed_keras_applications() -> Path:
    spec = importlib.util.find_spec("keras")
    if spec is None or spec.origin is None:
        pytest.skip("keras is not installed")
    return Path(spec.origin).parent


def _dropout_placement(tree: ast.Module) -> str:
    """"none", "top" (every Dropout under `if include_top`) or "blocks", read from an application's source."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    placements = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Dropout":
            ancestor, in_head = node, False
            while ancestor in parents:
                ancestor = parents[ancestor]
                if isinstance(ancestor, ast.If) and "include_top" in ast.unparse(ancestor.test):
                    in_head = True
            placements.add("top" if in_head else "blocks")
    return "blocks" if "blocks" in placements else "top" if placements else "none"


def test_application_families_table_matches_the_installed_keras_sources():
    """Each family's BN and Dropout, as the rule's table says, read from keras/src/applications (never imported)."""
    keras_dir = _installed_keras_applications()
    exported = re.findall(
        r"from keras\.src\.applications\.(\w+) import \(?\s*(\w+) as \2", (keras_dir / "applications" / "__init__.py").read_text()
    )
    families = {name: module for module, name in exported}
    assert set(families) == set(APPLICATION_FAMILIES)
    for name, module in families.items():
        source = (keras_dir / "src" / "applications" / f"{module}.py").read_text()
        # resnet_v2 builds its networks with resnet.ResNet: read the module it builds with too.
        helpers = re.findall(r"^from keras\.src\.applications import (\w+)$", source, re.MULTILINE)
        built_with = [source] + [(keras_dir / "src" / "applications" / f"{h}.py").read_text() for h in helpers if h != "imagenet_utils"]
        has_bn = any("layers.BatchNormalization(" in text for text in built_with)
        assert APPLICATION_FAMILIES[name].has_bn == has_bn, name
        assert APPLICATION_FAMILIES[name].dropout == _dropout_placement(ast.parse(source)), name
