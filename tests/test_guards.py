"""The pretrained-weights guard: BNF101/102/103 never silently rewrite a model that loads weights from elsewhere."""

from __future__ import annotations

import textwrap

import pytest

from bnfix.engine import check_source
from bnfix.fixes.safety import FixSafety
from tests.helpers import assert_fix, settings_for

# Model-zoo style: a builder with a `weights` argument that loads them into the model its helper blocks build.
MODEL_ZOO = """\
    from tensorflow.keras import layers, models


    def conv_block(x, filters):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        return x


    def stack(x, filters):
        x = conv_block(x, filters)
        return conv_block(x, filters * 2)


    def ResNetLike(include_top=True, weights="imagenet", input_shape=(224, 224, 3)):
        inputs = layers.Input(input_shape)
        x = layers.Conv2D(64, 7, strides=2)(inputs)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = stack(x, 64)
        model = models.Model(inputs, x, name="resnet_like")
        if weights is not None:
            model.load_weights(weights)
        return model
    """
MODEL_ZOO_POST = (
    textwrap.dedent(MODEL_ZOO)
    .replace(
        '    x = layers.Conv2D(filters, 3, use_bias=False)(x)\n    x = layers.BatchNormalization()(x)\n    x = layers.Activation("relu")(x)\n',
        '    x = layers.Conv2D(filters, 3)(x)\n    x = layers.Activation("relu")(x)\n    x = layers.BatchNormalization()(x)\n',
    )
    .replace(
        '    x = layers.BatchNormalization()(x)\n    x = layers.Activation("relu")(x)\n    x = stack',
        '    x = layers.Activation("relu")(x)\n    x = layers.BatchNormalization()(x)\n    x = stack',
    )
)
REASON = "; model loads pretrained weights (line 24); reordering invalidates them"


def diagnostics(source: str, select: str, **options):
    return check_source(textwrap.dedent(source), settings_for(select, **options)).diagnostics


def test_builder_with_a_weights_argument_guards_its_own_layers_and_its_helper_blocks():
    found = diagnostics(MODEL_ZOO, "BNF101")
    assert [d.line for d in found] == [6, 19]  # the helper block's BN and the builder's stem BN
    for diagnostic in found:
        assert diagnostic.message.endswith(REASON)
        assert diagnostic.fix_safety is FixSafety.UNSAFE
    assert_fix(MODEL_ZOO, MODEL_ZOO, "BNF101")  # `apply` leaves it alone, not even as a safe fix
    assert_fix(MODEL_ZOO, MODEL_ZOO_POST, "BNF101", unsafe_fixes=True)


def test_the_same_builder_without_load_weights_is_fixed():
    never_loads = textwrap.dedent(MODEL_ZOO).replace("    if weights is not None:\n        model.load_weights(weights)\n", "")
    assert all(d.fix_safety is FixSafety.SAFE and "pretrained" not in d.message for d in diagnostics(never_loads, "BNF101"))
    assert_fix(never_loads, MODEL_ZOO_POST.replace("    if weights is not None:\n        model.load_weights(weights)\n", ""), "BNF101")


# keras.applications' shape: `ResNet` builds the model around the `stack_fn` it is given and loads the checkpoint;
# `ResNet50` passes one defined inside it, and `block_v2` is used only by a `stack_fn` of another module.
CALLBACK_ZOO = """\
    from tensorflow.keras import layers, models


    def block_v1(x, filters):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        return x


    def block_v2(x, filters):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        return x


    def ResNet(stack_fn, weights="imagenet"):
        inputs = layers.Input((224, 224, 3))
        model = models.Model(inputs, stack_fn(inputs))
        if weights is not None:
            model.load_weights(weights)
        return model


    def ResNet50(weights="imagenet"):
        def stack_fn(x):
            return block_v1(x, 64)

        return ResNet(stack_fn, weights)
    """


