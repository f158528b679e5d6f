"""BNF102 (Dropout then BN) and BNF103 (bias cancelled by BN) in every chain shape, and what they leave alone."""

from __future__ import annotations

import textwrap

import pytest

from bnfix.engine import check_source
from tests.helpers import assert_fix, codes_found, settings_for

HEADER = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"


def messages(source: str, select: str, **options) -> list[str]:
    result = check_source(textwrap.dedent(source), settings_for(select, **options))
    return [d.message for d in result.diagnostics]


def sequential(*layer_list: str) -> str:
    return HEADER + "m = keras.Sequential([" + ", ".join(layer_list) + "])\n"


# ------------------------------------------------------------------------------------------ BNF102


def test_dropout_then_bn_in_a_sequential_list_keeps_comments_with_their_layers():
    before = """\
        from tensorflow import keras
        from tensorflow.keras import layers
        model = keras.Sequential([
            layers.Dense(64),
            layers.Activation("relu"),
            layers.Dropout(0.5),  # regularise
            layers.BatchNormalization(),
            layers.Dense(1),
        ])
        """
    after = """\
        from tensorflow import keras
        from tensorflow.keras import layers
        model = keras.Sequential([
            layers.Dense(64),
            layers.Activation("relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.5),  # regularise
            layers.Dense(1),
        ])
        """
    (message,) = messages(before, "BNF102")
    assert "Dropout(0.5)" in message and "2x" in message and "variance shift" in message
    assert_fix(before, after, "BNF102")


def test_model_add_run():
    before = """\
        import keras
        model = keras.Sequential()
        model.add(keras.layers.Dense(32))
        model.add(keras.layers.SpatialDropout1D(0.2))
        model.add(keras.layers.BatchNormalization())
        """
    after = """\
        import keras
        model = keras.Sequential()
        model.add(keras.layers.Dense(32))
        model.add(keras.layers.BatchNormalization())
        model.add(keras.layers.SpatialDropout1D(0.2))
        """
    (message,) = messages(before, "BNF102")
    assert "SpatialDropout1D(0.2)" in message and "1.25x" in message
    assert_fix(before, after, "BNF102")


def test_functional_statements_and_nested_calls():
    before = HEADER + "x = layers.Dropout(rate=0.3)(x)\nx = layers.BatchNormalization()(x)\ny = layers.BatchNormalization()(layers.GaussianDropout(0.1)(h))\n"
    after = HEADER + "x = layers.BatchNormalization()(x)\nx = layers.Dropout(rate=0.3)(x)\ny = layers.GaussianDropout(0.1)(layers.BatchNormalization()(h))\n"
    assert codes_found(before, "BNF102") == ["BNF102", "BNF102"]
    assert_fix(before, after, "BNF102")


def test_subclassed_model_call_body():
    template = """\
        import keras
        from keras import layers

        class Head(keras.Model):
            def __init__(self):
                super().__init__()
                self.drop = layers.Dropout(0.4)
                self.norm = layers.BatchNormalization()

            def call(self, x, training=False):
                {first}
                {second}
                return x
        """
    drop, norm = "x = self.drop(x, training=training)", "x = self.norm(x, training=training)"
    assert_fix(template.format(first=drop, second=norm), template.format(first=norm, second=drop), "BNF102")


def test_intermediate_used_elsewhere_is_reported_without_a_fix():
    source = HEADER + "d = layers.Dropout(0.5)(x)\nn = layers.BatchNormalization()(d)\nskip = layers.add([d, n])\n"
    assert codes_found(source, "BNF102") == ["BNF102"]
    assert_fix(source, source, "BNF102")


@pytest.mark.parametrize(
    "source",
    [
        sequential("layers.Dense(8)", "layers.BatchNormalization()", "layers.Dropout(0.5)"),
        sequential("layers.Dropout(0.5)", "layers.Dense(8)", "layers.BatchNormalization()"),
        # AlphaDropout keeps its input's mean and variance by design.
        sequential("layers.Dense(8)", "layers.AlphaDropout(0.1)", "layers.BatchNormalization()"),
        # Different branches are not a chain.
        HEADER + "x = layers.Dropout(0.5)(x)\nif use_bn:\n    x = layers.BatchNormalization()(x)\n",
        # Local look-alikes.
        "from keras.layers import BatchNormalization\n\nclass Dropout:\n    pass\n\nm = keras_seq([Dropout(), BatchNormalization()])\n",
    ],
)
def test_dropout_look_alikes(source):
    assert codes_found(source, "BNF102") == []


def test_dropout_rate_by_a_variable_still_reported_without_a_number():
    source = sequential("layers.Dropout(rate)", "layers.BatchNormalization()")
    (message,) = messages(source, "BNF102")
    assert "after Dropout learns" in message


def test_bnf102_suppression_and_select():
    source = HEADER + "m = keras.Sequential([\n    layers.Dropout(0.5),\n    layers.BatchNormalization(),  # noqa: BNF102\n])\n"
    assert codes_found(source) == []
    unsuppressed = source.replace("  # noqa: BNF102", "")
    assert codes_found(unsuppressed, ignore=("BNF102",)) == []
    assert codes_found(unsuppressed, "BNF1") == ["BNF102"]


# ------------------------------------------------------------------------------------------ BNF103


def test_redundant_bias_is_an_unsafe_fix():
    before = sequential("layers.Dense(64)", "layers.BatchNormalization()", "layers.Dense(1)")
    after = sequential("layers.Dense(64, use_bias=False)", "layers.BatchNormalization()", "layers.Dense(1)")
    (message,) = messages(before, "BNF103")
    assert message.startswith("Dense(64) adds a bias") and "64 parameters" in message
    assert_fix(before, before, "BNF103")
    assert_fix(before, after, "BNF103", unsafe_fixes=True)


