"""BNF101 golden before/after cases in every shape Keras code takes, under each policy, and what never changes."""

from __future__ import annotations

import textwrap

import pytest

from bnfix.engine import check_source
from tests.helpers import assert_fix, codes_found, settings_for

HEADER = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"


# ------------------------------------------------------------------------------------------ Sequential lists

SEQUENTIAL_PRE = HEADER + """\
model = keras.Sequential([
    layers.Dense(64, input_shape=(10,)),
    layers.BatchNormalization(),  # normalise the pre-activations
    layers.Activation("relu"),
    layers.Dense(1),
])
"""
SEQUENTIAL_POST = HEADER + """\
model = keras.Sequential([
    layers.Dense(64, input_shape=(10,)),
    layers.Activation("relu"),
    layers.BatchNormalization(),  # normalise the pre-activations
    layers.Dense(1),
])
"""


def test_sequential_list_moves_bn_after_activation_under_post():
    assert_fix(SEQUENTIAL_PRE, SEQUENTIAL_POST, "BNF101")


def test_sequential_list_moves_bn_before_activation_under_pre():
    assert_fix(SEQUENTIAL_POST, SEQUENTIAL_PRE, "BNF101", policy="pre")


def test_keep_policy_changes_nothing():
    assert codes_found(SEQUENTIAL_PRE, "BNF101", policy="keep") == []
    assert codes_found(SEQUENTIAL_POST, "BNF101", policy="keep") == []


def test_seed_example_one_under_pre_splits_every_block():
    before = """\
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras.layers import Dense, BatchNormalization, Activation

        model = keras.Sequential([
            Dense(64, input_shape=(10,)),
            Activation('relu'),
            BatchNormalization(), # Correct placement: after activation
            Dense(128),
            Activation('relu'),
            BatchNormalization(),
            Dense(1)
        ])
        """
    after = """\
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras.layers import Dense, BatchNormalization, Activation

        model = keras.Sequential([
            Dense(64, input_shape=(10,)),
            BatchNormalization(), # Correct placement: after activation
            Activation('relu'),
            Dense(128),
            BatchNormalization(),
            Activation('relu'),
            Dense(1)
        ])
        """
    assert_fix(before, after, "BNF101", policy="pre")
    assert codes_found(before, "BNF101") == []  # already `post`


def test_fused_activation_split_under_pre_in_a_list():
    before = HEADER + 'm = keras.Sequential([\n    layers.Conv2D(8, 3, activation="relu"),\n    layers.BatchNormalization(),\n])\n'
    after = HEADER + 'm = keras.Sequential([\n    layers.Conv2D(8, 3),\n    layers.BatchNormalization(),\n    layers.Activation("relu"),\n])\n'
    assert_fix(before, after, "BNF101", policy="pre")


def test_positional_fused_activation_is_split():
    before = HEADER + 'm = keras.Sequential([layers.Dense(8, "relu"), layers.BatchNormalization()])\n'
    after = HEADER + 'm = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Activation("relu")])\n'
    assert_fix(before, after, "BNF101", policy="pre")


def test_split_adds_the_activation_import_when_missing():
    before = """\
        from keras.models import Sequential
        from keras.layers import Dense, BatchNormalization
        m = Sequential([Dense(8, activation="relu"), BatchNormalization()])
        """
    after = """\
        from keras.models import Sequential
        from keras.layers import Activation, Dense, BatchNormalization
        m = Sequential([Dense(8), BatchNormalization(), Activation("relu")])
        """
    assert_fix(before, after, "BNF101", policy="pre")


# ------------------------------------------------------------------------------------------ model.add runs


