"""Simple constants for BNF101: `activation = "relu"`, assigned once and never rebound, is the activation `relu`;
a name bound twice (in any way), a parameter, or anything computed stays unknown and the chain is left alone."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers import assert_fix, codes_found, messages

HEADER = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"


def script(body: str) -> str:
    return HEADER + textwrap.dedent(body)


def test_module_constant_is_the_activation_of_an_activation_layer():
    assert_fix(
        script("""\
        ACTIVATION = "relu"

        model = keras.Sequential([
            layers.Dense(64),
            layers.BatchNormalization(),
            layers.Activation(ACTIVATION),
        ])
        """),
        script("""\
        ACTIVATION = "relu"

        model = keras.Sequential([
            layers.Dense(64),
            layers.Activation(ACTIVATION),
            layers.BatchNormalization(),
        ])
        """),
        "BNF101",
    )


def test_module_constant_is_named_by_its_value_in_the_message():
    source = HEADER + 'act = "elu"\nm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])\n'
    assert messages(source, "BNF101") == [
        "BatchNormalization before the 'elu' activation; policy 'post' puts it after (layer -> activation -> BN)"
    ]


def test_function_constant_used_as_fused_activation_is_split_keeping_the_name():
    assert_fix(
        script("""\
        def block(x):
            activation = "relu"
            x = layers.Conv2D(32, 3, activation=activation)(x)
            x = layers.BatchNormalization()(x)
            return x
        """),
        script("""\
        def block(x):
            activation = "relu"
            x = layers.Conv2D(32, 3)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation(activation)(x)
            return x
        """),
        "BNF101",
        policy="pre",
    )


def test_module_constant_read_in_a_function_defined_after_it():
    assert_fix(
        script("""\
        act = "relu"


        def block(x):
            x = layers.Dense(8)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation(act)(x)
            return x
        """),
        script("""\
        act = "relu"


        def block(x):
            x = layers.Dense(8)(x)
            x = layers.Activation(act)(x)
            x = layers.BatchNormalization()(x)
            return x
        """),
        "BNF101",
    )


def test_constant_naming_an_activation_function():
    source = HEADER + (
        "import tensorflow as tf\nact = tf.nn.relu\n"
        "m = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])\n"
    )
    assert codes_found(source, "BNF101") == ["BNF101"]


CHAIN = "m = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])\n"


@pytest.mark.parametrize(
    "binding",
    [
        pytest.param('act = "relu"\nact = "tanh"\n', id="assigned-twice"),
        pytest.param('act = "relu"\nact += "6"\n', id="augmented"),
        pytest.param('act = "relu"\nfor act in ("relu", "tanh"):\n    pass\n', id="for-target"),
        pytest.param('act = "relu"\nwith open("cfg") as act:\n    pass\n', id="with-as"),
        pytest.param('act = "relu"\n\n\ndef configure():\n    global act\n    act = "tanh"\n', id="global-rebind"),
        pytest.param('act = "relu"\ndel act\nact = "relu"\n', id="deleted"),
        pytest.param('act = "relu"\nimport act\n', id="import"),
        pytest.param('act = "re" + "lu"\n', id="computed-operation"),
        pytest.param('act = get_activation()\n', id="computed-call"),
        pytest.param('name = "relu"\nact = name\n', id="another-name"),
        pytest.param('act, other = "relu", "tanh"\n', id="tuple-unpacking"),
        pytest.param('if fast:\n    act = "relu"\n', id="in-a-branch"),
    ],
)
def test_a_name_that_is_not_a_simple_constant_stays_unknown(binding):
    source = HEADER + binding + CHAIN
    assert codes_found(source, "BNF101") == []


def test_a_parameter_stays_unknown_even_when_a_module_constant_has_its_name():
    source = HEADER + textwrap.dedent(
        """\
        act = "relu"


        def block(act):
            return keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])
        """
    )
    assert codes_found(source, "BNF101") == []


def test_a_constant_read_before_it_is_assigned_stays_unknown():
    source = HEADER + CHAIN + 'act = "relu"\n'
    assert codes_found(source, "BNF101") == []


def test_a_module_constant_assigned_after_the_function_stays_unknown():
    """The function may be called before the assignment runs."""
    source = HEADER + textwrap.dedent(
        """\
        def block():
            return keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])


        act = "relu"
        """
    )
    assert codes_found(source, "BNF101") == []


def test_a_lambda_parameter_shadowing_the_constant_stays_unknown():
    source = HEADER + 'act = "relu"\nmake = lambda act: keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])\n'
    assert codes_found(source, "BNF101") == []


def test_a_function_local_constant_does_not_leak_into_another_function():
    source = HEADER + textwrap.dedent(
        """\
        def settings():
            act = "relu"
            return act


        def block():
            return keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])
        """
    )
    assert codes_found(source, "BNF101") == []


def test_a_linear_constant_is_not_a_fused_activation():
    source = HEADER + 'act = "linear"\nm = keras.Sequential([layers.Dense(4, activation=act), layers.BatchNormalization()])\n'
    assert codes_found(source, "BNF101", policy="pre") == []