def test_conv_before_bn_before_relu_under_pre_and_keep():
    before = HEADER + "x = layers.Conv2D(32, 3, padding='same')(x)\nx = layers.BatchNormalization()(x)\nx = layers.ReLU()(x)\n"
    after = before.replace("padding='same')", "padding='same', use_bias=False)")
    for policy in ("pre", "keep"):
        assert_fix(before, after, "BNF103", policy=policy, unsafe_fixes=True)


def test_under_post_a_bn_that_bnf101_moves_is_left_to_bnf101():
    source = sequential("layers.Dense(8)", "layers.BatchNormalization()", 'layers.Activation("relu")')
    assert codes_found(source, "BNF103") == []
    # Both rules together: BN moves after the activation, and the bias stays (it is no longer cancelled).
    assert_fix(
        source,
        sequential("layers.Dense(8)", 'layers.Activation("relu")', "layers.BatchNormalization()"),
        unsafe_fixes=True,
    )


def test_pre_policy_split_then_bias_removal():
    before = sequential('layers.Dense(8, activation="relu")', "layers.BatchNormalization()")
    after = sequential("layers.Dense(8, use_bias=False)", "layers.BatchNormalization()", 'layers.Activation("relu")')
    assert_fix(before, after, policy="pre", unsafe_fixes=True)


def test_model_add_and_subclass_edit_the_constructor():
    before = "import keras\nmodel = keras.Sequential()\nmodel.add(keras.layers.Conv1D(16, 3))  # conv\nmodel.add(keras.layers.BatchNormalization())\n"
    after = before.replace("Conv1D(16, 3)", "Conv1D(16, 3, use_bias=False)")
    assert_fix(before, after, "BNF103", unsafe_fixes=True)
    subclass = textwrap.dedent(
        """\
        import keras

        class Block(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.conv = keras.layers.Conv2D(8, 3)
                self.bn = keras.layers.BatchNormalization()

            def call(self, x):
                return self.bn(self.conv(x))
        """
    )
    assert_fix(subclass, subclass.replace("Conv2D(8, 3)", "Conv2D(8, 3, use_bias=False)"), "BNF103", unsafe_fixes=True)


def test_depthwise_conv_has_no_channel_count_in_the_message():
    source = sequential("layers.DepthwiseConv2D(3)", "layers.BatchNormalization()")
    (message,) = messages(source, "BNF103")
    assert message.startswith("DepthwiseConv2D adds a bias")


@pytest.mark.parametrize(
    "layer",
    ['layers.Dense(8, activation="linear")', "layers.Dense(8, activation=None)", "layers.Dense(8, use_bias=True)"],
)
def test_linear_or_explicit_bias_still_fires(layer):
    assert codes_found(sequential(layer, "layers.BatchNormalization()"), "BNF103") == ["BNF103"]


def test_channels_first_conv_with_bn_on_axis_1():
    source = sequential('layers.Conv2D(8, 3, data_format="channels_first")', "layers.BatchNormalization(axis=1)")
    assert codes_found(source, "BNF103") == ["BNF103"]


@pytest.mark.parametrize(
    "pair",
    [
        ("layers.Dense(8, use_bias=False)", "layers.BatchNormalization()"),
        ('layers.Dense(8, activation="relu")', "layers.BatchNormalization()"),  # the bias acts before the relu
        ("layers.Dense(8, activation=act)", "layers.BatchNormalization()"),
        ("layers.Dense(8)", "layers.BatchNormalization(center=False)"),
        ("layers.Conv2D(8, 3)", "layers.BatchNormalization(axis=1)"),  # not the channel axis
        ('layers.Conv2D(8, 3, data_format="channels_first")', "layers.BatchNormalization()"),
        ("layers.Conv2D(8, 3, data_format=fmt)", "layers.BatchNormalization()"),
        ("layers.Dense(8, None, False)", "layers.BatchNormalization()"),  # use_bias by position
        ("layers.Dense(8, **kwargs)", "layers.BatchNormalization()"),
        ('layers.EinsumDense("ab,bc->ac", output_shape=8)', "layers.BatchNormalization()"),
        ("layers.LSTM(8)", "layers.BatchNormalization()"),
        ("layers.Dense(8)", "layers.Dropout(0.1)", "layers.BatchNormalization()"),
    ],
)
def test_bias_look_alikes(pair):
    source = HEADER + "act, fmt = pick()\n" + "m = keras.Sequential([" + ", ".join(pair) + "])\n"
    assert codes_found(source, "BNF103") == []


def test_bnf103_suppression():
    source = HEADER + "m = keras.Sequential([\n    layers.Dense(8),  # bnfix: ignore[BNF103]\n    layers.BatchNormalization(),\n])\n"
    assert codes_found(source) == []


def test_a_bias_before_bn_over_axis_3_of_a_conv2d_is_cancelled_in_keras_3_only():
    """Keras 3's Conv2D output is 4-D, so `axis=3` is its channel axis; tf.keras 2 also took extra batch axes."""
    source = textwrap.dedent(
        """\
        from tensorflow import keras
        from tensorflow.keras import layers
        x = layers.Conv2D(16, 3)(x)
        x = layers.BatchNormalization(axis=3)(x)
        x = layers.ELU()(x)
        """
    )
    assert codes_found(source, "BNF103", policy="pre", keras_version="3.15") == ["BNF103"]
    assert codes_found(source, "BNF103", policy="pre", keras_version="2.15") == []
    assert codes_found(source.replace("axis=3", "axis=2"), "BNF103", policy="pre", keras_version="3.15") == []
