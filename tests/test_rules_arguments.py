"""BNF201 (arguments Keras rejects) and BNF202 (PyTorch-convention momentum): golden fixes and look-alikes."""

from __future__ import annotations

import importlib.metadata

import pytest

from bnfix.analysis import keras_version
from bnfix.settings import Settings
from tests.helpers import SEED_EXAMPLE_2, assert_fix, codes_found, messages

HEADER = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"



def bn(arguments: str) -> str:
    return HEADER + f"bn = layers.BatchNormalization({arguments})\n"


# ------------------------------------------------------------------------------------------ BNF201 renames


def test_seed_example_2_is_renamed_and_then_nothing_fires():
    after = SEED_EXAMPLE_2.replace("moving_average_fraction=0.9", "momentum=0.9")
    assert codes_found(SEED_EXAMPLE_2, "BNF2") == ["BNF201"]
    assert_fix(SEED_EXAMPLE_2, after, "BNF2")
    # 0.9 ** 40 = 1.5%: BNF203 has nothing to say before or after the rename.
    assert codes_found(after, "BNF2") == []


def test_seed_example_2_message_names_the_keras_error():
    (message,) = messages(SEED_EXAMPLE_2, "BNF201", keras_version="3.15")
    assert "moving_average_fraction" in message and "Caffe" in message
    assert "ValueError: Unrecognized keyword arguments passed to BatchNormalization" in message
    (message,) = messages(SEED_EXAMPLE_2, "BNF201", keras_version="2.15")
    assert "TypeError: Keyword argument not understood" in message


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("moving_average_fraction", "momentum", "0.9"),
        ("decay", "momentum", "0.997"),
        ("eps", "epsilon", "1e-5"),
        ("variance_epsilon", "epsilon", "0.001"),
        ("beta_init", "beta_initializer", "'zero'"),
        ("gamma_init", "gamma_initializer", "'one'"),
    ],
)
def test_renames_keep_the_value(old, new, value):
    assert_fix(bn(f"axis=-1, {old}={value}"), bn(f"axis=-1, {new}={value}"), "BNF201")


def test_rename_keeps_layout_and_comments():
    before = """\
        from keras import layers
        bn = layers.BatchNormalization(
            axis=-1,
            eps=1e-5,  # PyTorch's default
        )
        """
    assert_fix(before, before.replace("eps=", "epsilon="), "BNF201")


def test_several_arguments_on_one_layer_are_all_fixed():
    assert_fix(bn("decay=0.95, eps=1e-5, mode=0, fused=True"), bn("momentum=0.95, epsilon=1e-5"), "BNF201")


def test_rename_onto_an_argument_already_given_is_reported_without_a_fix():
    source = bn("epsilon=1e-3, eps=1e-5")
    (message,) = messages(source, "BNF201")
    assert "`epsilon` is given too" in message
    assert_fix(source, source, "BNF201", unsafe_fixes=True)


# ------------------------------------------------------------------------------------------ BNF201 mode


def test_mode_0_is_removed_as_a_safe_fix():
    assert_fix(bn("mode=0, axis=1"), bn("axis=1"), "BNF201")


@pytest.mark.parametrize(("mode", "meaning"), [("1", "each sample over its own features"), ("2", "test time")])
def test_mode_1_and_2_change_behaviour_so_removal_is_unsafe(mode, meaning):
    source = bn(f"mode={mode}")
    (message,) = messages(source, "BNF201")
    assert "changes behaviour" in message and meaning in message
    assert_fix(source, source, "BNF201")  # reported, not applied
    assert_fix(source, bn(""), "BNF201", unsafe_fixes=True)


def test_mode_given_by_a_variable_is_never_removed_by_a_safe_fix():
    source = HEADER + "def block(x, bn_mode):\n    return layers.BatchNormalization(mode=bn_mode)(x)\n"
    (message,) = messages(source, "BNF201")
    assert "unknown" in message  # Keras rejects `mode` whatever its value, but which behaviour was meant is unknown
    assert_fix(source, source, "BNF201")
    assert_fix(source, source.replace("mode=bn_mode", ""), "BNF201", unsafe_fixes=True)