def test_a_builder_that_calls_the_function_it_is_given_guards_every_block_of_its_module():
    found = diagnostics(CALLBACK_ZOO, "BNF101")
    assert [d.line for d in found] == [6, 13]
    assert all(d.fix_safety is FixSafety.UNSAFE and d.message.endswith("(line 22); reordering invalidates them") for d in found)
    assert_fix(CALLBACK_ZOO, CALLBACK_ZOO, "BNF101")
    # classification_models' shape: the block function arrives as an attribute of a parameter.
    by_attribute = textwrap.dedent(CALLBACK_ZOO).replace("def ResNet(stack_fn,", "def ResNet(params,").replace(
        "stack_fn(inputs)", "Block(inputs)"
    ).replace("    inputs = layers.Input((224, 224, 3))\n", "    inputs = layers.Input((224, 224, 3))\n    Block = params.block\n")
    assert [d.fix_safety for d in diagnostics(by_attribute, "BNF101")] == [FixSafety.UNSAFE, FixSafety.UNSAFE]
    applied = textwrap.dedent(CALLBACK_ZOO).replace("def ResNet(stack_fn,", "def ResNet(params,").replace("stack_fn(inputs)", "params.block(64)(inputs)")
    assert [d.fix_safety for d in diagnostics(applied, "BNF101")] == [FixSafety.UNSAFE, FixSafety.UNSAFE]
    # A helper loading weights into a model it is given, and calling another it is given, builds no model here.
    checker = textwrap.dedent(CALLBACK_ZOO).split("def ResNet(")[0] + textwrap.dedent(
        """\
        def check_reload(model, reference, x):
            reference(x)
            model.load_weights("reference.weights.h5")
        """
    )
    assert [d.fix_safety for d in diagnostics(checker, "BNF101")] == [FixSafety.SAFE, FixSafety.SAFE]
    # A method of a parameter is not a block it is given.
    method = textwrap.dedent(CALLBACK_ZOO).replace("def ResNet(stack_fn,", "def ResNet(shape,").replace(
        "stack_fn(inputs)", "block_v1(inputs, shape.count(3))"
    )
    assert [d.fix_safety for d in diagnostics(method, "BNF101")] == [FixSafety.UNSAFE, FixSafety.SAFE]
    # A builder that only calls its own helpers keeps to them: a block no loading model uses is fixed.
    direct = textwrap.dedent(CALLBACK_ZOO).replace("stack_fn(inputs)", "block_v1(inputs, 64)")
    assert [(d.line, d.fix_safety) for d in diagnostics(direct, "BNF101")] == [(6, FixSafety.UNSAFE), (13, FixSafety.SAFE)]


SCRIPT = """\
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([
        layers.Dense(64),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Dropout(0.5),
        layers.BatchNormalization(),
        layers.Dense(1),
    ])
    model.load_weights("checkpoint.weights.h5")
    model.fit(x, y)
    """


def test_a_script_that_loads_weights_into_the_model_it_built():
    found = diagnostics(SCRIPT, "BNF1")
    assert [(d.code, d.fix_safety) for d in found] == [("BNF101", FixSafety.UNSAFE), ("BNF102", FixSafety.UNSAFE)]
    assert all(d.message.endswith("; model loads pretrained weights (line 12); reordering invalidates them") for d in found)
    assert_fix(SCRIPT, SCRIPT, "BNF1")


def test_bias_removal_names_what_it_invalidates():
    source = "from tensorflow import keras\nfrom tensorflow.keras import layers\n" + textwrap.dedent(
        """\
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
        model.load_weights("w.h5")
        """
    )
    (found,) = diagnostics(source, "BNF103", unsafe_fixes=True)
    assert found.message.endswith("; model loads pretrained weights (line 4); dropping the bias invalidates them")
    assert found.fix_safety is FixSafety.UNSAFE


@pytest.mark.parametrize(
    "loading",
    [
        'model.load_weights("checkpoint.weights.h5")',
        'model.set_weights(np.load("weights.npy", allow_pickle=True))',
        'model = keras.models.load_model("model.keras")',
        'model = keras.saving.load_model("model.keras")',
        'model = tf.keras.models.load_model("model.h5")',
    ],
)
def test_every_way_weights_arrive_guards_the_model(loading):
    source = textwrap.dedent(SCRIPT).replace('model.load_weights("checkpoint.weights.h5")', loading)
    source = "import numpy as np\nimport tensorflow as tf\n" + source
    found = diagnostics(source, "BNF101")
    assert [d.fix_safety for d in found] == [FixSafety.UNSAFE]
    assert "model loads pretrained weights (line 14)" in found[0].message