def test_model_add_run_under_post_and_pre():
    pre_order = """\
        import keras
        from keras import layers
        model = keras.Sequential()
        model.add(layers.Dense(32))
        # normalise
        model.add(layers.BatchNormalization())  # bn
        model.add(layers.ReLU())
        model.add(layers.Dense(1))
        """
    post_order = """\
        import keras
        from keras import layers
        model = keras.Sequential()
        model.add(layers.Dense(32))
        # normalise
        model.add(layers.ReLU())
        model.add(layers.BatchNormalization())  # bn
        model.add(layers.Dense(1))
        """
    assert_fix(pre_order, post_order, "BNF101")
    assert_fix(post_order, pre_order, "BNF101", policy="pre")


def test_model_add_fused_split_inserts_a_statement():
    before = """\
        import tensorflow as tf
        model = tf.keras.Sequential()
        model.add(tf.keras.layers.Dense(32, activation=tf.nn.relu))
        model.add(tf.keras.layers.BatchNormalization())
        """
    after = """\
        import tensorflow as tf
        model = tf.keras.Sequential()
        model.add(tf.keras.layers.Dense(32))
        model.add(tf.keras.layers.BatchNormalization())
        model.add(tf.keras.layers.Activation(tf.nn.relu))
        """
    assert_fix(before, after, "BNF101", policy="pre")


def test_different_receivers_are_different_chains():
    source = HEADER + "a.add(layers.Dense(4))\nb.add(layers.BatchNormalization())\na.add(layers.ReLU())\n"
    assert codes_found(source, "BNF101") == []


# ------------------------------------------------------------------------------------------ functional chains


def test_functional_statements_with_aliases():
    before = """\
        from tensorflow.keras import layers as L
        inputs = L.Input((10,))
        x = L.Dense(64)(inputs)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        outputs = L.Dense(1)(x)
        """
    after = """\
        from tensorflow.keras import layers as L
        inputs = L.Input((10,))
        x = L.Dense(64)(inputs)
        x = L.Activation("relu")(x)
        x = L.BatchNormalization()(x)
        outputs = L.Dense(1)(x)
        """
    assert_fix(before, after, "BNF101")
    assert_fix(after, before, "BNF101", policy="pre")


def test_functional_distinct_names_swap_the_layers_not_the_names():
    before = HEADER + "h = layers.Dense(8)(x)\nn = layers.BatchNormalization()(h)\na = layers.ELU()(n)\nout = layers.Dense(1)(a)\n"
    after = HEADER + "h = layers.Dense(8)(x)\nn = layers.ELU()(h)\na = layers.BatchNormalization()(n)\nout = layers.Dense(1)(a)\n"
    assert_fix(before, after, "BNF101")


def test_nested_calls():
    before = 'from keras.layers import Activation, BatchNormalization, Dense\ny = Activation("relu")(BatchNormalization()(Dense(4)(x)))\n'
    after = 'from keras.layers import Activation, BatchNormalization, Dense\ny = BatchNormalization()(Activation("relu")(Dense(4)(x)))\n'
    assert_fix(before, after, "BNF101")
    assert_fix(after, before, "BNF101", policy="pre")


@pytest.mark.parametrize(
    "activation",
    ["tf.nn.relu", "tf.keras.activations.relu", "keras.activations.relu", "keras.ops.relu"],
)
def test_activation_functions_in_functional_chains(activation):
    header = "import keras\nimport tensorflow as tf\n"
    before = header + f"x = keras.layers.Conv2D(8, 3)(x)\nx = keras.layers.BatchNormalization()(x)\nx = {activation}(x)\n"
    after = header + f"x = keras.layers.Conv2D(8, 3)(x)\nx = {activation}(x)\nx = keras.layers.BatchNormalization()(x)\n"
    assert_fix(before, after, "BNF101")


def test_functional_fused_split_inserts_an_activation_statement():
    before = HEADER + 'def block(x):\n    x = layers.Dense(8, activation="gelu")(x)\n    x = layers.BatchNormalization()(x)\n    return x\n'
    after = HEADER + (
        'def block(x):\n    x = layers.Dense(8)(x)\n    x = layers.BatchNormalization()(x)\n'
        '    x = layers.Activation("gelu")(x)\n    return x\n'
    )
    assert_fix(before, after, "BNF101", policy="pre")