# ------------------------------------------------------------------------------------------ BNF201 Keras versions


@pytest.mark.parametrize(
    ("version", "fires"),
    [("3.0", True), ("3.13", True), ("3.14", False), ("3.15", False), ("2.15", False)],
)
def test_renorm_depends_on_the_target_keras_version(version, fires):
    source = bn("renorm=True, renorm_clipping={'rmax': 3.0}, renorm_momentum=0.9")
    assert codes_found(source, "BNF201", keras_version=version) == (["BNF201"] * 3 if fires else [])


def test_renorm_removal_is_unsafe_when_on_and_safe_when_off():
    on = bn("renorm=True, renorm_momentum=0.9")
    assert_fix(on, on, "BNF201", keras_version="3.13")
    assert_fix(on, bn(""), "BNF201", keras_version="3.13", unsafe_fixes=True)
    # Settings of a switched-off Batch Renormalization change nothing.
    assert_fix(bn("renorm=False, renorm_momentum=0.9"), bn(""), "BNF201", keras_version="3.13")


@pytest.mark.parametrize("argument", ["fused=True", "virtual_batch_size=None", "adjustment=None"])
def test_keras2_only_arguments_are_removed_for_keras3_and_kept_for_keras2(argument):
    assert_fix(bn(f"axis=-1, {argument}"), bn("axis=-1"), "BNF201", keras_version="3.15")
    assert codes_found(bn(argument), "BNF201", keras_version="2.15") == []


def test_active_ghost_batch_normalization_is_an_unsafe_removal():
    source = bn("virtual_batch_size=8")
    assert_fix(source, source, "BNF201", keras_version="3.15")
    assert_fix(source, bn(""), "BNF201", keras_version="3.15", unsafe_fixes=True)


def test_tf_keras_imports_target_tf_keras_whatever_is_installed():
    source = "import tf_keras\nbn = tf_keras.layers.BatchNormalization(fused=True, renorm=True)\n"
    assert codes_found(source, "BNF201") == []
    # An explicit keras-version still wins.
    assert codes_found(source, "BNF201", keras_version="3.13") == ["BNF201", "BNF201"]


# ------------------------------------------------------------------------------------------ keras_version


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """Pretend these distributions are installed: {"keras": "3.13.1"}, as wheels leave them (NAME-VERSION.dist-info)."""

    def use(versions: dict[str, str]) -> None:
        site = tmp_path / f"site-{len(list(tmp_path.iterdir()))}"
        site.mkdir()
        for name, version in versions.items():
            (site / f"{name.replace('-', '_')}-{version}.dist-info").mkdir()
        monkeypatch.setattr(keras_version, "_search_path", lambda: [str(tmp_path / "missing"), str(site)])
        keras_version.installed_keras_version.cache_clear()

    yield use
    keras_version.installed_keras_version.cache_clear()


def test_the_version_scan_agrees_with_importlib_metadata():
    for name in ("keras", "tf-keras", "libcst", "scikit-learn", "typer", "not-installed-anywhere"):
        try:
            expected = keras_version.parse_version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            expected = None
        assert keras_version.distribution_version(name) == expected


def test_an_egg_info_is_left_to_importlib_metadata(monkeypatch, tmp_path):
    (tmp_path / "keras.egg-info").mkdir()
    (tmp_path / "keras-3.2.0.dist-info").mkdir()  # two forms in one directory: importlib.metadata decides
    monkeypatch.setattr(keras_version, "_search_path", lambda: [str(tmp_path)])
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.15.1")
    assert keras_version.distribution_version("keras") == (2, 15)


def test_target_version_order(installed):
    installed({"keras": "3.13.2", "tf-keras": "2.17.0"})
    assert keras_version.target_keras_version(Settings()) == (3, 13)
    assert keras_version.target_keras_version(Settings(keras_version=(3, 15))) == (3, 15)
    assert keras_version.target_keras_version(Settings(), "tf_keras.layers.BatchNormalization") == (2, 17)
    installed({"tf-keras": "2.17.0"})
    assert keras_version.target_keras_version(Settings()) == (2, 17)
    installed({})
    assert keras_version.target_keras_version(Settings()) is None  # the newest
    assert keras_version.target_keras_version(Settings(), "tf_keras.layers.X") == keras_version.TF_KERAS_FALLBACK


