"""Names a `from keras.<module> import *` brings in, resolved to the module that exports them (real code star-imports
`keras.models` and `keras.layers` together, in either order)."""

from __future__ import annotations

import libcst as cst
import pytest

from bnfix.analysis.names import ImportTable
from bnfix.analysis.node_index import NodeIndex
from bnfix.engine import check_source
from bnfix.settings import Settings

MODELS, LAYERS, OPTIMIZERS = "from keras.models import *\n", "from keras.layers import *\n", "from keras.optimizers import *\n"


def _resolved(header: str, name: str) -> str | None:
    table = ImportTable(NodeIndex(cst.parse_module(header)))
    return table.qualified_name(cst.Name(name))


@pytest.mark.parametrize("header", [MODELS + LAYERS, LAYERS + MODELS, OPTIMIZERS + LAYERS, LAYERS + OPTIMIZERS, MODELS + OPTIMIZERS + LAYERS])
def test_a_layer_comes_from_the_layers_module_whatever_else_is_star_imported(header):
    assert _resolved(header, "Conv2D") == "keras.layers.Conv2D"


@pytest.mark.parametrize("header", [MODELS + LAYERS, LAYERS + MODELS, MODELS])
def test_what_keras_models_exports_comes_from_it(header):
    assert _resolved(header, "Sequential") == "keras.models.Sequential"
    assert _resolved(header, "load_model") == "keras.models.load_model"


def test_one_star_import_gives_every_name_as_before():
    assert _resolved(MODELS, "Conv2D") == "keras.models.Conv2D"  # nothing better is known: not a layer
    assert _resolved(LAYERS, "Conv2D") == "keras.layers.Conv2D"
    assert _resolved("import numpy as np\n", "Conv2D") is None
    assert _resolved("from numpy import *\n", "Conv2D") is None


def test_a_chain_behind_two_star_imports_is_found():
    """divamgupta/image-segmentation-keras: `from keras.models import *` first hid every layer of its ResNet blocks."""
    source = MODELS + LAYERS + (
        "def block(x):\n"
        "    x = Conv2D(8, (1, 1))(x)\n"
        "    x = BatchNormalization(axis=3)(x)\n"
        "    x = Activation('relu')(x)\n"
        "    return x\n"
    )
    assert [d.code for d in check_source(source, Settings()).diagnostics] == ["BNF101"]