def test_a_keras_hub_backbone_is_an_architecture_for_its_presets_checkpoints():
    """keras-hub's model code: `ResNetBackbone.from_preset(...)` loads a checkpoint trained for these very layers."""
    source = textwrap.dedent(
        """\
        import keras
        from keras_hub.src.models.feature_pyramid_backbone import FeaturePyramidBackbone


        def apply_block(x, filters):
            x = keras.layers.Conv2D(filters, 3, use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.Activation("relu")(x)
            return x


        class TinyBackbone(FeaturePyramidBackbone):
            def __init__(self, **kwargs):
                inputs = keras.Input((32, 32, 3))
                x = keras.layers.Conv2D(8, 3, use_bias=False)(inputs)
                x = keras.layers.BatchNormalization()(x)
                x = keras.layers.Activation("relu")(x)
                super().__init__(inputs=inputs, outputs=apply_block(x, 16), **kwargs)
        """
    )
    found = diagnostics(source, "BNF101")
    assert [(d.line, d.fix_safety) for d in found] == [(7, FixSafety.UNSAFE), (16, FixSafety.UNSAFE)]
    assert found[0].message.endswith(
        "; model is a keras_hub FeaturePyramidBackbone (line 12), whose presets load pretrained weights; reordering invalidates them"
    )
    assert_fix(source, source, "BNF101")
    # The same architecture as a plain Keras model, trained by whoever builds it: fixed.
    plain = source.replace("from keras_hub.src.models.feature_pyramid_backbone import FeaturePyramidBackbone", "").replace(
        "(FeaturePyramidBackbone)", "(keras.Model)"
    )
    assert [d.fix_safety for d in diagnostics(plain, "BNF101")] == [FixSafety.SAFE, FixSafety.SAFE]


def test_a_layer_given_its_weights_in_the_constructor_guards_its_model():
    """Keras 2's `weights=`: a translated checkpoint, layer by layer (Keras-NASNet's weight translation)."""
    source = textwrap.dedent(
        """\
        import numpy as np
        from keras.layers import Activation, BatchNormalization, Conv2D, Input
        from keras.models import Model

        inputs = Input((32, 32, 3))
        x = Conv2D(16, 3, use_bias=False, weights=[np.load("kernel.npy")])(inputs)
        x = BatchNormalization()(x)
        x = Activation("relu")(x)
        model = Model(inputs, x)
        """
    )
    [found] = diagnostics(source, "BNF101", keras_version="2.15")
    assert found.fix_safety is FixSafety.UNSAFE and "model loads pretrained weights (line 6)" in found.message
    assert_fix(source, source, "BNF101", keras_version="2.15")
    for no_weights in ("weights=None", "name='c'"):
        unguarded = source.replace('weights=[np.load("kernel.npy")]', no_weights)
        assert [d.fix_safety for d in diagnostics(unguarded, "BNF101", keras_version="2.15")] == [FixSafety.SAFE]


@pytest.mark.parametrize(
    "reload", ['model.load_weights("best.weights.h5")', 'model = keras.models.load_model("best.keras")']
)
def test_reloading_the_best_epoch_of_the_scripts_own_fit_is_not_pretrained(reload):
    """keras-io's examples: fit with a ModelCheckpoint, then reload the best epoch; the fixed model retrains."""
    trained_here = textwrap.dedent(SCRIPT).replace(
        'model.load_weights("checkpoint.weights.h5")\nmodel.fit(x, y)\n',
        f"model.fit(x, y, callbacks=[keras.callbacks.ModelCheckpoint('best')])\n{reload}\n",
    )
    assert [(d.code, d.fix_safety) for d in diagnostics(trained_here, "BNF1")] == [("BNF101", FixSafety.SAFE), ("BNF102", FixSafety.SAFE)]
    # Loaded before the fit (fine-tuning a checkpoint), or into another model: still pretrained.
    fine_tuned = trained_here.replace(f"model.fit(x, y, callbacks=[keras.callbacks.ModelCheckpoint('best')])\n{reload}\n", f"{reload}\nmodel.fit(x, y)\n")
    assert [d.fix_safety for d in diagnostics(fine_tuned, "BNF1")] == [FixSafety.UNSAFE, FixSafety.UNSAFE]
    other = trained_here.replace("model.fit(x, y, callbacks", "teacher.fit(x, y, callbacks")
    assert [d.fix_safety for d in diagnostics(other, "BNF1")] == [FixSafety.UNSAFE, FixSafety.UNSAFE]


def test_a_model_built_by_a_function_and_loaded_by_its_caller():
    source = """\
        from tensorflow import keras
        from tensorflow.keras import layers

        def build():
            m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])
            return m

        model = build()
        model.load_weights("w.h5")
        """
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.UNSAFE and "(line 9)" in found.message


def test_a_model_kept_on_self_and_loaded_there():
    source = """\
        from tensorflow import keras
        from tensorflow.keras import layers

        class Agent:
            def build(self):
                self.model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])
                self.model.load_weights("agent.h5")
        """
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.UNSAFE


NEVER_LOADED = """\
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])
    model.fit(x, y)
    model.save_weights("w.weights.h5")
    """


def test_a_model_that_never_loads_any_weights_is_still_fixed():
    (found,) = diagnostics(NEVER_LOADED, "BNF101")
    assert found.fix_safety is FixSafety.SAFE and "pretrained" not in found.message
    assert_fix(NEVER_LOADED, NEVER_LOADED.replace("layers.BatchNormalization(), layers.ReLU()", "layers.ReLU(), layers.BatchNormalization()"), "BNF101")


