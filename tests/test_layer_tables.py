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
