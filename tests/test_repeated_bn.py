"""BNF104 golden cases: BatchNormalization twice in a row, in every chain shape, removed (with --unsafe-fixes)
without disturbing the layout around it."""

from __future__ import annotations

import textwrap

from tests.helpers import assert_fix, codes_found, messages

HEADER = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"


def script(body: str) -> str:
    return HEADER + textwrap.dedent(body)


def test_message_says_what_the_second_layer_does():
    source = script("m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.BatchNormalization()])\n")
    assert messages(source, "BNF104") == [
        "BatchNormalization directly after BatchNormalization normalises values that are already normalised; it "
        "only replaces the first one's gamma and beta; remove the second"
    ]


def test_without_unsafe_fixes_nothing_changes():
    source = script("x = layers.BatchNormalization()(x)\nx = layers.BatchNormalization()(x)\n")
    assert_fix(source, source, "BNF104")


def test_multiline_list_with_trailing_comma_loses_one_line():
    assert_fix(
        script("""\
        model = keras.Sequential([
            layers.Conv2D(32, 3),
            layers.BatchNormalization(),  # normalise
            layers.BatchNormalization(),  # and again
            layers.ReLU(),
        ])
        """),
        script("""\
        model = keras.Sequential([
            layers.Conv2D(32, 3),
            layers.BatchNormalization(),  # normalise
            layers.ReLU(),
        ])
        """),
        "BNF104",
        unsafe_fixes=True,
    )


def test_last_element_without_trailing_comma():
    assert_fix(
        script("""\
        model = keras.Sequential([
            layers.Dense(16),
            layers.BatchNormalization(),
            layers.BatchNormalization()
        ])
        """),
        script("""\
        model = keras.Sequential([
            layers.Dense(16),
            layers.BatchNormalization()
        ])
        """),
        "BNF104",
        unsafe_fixes=True,
    )


def test_add_run_keeps_the_comment_above_the_removed_statement():
    assert_fix(
        script("""\
        model = keras.Sequential()
        model.add(layers.Dense(16))
        model.add(layers.BatchNormalization())
        # block 2
        model.add(layers.BatchNormalization())
        model.add(layers.Dense(1))
        """),
        script("""\
        model = keras.Sequential()
        model.add(layers.Dense(16))
        model.add(layers.BatchNormalization())
        # block 2
        model.add(layers.Dense(1))
        """),
        "BNF104",
        unsafe_fixes=True,
    )


def test_nested_calls_and_return_statements():
    assert_fix(
        script("""\
        def block(x):
            y = layers.BatchNormalization()(layers.BatchNormalization()(layers.Dense(8)(x)))
            return y


        def head(x):
            x = layers.BatchNormalization()(x)
            return layers.BatchNormalization()(x)
        """),
        script("""\
        def block(x):
            y = layers.BatchNormalization()(layers.Dense(8)(x))
            return y


        def head(x):
            x = layers.BatchNormalization()(x)
            return x
        """),
        "BNF104",
        unsafe_fixes=True,
    )


def test_subclassed_model_call_body():
    assert_fix(
        script("""\
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = layers.Dense(8)
                self.bn1 = layers.BatchNormalization()
                self.bn2 = layers.BatchNormalization()

            def call(self, x):
                x = self.dense(x)
                x = self.bn1(x)
                x = self.bn2(x)
                return x
        """),
        script("""\
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = layers.Dense(8)
                self.bn1 = layers.BatchNormalization()
                self.bn2 = layers.BatchNormalization()

            def call(self, x):
                x = self.dense(x)
                x = self.bn1(x)
                return x
        """),
        "BNF104",
        unsafe_fixes=True,
    )


def test_a_renamed_intermediate_is_reported_without_a_fix():
    """`y = BN()(x)` cannot go without rewriting it as `y = x`: report only."""
    source = script("x = layers.BatchNormalization()(x)\ny = layers.BatchNormalization()(x)\nz = layers.Dense(1)(y)\n")
    assert codes_found(source, "BNF104") == ["BNF104"]
    assert_fix(source, source, "BNF104", unsafe_fixes=True)


def test_second_layer_with_its_own_configuration_is_reported_with_it():
    source = script("m = keras.Sequential([layers.BatchNormalization(), layers.BatchNormalization(momentum=0.9, name='bn2')])\n")
    assert messages(source, "BNF104") == [
        "BatchNormalization directly after BatchNormalization normalises values that are already normalised; it "
        "only replaces the first one's gamma and beta; the second sets momentum=0.9: keep one BatchNormalization"
    ]


def test_a_name_alone_does_not_block_the_fix():
    assert_fix(
        script("m = keras.Sequential([layers.BatchNormalization(momentum=0.9), layers.BatchNormalization(name='bn2')])\n"),
        script("m = keras.Sequential([layers.BatchNormalization(momentum=0.9)])\n"),
        "BNF104",
        unsafe_fixes=True,
    )


def test_three_in_a_row_become_one():
    assert_fix(
        script("m = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.BatchNormalization(), layers.BatchNormalization()])\n"),
        script("m = keras.Sequential([layers.Dense(4), layers.BatchNormalization()])\n"),
        "BNF104",
        unsafe_fixes=True,
    )


def test_axes_are_compared_with_the_default_as_minus_one_and_counted_from_the_end_where_keras_fixes_the_rank():
    """`axis=-1` is the default axis. `axis=3` is the same only for 4-D inputs: a Conv2D's output in Keras 3, which
    refuses more axes (found on ssd_keras), not in tf.keras 2, which took `batch_shape + (rows, cols, channels)`."""
    source = script("m = keras.Sequential([layers.Conv2D(8, 3), layers.BatchNormalization(axis=3), layers.BatchNormalization()])\n")
    assert codes_found(source, "BNF104", keras_version="3.15") == ["BNF104"]
    assert codes_found(source, "BNF104", keras_version="2.15") == []
    other = script("m = keras.Sequential([layers.Conv2D(8, 3), layers.BatchNormalization(axis=2), layers.BatchNormalization()])\n")
    assert codes_found(other, "BNF104", keras_version="3.15") == []
    dense = script("m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(axis=1), layers.BatchNormalization()])\n")
    assert codes_found(dense, "BNF104", keras_version="3.15") == []  # a Dense output's rank is its input's
    same = script("m = keras.Sequential([layers.Conv2D(8, 3), layers.BatchNormalization(axis=-1), layers.BatchNormalization()])\n")
    assert codes_found(same, "BNF104") == ["BNF104"]