def test_only_the_model_that_loads_weights_is_guarded():
    source = textwrap.dedent(NEVER_LOADED) + textwrap.dedent(
        """\
        generator = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])
        generator.load_weights("generator.h5")
        """
    )
    found = diagnostics(source, "BNF101")
    assert [(d.line, d.fix_safety) for d in found] == [(4, FixSafety.SAFE), (7, FixSafety.UNSAFE)]


def test_copying_weights_between_two_models_built_here_is_not_loading_them():
    # A DQN's target network: both models change with the fix, nothing trained elsewhere is invalidated.
    source = textwrap.dedent(NEVER_LOADED) + "target = keras.models.clone_model(model)\ntarget.set_weights(model.get_weights())\n"
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.SAFE


def test_load_model_into_another_name_leaves_the_built_model_alone():
    source = textwrap.dedent(NEVER_LOADED) + 'teacher = keras.models.load_model("teacher.keras")\n'
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.SAFE


def test_a_subclassed_model_whose_instance_loads_weights():
    source = """\
        from tensorflow import keras
        from tensorflow.keras import layers

        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = layers.Dense(8)
                self.bn = layers.BatchNormalization()
                self.act = layers.ReLU()

            def call(self, x):
                x = self.dense(x)
                x = self.bn(x)
                x = self.act(x)
                return x

        net = Net()
        net.load_weights("net.weights.h5")
        """
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.UNSAFE and "(line 18)" in found.message


def test_a_builder_whose_tensors_are_bound_in_branches_is_still_covered_whole():
    # Model-zoo builders pick their input and head in branches, where the functional trace loses the trail.
    source = """\
        from keras.layers import Activation, BatchNormalization, Conv2D, Dense, Flatten, Input
        from keras.models import Model

        def ResNet50(include_top=True, weights="imagenet", input_tensor=None):
            if input_tensor is None:
                img_input = Input(shape=(224, 224, 3))
            else:
                img_input = input_tensor
            x = Conv2D(64, (7, 7))(img_input)
            x = BatchNormalization(axis=3)(x)
            x = Activation("relu")(x)
            if include_top:
                x = Flatten()(x)
                x = Dense(1000, activation="softmax")(x)
            model = Model(img_input, x, name="resnet50")
            if weights == "imagenet":
                model.load_weights("resnet50_weights_tf_dim_ordering_tf_kernels.h5")
            return model
        """
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.UNSAFE and "(line 17)" in found.message


def test_restoring_a_snapshot_of_the_models_own_weights_is_not_loading_them():
    # A learning-rate finder: takes `get_weights()`, trains, puts them back; the model is a parameter there,
    # not the module-level model of the same name.
    source = textwrap.dedent(NEVER_LOADED) + textwrap.dedent(
        """\

        def find_learning_rate(model, x, y):
            init_weights = model.get_weights()
            model.fit(x, y, epochs=1)
            model.set_weights(init_weights)
        """
    )
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.SAFE


def test_a_function_loading_weights_into_its_parameter_does_not_guard_a_global_of_that_name():
    source = textwrap.dedent(NEVER_LOADED) + '\ndef restore(model, path):\n    model.load_weights(path)\n'
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.SAFE


def test_a_global_model_loaded_inside_a_function_is_guarded():
    source = textwrap.dedent(NEVER_LOADED) + '\ndef restore(path):\n    model.load_weights(path)\n'
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.UNSAFE and "(line 9)" in found.message


def test_load_model_replaces_only_the_model_the_name_held_just_before():
    # A notebook rebinds `model` cell after cell; the checkpoint loaded at the end is the last model's.
    source = """\
        from tensorflow import keras
        from tensorflow.keras import layers

        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])
        model.fit(x, y)
        model = keras.Sequential()
        model.add(layers.Dense(8))
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        model = keras.models.load_model("pretrained.keras")
        """
    found = diagnostics(source, "BNF101")
    assert [(d.line, d.fix_safety) for d in found] == [(4, FixSafety.SAFE), (8, FixSafety.UNSAFE)]
    assert "(line 10)" in found[1].message  # the first model's fit (line 5) trained another model


def test_a_model_loaded_or_built_in_two_branches():
    source = """\
        import os
        from tensorflow import keras
        from tensorflow.keras import layers

        if os.path.exists("model.keras"):
            model = keras.models.load_model("model.keras")
        else:
            model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])
        """
    (found,) = diagnostics(source, "BNF101")
    assert found.fix_safety is FixSafety.UNSAFE and "(line 6)" in found.message