def test_fused_activation_read_by_another_layer_is_reported_not_split():
    # Real code (a model zoo's auxiliary head): the activated value feeds BN *and* the trunk. Splitting the
    # activation out would hand the trunk a linear input, a change nobody asked for.
    before = HEADER + (
        "inputs = keras.Input((8,))\n"
        'x = layers.Dense(128, activation="relu")(inputs)\n'
        "aux = layers.BatchNormalization()(x)\n"
        'x = layers.Dense(128, activation="relu")(x)\n'
    )
    assert_fix(before, before, "BNF101", policy="pre")
    assert codes_found(before, "BNF101", policy="pre") == ["BNF101"]


def test_resnet_block_moves_only_the_plain_pair():
    before = HEADER + """\
def residual_block(x, filters):
    shortcut = x
    x = layers.Conv2D(filters, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(filters, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.add([x, shortcut])
    x = layers.Activation("relu")(x)
    return x
"""
    after = before.replace(
        '    x = layers.BatchNormalization()(x)\n    x = layers.Activation("relu")(x)\n    x = layers.Conv2D',
        '    x = layers.Activation("relu")(x)\n    x = layers.BatchNormalization()(x)\n    x = layers.Conv2D',
    )
    assert after != before
    assert_fix(before, after, "BNF101")


def test_intermediate_used_elsewhere_is_never_swapped():
    source = HEADER + "h = layers.Dense(8)(x)\nn = layers.BatchNormalization()(h)\na = layers.ReLU()(n)\nout = layers.add([a, n])\n"
    assert_fix(source, source, "BNF101")


def test_layers_in_different_branches_are_not_a_chain():
    source = HEADER + """\
x = layers.Dense(8)(x)
if use_bn:
    x = layers.BatchNormalization()(x)
x = layers.ReLU()(x)
for _ in range(2):
    x = layers.Dense(8)(x)
x = layers.BatchNormalization()(x)
x = layers.ReLU()(x)
"""
    assert codes_found(source, "BNF101") == []


def test_unrelated_statement_breaks_the_chain():
    source = HEADER + 'x = layers.Dense(8)(x)\nprint("shape", x.shape)\nx = layers.BatchNormalization()(x)\nx = layers.ReLU()(x)\n'
    assert codes_found(source, "BNF101") == []


# ------------------------------------------------------------------------------------------ subclassed models

SUBCLASS = """\
import keras
from keras import layers


class Block(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(32)
        self.bn = layers.BatchNormalization()
        self.act = layers.Activation("relu")
        self.out = layers.Dense(1)

    def call(self, x, training=False):
        x = self.dense(x)
        {first}
        {second}
        return self.out(x)
"""


def test_subclassed_model_call_body_is_reordered():
    bn, act = "x = self.bn(x, training=training)", "x = self.act(x)"
    before = SUBCLASS.format(first=bn, second=act)
    after = SUBCLASS.format(first=act, second=bn)
    assert_fix(before, after, "BNF101")
    assert_fix(after, before, "BNF101", policy="pre")


def test_subclassed_model_nested_call_with_activation_function():
    before = SUBCLASS.format(first="x = keras.activations.relu(self.bn(x))", second="pass")
    after = SUBCLASS.format(first="x = self.bn(keras.activations.relu(x))", second="pass")
    assert_fix(before, after, "BNF101")


def test_subclassed_fused_activation_is_reported_without_a_fix():
    source = SUBCLASS.replace('layers.Dense(32)', 'layers.Dense(32, activation="relu")').format(
        first="x = self.bn(x)", second="pass"
    )
    assert codes_found(source, "BNF101", policy="pre") == ["BNF101"]
    assert_fix(source, source, "BNF101", policy="pre")


# ------------------------------------------------------------------------------------------ never change