def test_renorm_follows_the_installed_keras_when_nothing_is_configured(installed):
    source = bn("renorm=True")
    installed({"keras": "3.13.0"})
    assert codes_found(source, "BNF201") == ["BNF201"]
    installed({"keras": "3.14.0"})
    assert codes_found(source, "BNF201") == []
    installed({})
    assert codes_found(source, "BNF201") == []  # newest Keras


# ------------------------------------------------------------------------------------------ BNF201 look-alikes


@pytest.mark.parametrize(
    "source",
    [
        # Other layers and libraries with arguments of these names.
        HEADER + "opt = keras.optimizers.SGD(decay=1e-6)\n",
        HEADER + "d = layers.Dropout(0.5, mode=1)\n",
        "import torch\nbn = torch.nn.BatchNorm2d(16, eps=1e-5)\n",
        "import tensorflow as tf\ny = tf.nn.batch_normalization(x, m, v, None, None, variance_epsilon=1e-3)\n",
        # A local class of the same name is not Keras's.
        "class BatchNormalization:\n    def __init__(self, **kw):\n        pass\n\nbn = BatchNormalization(decay=0.9)\n",
        # Only text.
        HEADER + '"""layers.BatchNormalization(decay=0.9)"""\n# layers.BatchNormalization(eps=1e-5)\n',
    ],
)
def test_look_alikes_are_left_alone(source):
    assert codes_found(source, "BNF201") == []


@pytest.mark.parametrize("comment", ["# bnfix: ignore[BNF201]", "# noqa: BNF201", "# bnfix: ignore"])
def test_suppression_comments(comment):
    source = HEADER + f"bn = layers.BatchNormalization(decay=0.9)  {comment}\n"
    assert codes_found(source) == []
    assert_fix(source, source)


def test_select_and_ignore():
    source = bn("decay=0.1")
    assert codes_found(source, "BNF201") == ["BNF201"]
    assert codes_found(source, ignore=("BNF201",)) == ["BNF202"]
    assert codes_found(source, "BNF1") == []


# ------------------------------------------------------------------------------------------ BNF202


def test_pytorch_momentum_is_reported_and_fixed_only_as_unsafe():
    source = bn("momentum=0.1")
    (message,) = messages(source, "BNF202")
    assert "10% of the moving statistics" in message and "momentum=0.9" in message
    assert_fix(source, source, "BNF202")
    assert_fix(source, bn("momentum=0.9"), "BNF202", unsafe_fixes=True)


@pytest.mark.parametrize(("before", "after"), [("0.1", "0.9"), ("0.01", "0.99"), ("0.05", "0.95"), (".3", "0.7"), ("1e-2", "0.99")])
def test_one_minus_value_is_exact(before, after):
    assert_fix(bn(f"momentum={before}"), bn(f"momentum={after}"), "BNF202", unsafe_fixes=True)


def test_positional_momentum():
    assert_fix(bn("-1, 0.1"), bn("-1, 0.9"), "BNF202", unsafe_fixes=True)


def test_pytorch_momentum_under_a_foreign_name_is_fixed_together_with_the_rename():
    assert_fix(bn("decay=0.1"), bn("momentum=0.9"), "BNF20", unsafe_fixes=True)


@pytest.mark.parametrize(
    "source",
    [
        bn("momentum=0.5"),
        bn("momentum=0.99"),
        bn("momentum=0"),  # not PyTorch's; 1 - 0 would freeze the statistics
        HEADER + "def block(m):\n    return layers.BatchNormalization(momentum=m)\n",
        "import torch\nbn = torch.nn.BatchNorm1d(10, momentum=0.1)\n",
        HEADER + "opt = keras.optimizers.SGD(momentum=0.1)\n",
    ],
)
def test_pytorch_momentum_look_alikes(source):
    assert codes_found(source, "BNF202") == []


def test_pytorch_momentum_suppressed_by_noqa():
    assert codes_found(HEADER + "bn = layers.BatchNormalization(momentum=0.1)  # noqa: BNF202\n") == []
