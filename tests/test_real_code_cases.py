"""Patterns found in the real-code review (bench/REAL_CODE.md) that bnfix got wrong, each written anew as a small
case: the finding it must not make, and the one it must still make next to it."""

from __future__ import annotations

from tests.helpers import assert_fix, codes_found, messages

# Dacon/Kaggle study scripts: the training table and the submission table are read from one directory.
_TWO_TABLES = """\
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    folder = "data/"
    train_table = pd.read_csv(folder + "train.csv", index_col=0)
    submission_x = pd.read_csv(folder + "test.csv", index_col=0)
    x = train_table.drop(["count"], axis=1)
    y = train_table["count"]
    x_train, x_test, y_train, y_test = train_test_split(x, y, train_size=0.8)
    scaler = StandardScaler()
    scaler.fit(x_train)
    scaler.fit(submission_x)
    x_train = scaler.transform(x_train)
    x_test = scaler.transform(x_test)
    """


def test_files_read_from_one_directory_are_not_one_data_set():
    # `pd.read_csv(folder + "test.csv")` makes new data; it is not "all of folder", split later (BNF404 said so).
    assert "BNF404" not in codes_found(_TWO_TABLES)


def test_a_fit_before_the_split_of_a_read_table_is_still_found():
    source = """\
        import numpy as np
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import MinMaxScaler

        folder = "data/"
        table = np.loadtxt(folder + "wine.csv", delimiter=",")
        x, y = table[:, :-1], table[:, -1]
        scaler = MinMaxScaler()
        scaler.fit(x)
        x = scaler.transform(x)
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        """
    assert messages(source, "BNF404") == [
        "scaler.fit(x) fits the scaler before train_test_split, so the evaluation part leaks into the scaling; "
        "fit on x_train after the split"
    ]


def test_the_split_of_a_read_table_is_repaired_on_its_training_part():
    assert_fix(
        """\
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        frame = pd.read_csv("houses/" + "train.csv")
        x = frame.drop(columns=["price"])
        y = frame["price"]
        scaler = StandardScaler()
        x = scaler.fit_transform(x)
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        """,
        """\
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        frame = pd.read_csv("houses/" + "train.csv")
        x = frame.drop(columns=["price"])
        y = frame["price"]
        scaler = StandardScaler()
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        x_train = scaler.fit_transform(x_train)
        x_test = scaler.transform(x_test)
        """,
        "BNF404",
    )


# keras-applications (and the model zoos that copy it): Keras's modules arrive through the builder's kwargs.
_INJECTED = """\
    from . import get_submodules_from_kwargs

    backend = None
    layers = None
    models = None


    def conv_block(x, filters):
        x = layers.Conv2D(filters, 3)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        return x


    def Net(weights="imagenet", **kwargs):
        global backend, layers, models, keras_utils
        backend, layers, models, keras_utils = get_submodules_from_kwargs(kwargs)
        inputs = layers.Input((32, 32, 3))
        model = models.Model(inputs, conv_block(inputs, 8))
        if weights is not None:
            model.load_weights(weights)
        return model
    """


def test_keras_modules_injected_by_get_submodules_from_kwargs_are_keras():
    assert codes_found(_INJECTED, policy="post") == ["BNF101"]
    [found] = messages(_INJECTED, "BNF101", policy="post")
    assert "model loads pretrained weights (line 21)" in found
    # Another function's result is not known to be Keras's.
    assert codes_found(_INJECTED.replace("get_submodules_from_kwargs(kwargs)", "load_plugins(kwargs)"), policy="post") == []
