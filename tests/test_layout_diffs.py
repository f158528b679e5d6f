"""Diffs a reviewer accepts: a repair that adds, removes or moves an argument or a statement follows the layout
around it (black-formatted code, hand-formatted hanging indents, a closing parenthesis on its own line, tabs),
leaves no trailing whitespace and keeps quote styles; the call edits on their own, then through the rules."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bnfix.fixes.call_edits import remove_arg, set_keyword
from tests.helpers import assert_fix

HEADER = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"


def script(body: str) -> str:
    return HEADER + textwrap.dedent(body)


def _call_of(code: str) -> tuple[cst.Module, cst.Call]:
    module = cst.parse_module(textwrap.dedent(code))
    statement = module.body[0]
    if isinstance(statement, cst.FunctionDef):  # the first statement of the function's body
        statement = statement.body.body[0]
    call = statement.body[0].value  # type: ignore[attr-defined]
    assert isinstance(call, cst.Call)
    return module, call


def with_keyword(code: str, name: str = "use_bias", value: str = "False") -> str:
    module, call = _call_of(code)
    return module.deep_replace(call, set_keyword(call, name, cst.parse_expression(value))).code  # type: ignore[union-attr]


def without_keyword(code: str, name: str) -> str:
    module, call = _call_of(code)
    target = next(arg for arg in call.args if arg.keyword is not None and arg.keyword.value == name)
    return module.deep_replace(call, remove_arg(call, target)).code  # type: ignore[union-attr]


# ----------------------------------------------------------------------------------------------- adding an argument

ADDED = [
    pytest.param('y = Dense(64, activation="relu")\n', 'y = Dense(64, activation="relu", use_bias=False)\n', id="one-line"),
    pytest.param("y = Dense()\n", "y = Dense(use_bias=False)\n", id="no-arguments"),
    pytest.param(
        'y = Conv2D(\n    64,\n    3,\n    padding="same",\n)\n',
        'y = Conv2D(\n    64,\n    3,\n    padding="same",\n    use_bias=False,\n)\n',
        id="black-magic-trailing-comma",
    ),
    pytest.param("y = Dense(\n    64,\n)\n", "y = Dense(\n    64,\n    use_bias=False,\n)\n", id="black-single-argument"),
    pytest.param(
        'y = Conv2D(64, 3,\n           padding="same")\n',
        'y = Conv2D(64, 3,\n           padding="same",\n           use_bias=False)\n',
        id="hanging-indent",
    ),
    pytest.param(
        'y = Dense(\n    64,\n    activation="relu"\n)\n',
        'y = Dense(\n    64,\n    activation="relu",\n    use_bias=False\n)\n',
        id="closing-paren-on-its-own-line",
    ),
    pytest.param(
        "y = Dense(\n    64,  # units\n    name='d1',  # the name\n)\n",
        "y = Dense(\n    64,  # units\n    name='d1',  # the name\n    use_bias=False,\n)\n",
        id="comments-stay-with-their-arguments",
    ),
    pytest.param(
        "y = Dense(\n    64  # units\n)\n",
        "y = Dense(\n    64,  # units\n    use_bias=False\n)\n",
        id="comment-after-the-last-argument",
    ),
    pytest.param(
        "def f():\n\ty = Dense(\n\t\t64,\n\t\tactivation='relu',\n\t)\n",
        "def f():\n\ty = Dense(\n\t\t64,\n\t\tactivation='relu',\n\t\tuse_bias=False,\n\t)\n",
        id="tabs",
    ),
    pytest.param("y = Dense(64, name = 'd')\n", "y = Dense(64, name = 'd', use_bias = False)\n", id="spaced-keywords"),
]


@pytest.mark.parametrize(("before", "after"), ADDED)
def test_set_keyword_follows_the_layout(before, after):
    assert with_keyword(before) == after


def test_set_keyword_replaces_an_existing_value_in_place():
    assert with_keyword("y = Dense(\n    64,\n    use_bias=True,  # on\n)\n") == "y = Dense(\n    64,\n    use_bias=False,  # on\n)\n"


# --------------------------------------------------------------------------------------------- removing an argument

REMOVED = [
    pytest.param('y = Dense(64, activation="relu")\n', "activation", "y = Dense(64)\n", id="one-line-last"),
    pytest.param('y = Dense(64, activation="relu", name="d")\n', "activation", 'y = Dense(64, name="d")\n', id="one-line-middle"),
    pytest.param('y = Dense(activation="relu")\n', "activation", "y = Dense()\n", id="only-argument"),
    pytest.param('y = Dense(\n    activation="relu",\n)\n', "activation", "y = Dense()\n", id="only-argument-black"),
    pytest.param(
        'y = Dense(\n    64,  # units\n    activation="relu",  # fused\n)\n',
        "activation",
        "y = Dense(\n    64,  # units\n)\n",
        id="black-last-keeps-the-previous-comment",
    ),
    pytest.param(
        'y = Dense(\n    64,\n    activation="relu",\n    name="d",\n)\n',
        "activation",
        'y = Dense(\n    64,\n    name="d",\n)\n',
        id="black-middle",
    ),
    pytest.param(
        'y = Dense(64,\n          activation="relu")\n', "activation", "y = Dense(64)\n", id="hanging-last"
    ),
    pytest.param(
        'y = Dense(\n    64,\n    activation="relu"\n)\n', "activation", "y = Dense(\n    64\n)\n", id="closing-paren-on-its-own-line"
    ),
    pytest.param(
        'y = Dense(64,  # units\n          activation="relu")\n',
        "activation",
        "y = Dense(64  # units\n)\n",
        id="hanging-last-keeps-the-comment",
    ),
    pytest.param(  # real code (a book's notebooks): the removal joined a 130-character line
        'x = Conv2D(64, 3, padding="valid", use_bias=False,\n           kernel_initializer="he_normal")\n',
        "use_bias",
        'x = Conv2D(64, 3, padding="valid",\n           kernel_initializer="he_normal")\n',
        id="hanging-middle-at-a-line-end-keeps-the-line-break",
    ),
]


@pytest.mark.parametrize(("before", "name", "after"), REMOVED)
def test_remove_arg_follows_the_layout(before, name, after):
    assert without_keyword(before, name) == after


# ------------------------------------------------------------------------------------------------- through the rules


def test_bnf103_on_black_formatted_functional_code():
    assert_fix(
        script("""\
        x = layers.Conv2D(
            filters=64,
            kernel_size=3,
            padding="same",
        )(x)
        x = layers.BatchNormalization()(x)
        """),
        script("""\
        x = layers.Conv2D(
            filters=64,
            kernel_size=3,
            padding="same",
            use_bias=False,
        )(x)
        x = layers.BatchNormalization()(x)
        """),
        "BNF103",
        unsafe_fixes=True,
    )


def test_bnf101_split_in_a_hanging_indent_keeps_the_quotes_and_the_indent():
    assert_fix(
        script("""\
        model = keras.Sequential([layers.Dense(64, input_shape=(10,),
                                               activation='relu'),
                                  layers.BatchNormalization(),
                                  layers.Dense(1)])
        """),
        script("""\
        model = keras.Sequential([layers.Dense(64, input_shape=(10,)),
                                  layers.BatchNormalization(),
                                  layers.Activation('relu'),
                                  layers.Dense(1)])
        """),
        "BNF101",
        policy="pre",
    )


def test_bnf101_split_in_a_black_list_does_not_copy_the_comment_above_the_next_layer():
    assert_fix(
        script("""\
        model = keras.Sequential(
            [
                layers.Dense(
                    64,
                    activation="relu",
                ),
                # normalise the hidden layer
                layers.BatchNormalization(),
                layers.Dense(1),
            ]
        )
        """),
        script("""\
        model = keras.Sequential(
            [
                layers.Dense(
                    64,
                ),
                # normalise the hidden layer
                layers.BatchNormalization(),
                layers.Activation("relu"),
                layers.Dense(1),
            ]
        )
        """),
        "BNF101",
        policy="pre",
    )


def test_bnf301_adds_training_false_on_the_line_of_a_one_line_call():
    assert_fix(
        script("""\
        model = keras.Sequential([layers.Dense(4), layers.BatchNormalization()])
        model.fit(x, y)
        predictions = model(x_test, training=True)
        """),
        script("""\
        model = keras.Sequential([layers.Dense(4), layers.BatchNormalization()])
        model.fit(x, y)
        predictions = model(x_test, training=False)
        """),
        "BNF301",
        unsafe_fixes=True,
    )


def test_bnf201_removal_with_the_closing_parenthesis_on_its_own_line():
    assert_fix(
        script("""\
        bn = layers.BatchNormalization(
            epsilon=1e-3,
            mode=0
        )
        """),
        script("""\
        bn = layers.BatchNormalization(
            epsilon=1e-3
        )
        """),
        "BNF201",
    )


def test_statement_insertions_follow_tab_indentation():
    source = (
        HEADER + "def block(x):\n\tx = layers.Dense(8, activation='gelu')(x)\n\tx = layers.BatchNormalization()(x)\n\treturn x\n"
    )
    expected = (
        HEADER + "def block(x):\n\tx = layers.Dense(8)(x)\n\tx = layers.BatchNormalization()(x)\n"
        "\tx = layers.Activation('gelu')(x)\n\treturn x\n"
    )
    assert_fix(source, expected, "BNF101", policy="pre")


def test_inserted_statements_take_the_block_s_tab_indentation():
    head = (
        "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\n\nif __name__ == \"__main__\":\n"
        "\tx_train, y_train = np.random.rand(100, 4), np.random.rand(100)\n\tx_test = np.random.rand(10, 4)\n"
        "\tscaler = StandardScaler()\n\tx_train_scaled = scaler.fit_transform(x_train)\n"
    )
    source = head + "\tmodel.fit(x_train_scaled, y_train)\n\tprint(model.predict(x_test))\n"
    expected = (
        head + "\tx_test_scaled = scaler.transform(x_test)\n"
        "\tmodel.fit(x_train_scaled, y_train)\n\tprint(model.predict(x_test_scaled))\n"
    )
    assert_fix(source, expected, "BNF403")