@pytest.mark.parametrize(
    "layers_list",
    [
        'layers.GRU(8), layers.BatchNormalization(), layers.Activation("tanh")',
        'layers.ConvLSTM2D(4, 3), layers.BatchNormalization(), layers.Activation("relu")',
        'layers.Dense(8), layers.BatchNormalization(), layers.MaxPooling1D(), layers.Activation("relu")',
        'layers.BatchNormalization(), layers.Activation("relu")',
        "layers.Dense(8), layers.BatchNormalization(), layers.Activation(act)",
        'layers.Dense(8), layers.BatchNormalization(), layers.Activation("linear")',
    ],
)
def test_never_changed_under_either_policy(layers_list):
    source = HEADER + f"act = pick()\nm = keras.Sequential([{layers_list}])\n"
    for policy in ("post", "pre"):
        assert codes_found(source, "BNF101", policy=policy) == []


@pytest.mark.parametrize("fused", ['"linear"', "None", "act_fn"])
def test_fused_linear_none_or_variable_is_never_split(fused):
    source = HEADER + f"def f(act_fn):\n    return keras.Sequential([layers.Dense(8, activation={fused}), layers.BatchNormalization()])\n"
    assert codes_found(source, "BNF101", policy="pre") == []


def test_local_class_named_like_keras_layers_is_not_keras():
    source = """\
        class BatchNormalization:
            def __call__(self, x):
                return x

        class Dense(BatchNormalization):
            pass

        class Activation(BatchNormalization):
            def __init__(self, name):
                pass

        x = Dense()(x)
        x = BatchNormalization()(x)
        x = Activation("relu")(x)
        """
    assert codes_found(source) == []


def test_strings_docstrings_and_comments_are_not_code():
    source = HEADER + '''\
def f():
    """x = layers.Dense(8)(x); x = layers.BatchNormalization()(x); x = layers.ReLU()(x)"""
    code = "keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])"
    # keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])
    return code
'''
    assert codes_found(source) == []


def test_star_import_resolves_keras_names():
    before = "from keras.layers import *\nm = keras_seq([Dense(4), BatchNormalization(), ReLU()])\nx = Dense(4)(x)\nx = BatchNormalization()(x)\nx = ReLU()(x)\n"
    after = "from keras.layers import *\nm = keras_seq([Dense(4), BatchNormalization(), ReLU()])\nx = Dense(4)(x)\nx = ReLU()(x)\nx = BatchNormalization()(x)\n"
    assert_fix(before, after, "BNF101")


def test_several_violations_in_one_chain_are_all_fixed():
    block = "    layers.Dense(8),\n    layers.BatchNormalization(),\n    layers.ReLU(),\n"
    swapped = "    layers.Dense(8),\n    layers.ReLU(),\n    layers.BatchNormalization(),\n"
    before = HEADER + "m = keras.Sequential([\n" + block * 5 + "    layers.Dense(1),\n])\n"
    after = HEADER + "m = keras.Sequential([\n" + swapped * 5 + "    layers.Dense(1),\n])\n"
    assert len(codes_found(before, "BNF101")) == 5
    assert_fix(before, after, "BNF101")


# ------------------------------------------------------------------------------------------ the bias follows BN

# (layer without its bias, the same layer with it): under `post` BN stops following the layer, so the bias returns.
BIAS_LAYERS = [
    ("layers.Dense(64, use_bias=False)", "layers.Dense(64)"),
    ("layers.Conv2D(32, 3, use_bias=False)", "layers.Conv2D(32, 3)"),
    ("layers.SeparableConv2D(32, (3, 3), padding='same', use_bias=False)", "layers.SeparableConv2D(32, (3, 3), padding='same')"),
]
BIAS_SHAPES = {
    "sequential": "model = keras.Sequential([\n    {layer},\n    {first},\n    {second},\n])\n",
    "add": "model = keras.Sequential()\nmodel.add({layer})\nmodel.add({first})\nmodel.add({second})\n",
    "functional": "x = {layer}(inputs)\nx = {first}(x)\nx = {second}(x)\n",
}
BN, RELU = "layers.BatchNormalization()", 'layers.Activation("relu")'


