"""The tables rules rely on agree with the installed Keras (imported here, in a test, never by bnfix itself)."""

from __future__ import annotations

import inspect

import pytest

from bnfix.analysis.layers import ACTIVATION_POSITION, BN_LAYERS, DROPOUT_LAYERS

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(("layer", "position"), sorted(ACTIVATION_POSITION.items()))
def test_positional_activation_index_matches_keras(layer, position):
    parameters = [name for name in inspect.signature(getattr(keras.layers, layer).__init__).parameters if name != "self"]
    assert parameters.index("activation") == position


def test_layer_names_exist_in_keras():
    for name in (BN_LAYERS - {"SyncBatchNormalization"}) | DROPOUT_LAYERS:
        assert hasattr(keras.layers, name), name


def test_layer_aliases_are_exactly_the_other_names_keras_gives_its_layer_classes():
    from bnfix.analysis.names import LAYER_ALIASES

    exported = {
        name: value.__name__
        for name in dir(keras.layers)
        if not name.startswith("_") and inspect.isclass(value := getattr(keras.layers, name)) and value.__name__ != name
    }
    assert LAYER_ALIASES == exported


def test_the_models_table_holds_everything_keras_models_exports():
    from bnfix.analysis.names import MODELS_EXPORTS

    assert {name for name in dir(keras.models) if not name.startswith("_")} <= MODELS_EXPORTS