def _shape(shape: str, layer: str, first: str, second: str) -> str:
    return HEADER + BIAS_SHAPES[shape].format(layer=layer, first=first, second=second)


@pytest.mark.parametrize("shape", BIAS_SHAPES)
@pytest.mark.parametrize(("without_bias", "with_bias"), BIAS_LAYERS)
def test_under_post_moving_bn_after_the_activation_restores_the_bias(shape, without_bias, with_bias):
    before = _shape(shape, without_bias, BN, RELU)
    after = _shape(shape, with_bias, RELU, BN)
    assert_fix(before, after, "BNF101")
    (found,) = check_source(before, settings_for("BNF101")).diagnostics
    assert found.fix_description.endswith("and restore " + with_bias.split("(")[0].split(".")[1] + "'s bias, which BN no longer follows")


@pytest.mark.parametrize("shape", BIAS_SHAPES)
@pytest.mark.parametrize(("without_bias", "with_bias"), BIAS_LAYERS)
def test_under_pre_the_bias_is_left_as_it_is(shape, without_bias, with_bias):
    # BN now follows the layer and cancels its bias: dropping one is BNF103's (unsafe) business, not BNF101's.
    assert_fix(_shape(shape, without_bias, RELU, BN), _shape(shape, without_bias, BN, RELU), "BNF101", policy="pre")
    assert_fix(_shape(shape, with_bias, RELU, BN), _shape(shape, with_bias, BN, RELU), "BNF101", policy="pre")


def test_a_bias_removed_in_a_call_spread_over_lines_takes_its_line_with_it():
    before = HEADER + """\
model = keras.Sequential([
    layers.Conv2D(
        32,
        3,
        use_bias=False,
    ),
    layers.BatchNormalization(),
    layers.ReLU(),
])
"""
    after = HEADER + """\
model = keras.Sequential([
    layers.Conv2D(
        32,
        3,
    ),
    layers.ReLU(),
    layers.BatchNormalization(),
])
"""
    assert_fix(before, after, "BNF101")


def test_nested_calls_restore_the_bias_inside_the_moved_expression():
    before = HEADER + "y = layers.ReLU()(layers.BatchNormalization()(layers.Dense(8, use_bias=False)(x)))\n"
    after = HEADER + "y = layers.BatchNormalization()(layers.ReLU()(layers.Dense(8)(x)))\n"
    assert_fix(before, after, "BNF101")


def test_a_subclassed_model_restores_the_bias_in_init():
    before = HEADER + textwrap.dedent(
        """\
        class Block(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.conv = layers.Conv2D(8, 3, use_bias=False)
                self.bn = layers.BatchNormalization()

            def call(self, x):
                return tf.nn.relu(self.bn(self.conv(x)))
        """
    )
    after = before.replace("layers.Conv2D(8, 3, use_bias=False)", "layers.Conv2D(8, 3)").replace(
        "tf.nn.relu(self.bn(self.conv(x)))", "self.bn(tf.nn.relu(self.conv(x)))"
    )
    assert_fix("import tensorflow as tf\n" + before, "import tensorflow as tf\n" + after, "BNF101")


@pytest.mark.parametrize("bias", ["use_bias=use_bias", "use_bias=not batch_norm"])
def test_a_bias_given_by_an_expression_is_reported_without_a_fix(bias):
    source = HEADER + f"def build(use_bias, batch_norm):\n    return keras.Sequential([layers.Dense(8, {bias}), {BN}, {RELU}])\n"
    (found,) = check_source(source, settings_for("BNF101")).diagnostics
    assert found.fix_safety is None
    assert_fix(source, source, "BNF101")


def test_an_explicit_bias_stays():
    before = HEADER + f"m = keras.Sequential([layers.Dense(8, use_bias=True), {BN}, {RELU}])\n"
    assert_fix(before, before.replace(f"{BN}, {RELU}", f"{RELU}, {BN}"), "BNF101")
