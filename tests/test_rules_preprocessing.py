"""BNF401-BNF405 golden before/after cases: each rule in the shapes real training scripts take, the cases that must
never fire, branches and loops making the analysis give up, suppressions, and a second apply changing nothing."""

from __future__ import annotations

import textwrap

import pytest

from bnfix.engine import check_source, fix_source
from tests.helpers import assert_fix, codes_found, settings_for


def fixed(source: str, select: str | None = None) -> str:
    return fix_source(textwrap.dedent(source), settings_for(select)).source


def assert_untouched(source: str, select: str = "BNF4") -> None:
    """Golden for the cases that must not fire: nothing reported, and `apply` leaves the file byte for byte."""
    assert codes_found(source, select) == []
    assert fixed(source, select) == textwrap.dedent(source)


def messages(source: str, select: str) -> list[str]:
    return [d.message for d in check_source(textwrap.dedent(source), settings_for(select)).diagnostics]


# ------------------------------------------------------------------------------ BNF401 scaler re-fit on evaluation data


def test_refit_on_test_data_becomes_transform():
    assert_fix(
        """\
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)  # sensor units -> z-scores
        x_test = scaler.fit_transform(x_test)  # same for the test set
        """,
        """\
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)  # sensor units -> z-scores
        x_test = scaler.transform(x_test)  # same for the test set
        """,
        "BNF401",
    )


def test_refit_message_names_both_arrays():
    source = """\
        from sklearn import preprocessing
        sc = preprocessing.MinMaxScaler()
        train_s = sc.fit_transform(X_train)
        test_s = sc.fit_transform(X_test)
        """
    assert messages(source, "BNF401") == [
        "sc.fit_transform(X_test) re-fits the scaler on evaluation data after it was fit on training data X_train; "
        "transform X_test with the training fit"
    ]


def test_bare_refit_is_removed_and_its_comment_kept():
    assert_fix(
        """\
        import sklearn.preprocessing as skp

        sc = skp.RobustScaler()
        sc.fit(X_train)
        X_train = sc.transform(X_train)
        # the validation set has its own range
        sc.fit(X_val)
        X_val = sc.transform(X_val)
        """,
        """\
        import sklearn.preprocessing as skp

        sc = skp.RobustScaler()
        sc.fit(X_train)
        X_train = sc.transform(X_train)
        # the validation set has its own range
        X_val = sc.transform(X_val)
        """,
        "BNF401",
    )


def test_chained_refit_keeps_the_transform():
    assert_fix(
        """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler().fit(x_train)
        x_val_n = scaler.fit(x_val).transform(x_val)
        """,
        """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler().fit(x_train)
        x_val_n = scaler.transform(x_val)
        """,
        "BNF401",
    )


def test_roles_come_from_the_split_before_names():
    # `first` and `second` say nothing; their positions among train_test_split's outputs do.
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        first, second, y1, y2 = train_test_split(X, y, test_size=0.25)
        scaler = StandardScaler()
        first = scaler.fit_transform(first)
        second = scaler.fit_transform(second)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        first, second, y1, y2 = train_test_split(X, y, test_size=0.25)
        scaler = StandardScaler()
        first = scaler.fit_transform(first)
        second = scaler.transform(second)
        """,
        "BNF401",
    )


def test_roles_come_from_model_calls_before_names():
    assert_fix(
        """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        a_s = scaler.fit_transform(a)
        b_s = scaler.fit_transform(b)
        model.fit(a_s, labels_a, epochs=5)
        model.evaluate(b_s, labels_b)
        """,
        """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        a_s = scaler.fit_transform(a)
        b_s = scaler.transform(b)
        model.fit(a_s, labels_a, epochs=5)
        model.evaluate(b_s, labels_b)
        """,
        "BNF401",
    )


def test_split_position_outranks_a_misleading_name():
    # `x_test` here is the training part of the split: re-fitting on it is fitting on training data.
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        x_test, x_other = train_test_split(X)
        scaler = StandardScaler().fit(x_other)
        x_test = scaler.fit_transform(x_test)
        """
    assert_untouched(source, "BNF401")


def test_pandas_columns_refit_in_place():
    assert_fix(
        """\
        import pandas as pd
        from sklearn.preprocessing import MinMaxScaler
        train_df = pd.read_csv("train.csv")
        test_df = pd.read_csv("test.csv")
        cols = ["temp", "load"]
        scaler = MinMaxScaler()
        train_df[cols] = scaler.fit_transform(train_df[cols])
        test_df[cols] = scaler.fit_transform(test_df[cols])
        """,
        """\
        import pandas as pd
        from sklearn.preprocessing import MinMaxScaler
        train_df = pd.read_csv("train.csv")
        test_df = pd.read_csv("test.csv")
        cols = ["temp", "load"]
        scaler = MinMaxScaler()
        train_df[cols] = scaler.fit_transform(train_df[cols])
        test_df[cols] = scaler.transform(test_df[cols])
        """,
        "BNF401",
    )


def test_refit_inside_a_function_body():
    assert_fix(
        """\
        from sklearn.preprocessing import StandardScaler


        def prepare(x_train, x_test):
            scaler = StandardScaler()
            x_train = scaler.fit_transform(x_train)
            x_test = scaler.fit_transform(x_test)
            return x_train, x_test
        """,
        """\
        from sklearn.preprocessing import StandardScaler


        def prepare(x_train, x_test):
            scaler = StandardScaler()
            x_train = scaler.fit_transform(x_train)
            x_test = scaler.transform(x_test)
            return x_train, x_test
        """,
        "BNF401",
    )


def test_targets_and_features_are_not_counterparts():
    # One scaler object reused for y after x: transforming x_test with the y statistics would be wrong.
    source = """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        y_train = scaler.fit_transform(y_train)
        x_test = scaler.fit_transform(x_test)
        """
    assert_untouched(source, "BNF401")


def test_refit_not_imported_from_sklearn_is_left_alone():
    source = """\
        from mylib import StandardScaler
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        x_test = scaler.fit_transform(x_test)
        """
    assert_untouched(source, "BNF401")


# --------------------------------------------------------------------------- BNF402 second scaler on evaluation data


def test_two_anonymous_scalers_become_one_named_scaler():
    assert_fix(
        """\
        from sklearn.preprocessing import StandardScaler

        # standardise
        x_train = StandardScaler().fit_transform(x_train)
        x_test = StandardScaler().fit_transform(x_test)
        """,
        """\
        from sklearn.preprocessing import StandardScaler

        # standardise
        x_scaler = StandardScaler()
        x_train = x_scaler.fit_transform(x_train)
        x_test = x_scaler.transform(x_test)
        """,
        "BNF402",
    )


def test_second_named_scaler_is_removed_and_every_use_rewritten():
    assert_fix(
        """\
        from sklearn.preprocessing import MinMaxScaler

        sc = MinMaxScaler(feature_range=(0, 1))
        X_train = sc.fit_transform(X_train)

        # the test data gets its own scaler
        test_sc = MinMaxScaler(feature_range=(0, 1))
        test_sc.fit(X_test)
        X_test = test_sc.transform(X_test)
        print(X_test.shape)
        """,
        """\
        from sklearn.preprocessing import MinMaxScaler

        sc = MinMaxScaler(feature_range=(0, 1))
        X_train = sc.fit_transform(X_train)

        # the test data gets its own scaler
        X_test = sc.transform(X_test)
        print(X_test.shape)
        """,
        "BNF402",
    )


def test_second_scaler_with_another_use_is_reported_only():
    source = """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        test_scaler = StandardScaler()
        x_test = test_scaler.fit_transform(x_test)
        preds = test_scaler.inverse_transform(model.predict(x_test))
        """
    assert codes_found(source, "BNF402") == ["BNF402"]
    assert fixed(source, "BNF402") == textwrap.dedent(source)


def test_second_scaler_read_in_a_branch_header_is_reported_only():
    source = """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        test_scaler = StandardScaler()
        x_test = test_scaler.fit_transform(x_test)
        if test_scaler.transform(x_test[:1]).max() > 3:
            print("outliers")
        """
    assert codes_found(source, "BNF402") == ["BNF402"]
    assert fixed(source, "BNF402") == textwrap.dedent(source)


def test_second_scaler_of_another_class_is_reported_only():
    source = """\
        from sklearn.preprocessing import MinMaxScaler, StandardScaler
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        x_test = MinMaxScaler().fit_transform(x_test)
        """
    assert messages(source, "BNF402") == [
        "a second MinMaxScaler is fit on evaluation data x_test while scaler was fit on training data x_train; "
        "transform x_test with scaler"
    ]
    assert fixed(source, "BNF402") == textwrap.dedent(source)


def test_second_scaler_for_a_test_file_with_the_training_role_from_model_fit():
    # `X` says nothing by its name; `classifier.fit(X, y)` makes it the training data.
    assert_fix(
        """\
        import pandas as pd
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        X = pd.read_csv("train.csv").iloc[:, 1:71].values
        sc = StandardScaler()
        X = sc.fit_transform(X)
        classifier = SVC(kernel="rbf")
        classifier.fit(X, y)

        X_test = pd.read_csv("test.csv").iloc[:, 1:].values
        sc_test = StandardScaler()
        X_test = sc_test.fit_transform(X_test)
        y_pred = classifier.predict(X_test)
        """,
        """\
        import pandas as pd
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        X = pd.read_csv("train.csv").iloc[:, 1:71].values
        sc = StandardScaler()
        X = sc.fit_transform(X)
        classifier = SVC(kernel="rbf")
        classifier.fit(X, y)

        X_test = pd.read_csv("test.csv").iloc[:, 1:].values
        X_test = sc.transform(X_test)
        y_pred = classifier.predict(X_test)
        """,
        "BNF402",
    )


def test_separate_feature_and_target_scalers_are_not_second_scalers():
    source = """\
        from sklearn.preprocessing import StandardScaler
        x_scaler, y_scaler = StandardScaler(), StandardScaler()
        x_train = x_scaler.fit_transform(x_train)
        y_train = y_scaler.fit_transform(y_train)
        x_val = x_scaler.transform(x_val)
        y_val = y_scaler.transform(y_val)
        """
    assert_untouched(source, "BNF402")


# ----------------------------------------------------------------------------------- BNF403 raw evaluation data

SEED_EXAMPLE_3_BUGGY = """\
    import numpy as np
    from sklearn.preprocessing import StandardScaler
    from tensorflow import keras
    from tensorflow.keras.layers import Dense, BatchNormalization

    #Data generation with different scales
    x_train = np.random.rand(100, 10) * 100  # Scale of 0-100
    x_test = np.random.rand(10, 10) * 50 #Scale of 0-50
    y_train = np.random.rand(100,1)

    #Apply StandardScaler for proper scaling
    scaler = StandardScaler()
    x_train_scaled = scaler.fit_transform(x_train)

    model = keras.Sequential([
        Dense(64, input_shape=(10,)),
        BatchNormalization(),
        Dense(1)
    ])

    model.compile(optimizer='adam', loss='mse')
    model.fit(x_train_scaled, y_train, epochs=10)
    predictions = model.predict(x_test)
    """
# The seed document's Example 3 as written: "consistent fit/transform".
SEED_EXAMPLE_3 = """\
    import numpy as np
    from sklearn.preprocessing import StandardScaler
    from tensorflow import keras
    from tensorflow.keras.layers import Dense, BatchNormalization

    #Data generation with different scales
    x_train = np.random.rand(100, 10) * 100  # Scale of 0-100
    x_test = np.random.rand(10, 10) * 50 #Scale of 0-50
    y_train = np.random.rand(100,1)

    #Apply StandardScaler for proper scaling
    scaler = StandardScaler()
    x_train_scaled = scaler.fit_transform(x_train)
    x_test_scaled = scaler.transform(x_test)

    model = keras.Sequential([
        Dense(64, input_shape=(10,)),
        BatchNormalization(),
        Dense(1)
    ])

    model.compile(optimizer='adam', loss='mse')
    model.fit(x_train_scaled, y_train, epochs=10)
    predictions = model.predict(x_test_scaled)
    """


def test_seed_example_3_without_the_test_transform_is_repaired_to_the_seed():
    assert_fix(SEED_EXAMPLE_3_BUGGY, SEED_EXAMPLE_3, "BNF403")


def test_seed_example_3_is_clean_under_every_preprocessing_rule():
    assert codes_found(SEED_EXAMPLE_3, "BNF4") == []


def test_raw_data_message():
    assert messages(SEED_EXAMPLE_3_BUGGY, "BNF403") == [
        "model.predict() receives raw x_test, but model was fit on x_train_scaled scaled by scaler; "
        "pass scaler.transform(x_test)"
    ]


def test_new_name_follows_the_file_and_every_use_is_rewritten():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        sc = StandardScaler()
        X_train_std = sc.fit_transform(X_train)
        model.fit(X_train_std, y_train, epochs=20)
        loss = model.evaluate(X_test, y_test)
        first = model.predict(X_test[:1])
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        sc = StandardScaler()
        X_train_std = sc.fit_transform(X_train)
        X_test_std = sc.transform(X_test)
        model.fit(X_train_std, y_train, epochs=20)
        loss = model.evaluate(X_test_std, y_test)
        first = model.predict(X_test_std[:1])
        """,
        "BNF403",
    )


def test_new_name_never_clashes():
    assert_fix(
        """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        x_test_scaled = None
        scaler = StandardScaler()
        x_train_scaled = scaler.fit_transform(x_train)
        model.fit(x_train_scaled, y_train)
        model.predict(x_test)
        """,
        """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        x_test_scaled = None
        scaler = StandardScaler()
        x_train_scaled = scaler.fit_transform(x_train)
        x_test_scaled_2 = scaler.transform(x_test)
        model.fit(x_train_scaled, y_train)
        model.predict(x_test_scaled_2)
        """,
        "BNF403",
    )


def test_validation_and_test_data_both_scaled_next_to_the_fit():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        x_train, x_val, y_train, y_val = train_test_split(x_train, y_train)
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=5)
        model.evaluate(x_test, y_test)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        x_train, x_val, y_train, y_val = train_test_split(x_train, y_train)
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        x_val_scaled = scaler.transform(x_val)
        x_test_scaled = scaler.transform(x_test)
        model.fit(x_train, y_train, validation_data=(x_val_scaled, y_val), epochs=5)
        model.evaluate(x_test_scaled, y_test)
        """,
        "BNF403",
    )


def test_raw_data_defined_after_the_fit_is_scaled_after_its_definition():
    assert_fix(
        """\
        import pandas as pd
        from sklearn.preprocessing import StandardScaler
        x_train = pd.read_csv("train.csv").values
        scaler = StandardScaler()
        x_train_scaled = scaler.fit_transform(x_train)
        model.fit(x_train_scaled, y_train)
        x_new = pd.read_csv("new.csv").values
        print(model.predict(x_new))
        """,
        """\
        import pandas as pd
        from sklearn.preprocessing import StandardScaler
        x_train = pd.read_csv("train.csv").values
        scaler = StandardScaler()
        x_train_scaled = scaler.fit_transform(x_train)
        model.fit(x_train_scaled, y_train)
        x_new = pd.read_csv("new.csv").values
        x_new_scaled = scaler.transform(x_new)
        print(model.predict(x_new_scaled))
        """,
        "BNF403",
    )


def test_scaler_fit_inside_model_fit_and_anonymous():
    assert_fix(
        """\
        from sklearn.datasets import fetch_california_housing
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        x, y = fetch_california_housing(return_X_y=True)
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        model.fit(StandardScaler().fit_transform(x_train), y_train)
        model.predict(x_test)
        """,
        """\
        from sklearn.datasets import fetch_california_housing
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        x, y = fetch_california_housing(return_X_y=True)
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        x_scaler = StandardScaler()
        model.fit(x_scaler.fit_transform(x_train), y_train)
        x_test_scaled = x_scaler.transform(x_test)
        model.predict(x_test_scaled)
        """,
        "BNF403",
    )


def test_use_that_cannot_be_rewritten_is_reported_only():
    source = """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        x_train, x_test = np.load("train.npy"), np.load("test.npy")
        scaler = StandardScaler()
        model.fit(scaler.fit_transform(x_train), y_train)
        model.predict(np.expand_dims(x_test[0], 0))
        """
    assert codes_found(source, "BNF403") == ["BNF403"]
    assert fixed(source, "BNF403") == textwrap.dedent(source)


def test_main_guard_and_with_blocks_are_straight_line():
    assert_fix(
        """\
        import numpy as np
        import tensorflow as tf
        from sklearn.preprocessing import StandardScaler

        if __name__ == "__main__":
            x_train, x_test = np.load("train.npy"), np.load("test.npy")
            scaler = StandardScaler()
            with tf.device("/CPU:0"):
                x_train_n = scaler.fit_transform(x_train)
                model.fit(x_train_n, y_train)
            model.evaluate(x_test, y_test)
        """,
        """\
        import numpy as np
        import tensorflow as tf
        from sklearn.preprocessing import StandardScaler

        if __name__ == "__main__":
            x_train, x_test = np.load("train.npy"), np.load("test.npy")
            scaler = StandardScaler()
            with tf.device("/CPU:0"):
                x_train_n = scaler.fit_transform(x_train)
                x_test_n = scaler.transform(x_test)
                model.fit(x_train_n, y_train)
            model.evaluate(x_test_n, y_test)
        """,
        "BNF403",
    )


def test_model_fit_on_unscaled_data_is_not_compared():
    source = """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        x_train_s = scaler.fit_transform(x_train)
        model.fit(x_train, y_train)
        model.predict(x_test)
        """
    assert_untouched(source, "BNF403")


def test_parameters_may_arrive_scaled():
    source = """\
        from sklearn.preprocessing import StandardScaler

        def evaluate(model, scaler, x_train, x_test):
            model.fit(scaler.fit_transform(x_train), y)
            return model.evaluate(x_test)
        """
    assert_untouched(source, "BNF403")


def test_unnamed_models_are_not_linked():
    # `build_model().fit(...)` and `load_model(...).predict(...)` are different models, whatever they hold.
    source = """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        from tensorflow import keras
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        scaler = StandardScaler()
        build_model().fit(scaler.fit_transform(x_train), y_train)
        keras.models.load_model("baseline.keras").predict(x_test)
        """
    assert_untouched(source, "BNF403")


def test_keyword_arguments_are_followed():
    assert_fix(
        """\
        import numpy as np
        from sklearn.preprocessing import RobustScaler
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        rs = RobustScaler()
        xs = rs.fit_transform(x_train)
        model.fit(x=xs, y=y_train, epochs=3)
        model.evaluate(x=x_test, y=y_test)
        """,
        """\
        import numpy as np
        from sklearn.preprocessing import RobustScaler
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        rs = RobustScaler()
        xs = rs.fit_transform(x_train)
        x_test_scaled = rs.transform(x_test)
        model.fit(x=xs, y=y_train, epochs=3)
        model.evaluate(x=x_test_scaled, y=y_test)
        """,
        "BNF403",
    )


def test_raw_data_of_another_model_is_not_compared():
    source = """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        scaler = StandardScaler()
        model.fit(scaler.fit_transform(x_train), y_train)
        baseline.fit(x_train, y_train)
        baseline.predict(x_test)
        """
    assert_untouched(source, "BNF403")


# ------------------------------------------------------------------- BNF403/BNF404 a scaled split overwritten by a raw one

OVERWRITTEN_SPLIT = """\
    import numpy as np
    from sklearn.preprocessing import StandardScaler
    from sklearn.model_selection import train_test_split

    scaler = StandardScaler()
    X_scaled = scaler.fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X_scaled, y, test_size=0.2)
    # try another seed
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    model.fit(X_train, y_train, epochs=10)
    model.evaluate(X_test, y_test)
    """


def test_raw_split_overwriting_a_scaled_one_is_reported_as_raw_training_data():
    assert messages(OVERWRITTEN_SPLIT, "BNF4") == [
        "train_test_split(X, ...) overwrites X_train, X_test, y_train, y_test, split from scaled X_scaled at line 7, "
        "so model.fit() trains on raw X; split X_scaled once"
    ]


def test_bnf404_does_not_repair_the_dead_split_and_leave_the_live_one_raw():
    """Without --unsafe-fixes nothing may change: moving the scaling after the dead split would leave the model
    training on the raw split below it, and still look repaired."""
    assert codes_found(OVERWRITTEN_SPLIT, "BNF404") == []
    assert fixed(OVERWRITTEN_SPLIT, "BNF4") == textwrap.dedent(OVERWRITTEN_SPLIT)


def test_unsafe_fix_keeps_the_live_split_on_scaled_data_then_bnf404_moves_the_scaling():
    assert_fix(
        OVERWRITTEN_SPLIT,
        """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        from sklearn.model_selection import train_test_split

        scaler = StandardScaler()
        # try another seed
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
        X_train = scaler.fit_transform(X_train)
        X_test = scaler.transform(X_test)
        model.fit(X_train, y_train, epochs=10)
        model.evaluate(X_test, y_test)
        """,
        "BNF4",
        unsafe_fixes=True,
    )


def test_overwrite_without_a_model_says_only_that_later_code_sees_raw_data():
    source = """\
        from sklearn.preprocessing import MinMaxScaler
        from sklearn.model_selection import train_test_split

        X_scaled = MinMaxScaler().fit_transform(X)
        X_train, X_test, y_train, y_test = train_test_split(X_scaled, y)
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        """
    assert messages(source, "BNF403") == [
        "train_test_split(X, ...) overwrites X_train, X_test, y_train, y_test, split from scaled X_scaled at line 5, "
        "so the code after it uses raw X; split X_scaled once"
    ]


@pytest.mark.parametrize(
    "between",
    [
        "print(X_train.shape)\n",  # read in line
        "if X_train.shape[0] > 10:\n    print('big')\n",  # read in a branch the analysis does not follow
        "def summary():\n    return X_test.mean()\n",  # a function that may read it when called
    ],
)
def test_split_read_before_the_second_split_is_not_overwritten(between):
    """The scaled split was used for something before the raw one replaced it: no overwrite finding, and BNF404
    reports (and repairs) the leak of the first split as usual."""
    source = (
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\n\n"
        "X_scaled = StandardScaler().fit_transform(X)\n"
        "X_train, X_test, y_train, y_test = train_test_split(X_scaled, y)\n"
        + between
        + "X_train, X_test, y_train, y_test = train_test_split(X, y)\n"
    )
    assert not any("overwrites" in m for m in messages(source, "BNF4"))
    assert "BNF404" in codes_found(source, "BNF4")


def test_splitting_the_scaled_data_twice_is_not_raw():
    source = """\
        from sklearn.preprocessing import StandardScaler
        from sklearn.model_selection import train_test_split

        scaler = StandardScaler()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        X_train = scaler.fit_transform(X_train)
        X_test = scaler.transform(X_test)
        X_train, X_val, y_train, y_val = train_test_split(X_train, y_train)
        model.fit(X_train, y_train, validation_data=(X_val, y_val))
        """
    assert_untouched(source)


def test_a_split_that_only_partly_overwrites_the_scaled_one_is_not_reported():
    source = """\
        from sklearn.preprocessing import StandardScaler
        from sklearn.model_selection import train_test_split

        X_scaled = StandardScaler().fit_transform(X)
        X_train, X_test, y_train, y_test = train_test_split(X_scaled, y)
        X_train, X_val, y_train, y_val = train_test_split(X, y)
        """
    assert not any("overwrites" in m for m in messages(source, "BNF4"))


# --------------------------------------------------------------------------------- BNF404 scaler fit before the split


def test_fit_transform_before_split_moves_after_it():
    assert_fix(
        """\
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        df = pd.read_csv("housing.csv")
        X = df.drop(columns=["price"]).values
        y = df["price"].values

        # standardise the features
        scaler = StandardScaler()
        X = scaler.fit_transform(X)  # zero mean, unit variance
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
        model.fit(X_train, y_train, epochs=50)
        """,
        """\
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        df = pd.read_csv("housing.csv")
        X = df.drop(columns=["price"]).values
        y = df["price"].values

        # standardise the features
        scaler = StandardScaler()
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
        X_train = scaler.fit_transform(X_train)  # zero mean, unit variance
        X_test = scaler.transform(X_test)
        model.fit(X_train, y_train, epochs=50)
        """,
        "BNF404",
    )


def test_scaled_copy_before_split_moves_after_it_and_the_split_takes_the_raw_array():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import MinMaxScaler
        mm = MinMaxScaler()
        X_scaled = mm.fit_transform(X)
        X_tr, X_te, y_tr, y_te = train_test_split(X_scaled, y)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import MinMaxScaler
        mm = MinMaxScaler()
        X_tr, X_te, y_tr, y_te = train_test_split(X, y)
        X_tr = mm.fit_transform(X_tr)
        X_te = mm.transform(X_te)
        """,
        "BNF404",
    )


def test_fit_then_transform_before_split():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        scaler.fit(features)
        features = scaler.transform(features)
        train_x, test_x, train_y, test_y = train_test_split(features, labels)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        train_x, test_x, train_y, test_y = train_test_split(features, labels)
        scaler.fit(train_x)
        train_x = scaler.transform(train_x)
        test_x = scaler.transform(test_x)
        """,
        "BNF404",
    )


def test_fit_before_split_with_transforms_after_it():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler().fit(X)
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        scaler.fit(X_train)
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test)
        """,
        "BNF404",
    )


def test_anonymous_scaler_before_split_gets_a_name():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X = StandardScaler().fit_transform(X)
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        X_scaler = StandardScaler()
        X_train = X_scaler.fit_transform(X_train)
        X_test = X_scaler.transform(X_test)
        """,
        "BNF404",
    )


def test_fit_on_the_whole_array_after_the_split():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        scaler = StandardScaler()
        scaler.fit(X)
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        scaler = StandardScaler()
        scaler.fit(X_train)
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test)
        """,
        "BNF404",
    )


def test_features_and_targets_scaled_before_the_split_each_move_after_it():
    # y is computed from x, so both come from the same data; each scaler still goes with its own split input.
    assert_fix(
        """\
        import numpy as np
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import MinMaxScaler, StandardScaler
        x = np.random.rand(200, 3)
        y = x.sum(axis=1, keepdims=True) * 2
        xs, ys = StandardScaler(), MinMaxScaler()
        x = xs.fit_transform(x)
        y = ys.fit_transform(y)
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        """,
        """\
        import numpy as np
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import MinMaxScaler, StandardScaler
        x = np.random.rand(200, 3)
        y = x.sum(axis=1, keepdims=True) * 2
        xs, ys = StandardScaler(), MinMaxScaler()
        x_train, x_test, y_train, y_test = train_test_split(x, y)
        y_train = ys.fit_transform(y_train)
        y_test = ys.transform(y_test)
        x_train = xs.fit_transform(x_train)
        x_test = xs.transform(x_test)
        """,
        "BNF404",
    )


def test_refit_on_all_the_data_for_the_final_model_is_not_a_leak():
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        scaler = StandardScaler().fit(X_train)
        model.fit(scaler.transform(X_train), y_train)
        model.evaluate(scaler.transform(X_test), y_test)
        # production model: everything we have
        final_scaler = StandardScaler()
        X_all = final_scaler.fit_transform(X)
        final_model.fit(X_all, y)
        """
    assert_untouched(source)


def test_fit_transform_on_the_whole_array_after_the_split_is_reported_only():
    # `X = scaler.fit_transform(X_train)` would change what X holds: no fix.
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_val, y_train, y_val = train_test_split(X, y)
        scaler = StandardScaler()
        X = scaler.fit_transform(X)
        X_val = scaler.transform(X_val)
        """
    assert codes_found(source, "BNF404") == ["BNF404"]
    assert fixed(source, "BNF404") == textwrap.dedent(source)


def test_scaling_wrapped_in_a_dataframe_before_split_is_reported_only():
    # `X_train = scaler.fit_transform(X_train)` would lose the DataFrame and its column names.
    source = """\
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        df = pd.read_csv("data.csv")
        X = df.drop(columns=["y"])
        scaler = StandardScaler()
        X = pd.DataFrame(scaler.fit_transform(X), columns=X.columns)
        X_train, X_test, y_train, y_test = train_test_split(X, df["y"])
        """
    assert codes_found(source, "BNF404") == ["BNF404"]
    assert fixed(source, "BNF404") == textwrap.dedent(source)


def test_scaled_whole_array_used_elsewhere_is_reported_only():
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        X = scaler.fit_transform(X)
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        model.fit(X_train, y_train)
        plot_embedding(model.predict(X))
        """
    assert messages(source, "BNF404") == [
        "scaler.fit_transform(X) fits the scaler before train_test_split, so the evaluation part leaks into the "
        "scaling; fit on X_train after the split"
    ]
    assert fixed(source, "BNF404") == textwrap.dedent(source)


def test_scaler_used_between_fit_and_split_is_reported_only():
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        X = scaler.fit_transform(X)
        joblib_dump(scaler)
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        """
    assert codes_found(source, "BNF404") == ["BNF404"]
    assert fixed(source, "BNF404") == textwrap.dedent(source)


def test_fit_before_slicing_into_parts_is_reported_only():
    source = """\
        import pandas as pd
        from sklearn.preprocessing import MinMaxScaler
        series = pd.read_csv("load.csv")[["load"]].values
        scaler = MinMaxScaler()
        scaled = scaler.fit_transform(series)
        train = scaled[:800]
        test = scaled[800:]
        """
    assert messages(source, "BNF404") == [
        "scaler.fit_transform(series) fits the scaler on all of series, which is later divided into training and "
        "evaluation parts; fit on the training part"
    ]
    assert fixed(source, "BNF404") == textwrap.dedent(source)


# --------------------------------------------------------------------------- BNF405 Normalization.adapt on all the data


def test_adapt_before_split_moves_after_it():
    assert_fix(
        """\
        import numpy as np
        from sklearn.model_selection import train_test_split
        from tensorflow import keras

        normalizer = keras.layers.Normalization(axis=-1)
        # learn mean and variance
        normalizer.adapt(X)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
        model = keras.Sequential([normalizer, keras.layers.Dense(1)])
        """,
        """\
        import numpy as np
        from sklearn.model_selection import train_test_split
        from tensorflow import keras

        normalizer = keras.layers.Normalization(axis=-1)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
        # learn mean and variance
        normalizer.adapt(X_train)
        model = keras.Sequential([normalizer, keras.layers.Dense(1)])
        """,
        "BNF405",
    )


def test_adapt_before_split_with_the_layer_used_in_between_is_reported_only():
    source = """\
        from sklearn.model_selection import train_test_split
        from tensorflow.keras import layers, Sequential
        norm = layers.Normalization()
        norm.adapt(X)
        model = Sequential([norm, layers.Dense(1)])
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        """
    assert messages(source, "BNF405") == [
        "norm.adapt(X) adapts on all the data before train_test_split; adapt on X_train after the split"
    ]
    assert fixed(source, "BNF405") == textwrap.dedent(source)


def test_adapt_on_the_whole_array_after_the_split():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from tensorflow.keras import layers
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        norm = layers.Normalization()
        norm.adapt(X.values)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from tensorflow.keras import layers
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        norm = layers.Normalization()
        norm.adapt(X_train.values)
        """,
        "BNF405",
    )


def test_adapt_on_the_whole_array_after_the_split_in_a_method():
    assert_fix(
        """\
        import numpy as np
        from sklearn.model_selection import train_test_split
        from tensorflow.keras.layers.experimental import preprocessing


        class Regressor:
            def train(self, X, y):
                x_train, x_val, y_train, y_val = train_test_split(X, y, test_size=0.1)
                normalizer = preprocessing.Normalization(input_shape=[x_train.shape[1]])
                normalizer.adapt(np.array(X))
                self.model = self.build(normalizer)
                self.model.fit(x_train, y_train, validation_data=(x_val, y_val))
        """,
        """\
        import numpy as np
        from sklearn.model_selection import train_test_split
        from tensorflow.keras.layers.experimental import preprocessing


        class Regressor:
            def train(self, X, y):
                x_train, x_val, y_train, y_val = train_test_split(X, y, test_size=0.1)
                normalizer = preprocessing.Normalization(input_shape=[x_train.shape[1]])
                normalizer.adapt(np.array(x_train))
                self.model = self.build(normalizer)
                self.model.fit(x_train, y_train, validation_data=(x_val, y_val))
        """,
        "BNF405",
    )


def test_adapt_on_evaluation_data_is_reported():
    source = """\
        from keras import layers
        norm = layers.Normalization()
        norm.adapt(x_test)
        """
    assert messages(source, "BNF405") == ["norm.adapt(x_test) adapts on evaluation data; adapt on the training data"]


def test_adapt_on_training_data_is_fine():
    source = """\
        import numpy as np
        from tensorflow.keras.layers.experimental.preprocessing import Normalization
        (x_train, y_train), (x_test, y_test) = load()
        norm = Normalization()
        norm.adapt(np.array(x_train))
        """
    assert_untouched(source, "BNF405")


# ---------------------------------------------------------------------------------------- must not fire (issue #4)


def test_per_sample_normalisation_in_a_loop_is_left_alone():
    source = """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        for i in range(len(x_test)):
            x_test[i] = scaler.fit_transform(x_test[i])
        model.fit(x_train, y_train)
        model.predict(x_test)
        """
    assert_untouched(source)


def test_per_sample_normalisation_in_a_comprehension_is_left_alone():
    source = """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        x_train = np.array([StandardScaler().fit_transform(img) for img in x_train])
        x_test = np.array([StandardScaler().fit_transform(img) for img in x_test])
        model.fit(x_train, y_train)
        model.evaluate(x_test, y_test)
        """
    assert_untouched(source)


def test_differently_named_array_from_the_training_data_is_left_alone():
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        scaler = StandardScaler().fit(X_train)
        X_val = X_train[-200:]  # carved out of the training data
        X_val_scaled = scaler.transform(X_val)
        model.fit(scaler.transform(X_train[:-200]), y_train[:-200], validation_data=(X_val_scaled, y_train[-200:]))
        calibration = scaler.transform(X_train)
        model.predict(calibration[:10])
        model.evaluate(scaler.transform(X_test), y_test)
        """
    assert_untouched(source)


def test_time_series_windows_from_an_already_split_scaled_frame_are_left_alone():
    source = """\
        import numpy as np
        import pandas as pd
        from sklearn.preprocessing import MinMaxScaler

        df = pd.read_csv("energy.csv", parse_dates=["time"])
        n = int(len(df) * 0.8)
        train_df, test_df = df[:n], df[n:]
        scaler = MinMaxScaler()
        train_scaled = scaler.fit_transform(train_df[["load"]])
        test_scaled = scaler.transform(test_df[["load"]])

        X_train, y_train = [], []
        for i in range(60, len(train_scaled)):
            X_train.append(train_scaled[i - 60:i, 0])
            y_train.append(train_scaled[i, 0])
        X_train, y_train = np.array(X_train), np.array(y_train)
        X_test, y_test = [], []
        for i in range(60, len(test_scaled)):
            X_test.append(test_scaled[i - 60:i, 0])
            y_test.append(test_scaled[i, 0])
        X_test, y_test = np.array(X_test), np.array(y_test)

        model.fit(X_train, y_train, epochs=10)
        predictions = scaler.inverse_transform(model.predict(X_test))
        """
    assert_untouched(source)


def test_data_loaded_already_scaled_by_a_helper_is_left_alone():
    source = """\
        from sklearn.preprocessing import StandardScaler
        from preprocessing_utils import load_split

        x_train, x_test, y_train, y_test = load_split("data/", standardize=True)
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        model.fit(x_train, y_train)
        x_holdout = read_scaled_holdout()
        model.evaluate(x_holdout, y_holdout)
        """
    assert_untouched(source)


def test_pipelines_are_left_alone():
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import StandardScaler
        from scikeras.wrappers import KerasRegressor

        X_train, X_test, y_train, y_test = train_test_split(X, y)
        pipe = make_pipeline(StandardScaler(), KerasRegressor(build_model, epochs=10))
        pipe.fit(X_train, y_train)
        pipe.predict(X_test)
        scaler = StandardScaler()
        full = Pipeline([("scale", scaler), ("net", KerasRegressor(build_model))])
        full.fit(X_train, y_train)
        full.score(X_test, y_test)
        """
    assert_untouched(source)


# ------------------------------------------------------------------------------------- branches and loops give up


@pytest.mark.parametrize(
    "block",
    [
        "if refit:\n    x_test = scaler.fit_transform(x_test)\n",
        "for epoch in range(3):\n    x_test = scaler.fit_transform(x_test)\n",
        "while retry:\n    x_test = scaler.fit_transform(x_test)\n",
        "try:\n    x_test = scaler.fit_transform(x_test)\nexcept ValueError:\n    pass\n",
    ],
    ids=["if", "for", "while", "try"],
)
def test_refit_in_a_branch_or_loop_gives_up(block):
    source = "from sklearn.preprocessing import StandardScaler\nscaler = StandardScaler()\n"
    source += "x_train = scaler.fit_transform(x_train)\n" + block
    assert_untouched(source)


def test_branch_that_scales_gives_up_on_what_follows():
    source = """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        if args.scale_test:
            x_test = scaler.transform(x_test)
        model.fit(x_train, y_train)
        model.predict(x_test)
        """
    assert_untouched(source)


def test_loop_that_rebinds_an_array_makes_it_unknown():
    source = """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        scaler = StandardScaler()
        model.fit(scaler.fit_transform(x_train), y_train)
        for path in extra_files:
            x_test = np.concatenate([x_test, np.load(path)])
        model.predict(x_test)
        """
    assert_untouched(source, "BNF403")


def test_unrelated_branches_do_not_stop_the_analysis():
    source = """\
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        if not os.path.exists("out"):
            os.makedirs("out")
        x_train, x_test = np.load("a.npy"), np.load("b.npy")
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        for layer in model.layers[:-2]:
            layer.trainable = False
        x_test = scaler.fit_transform(x_test)
        """
    assert codes_found(source, "BNF4") == ["BNF401"]


# ---------------------------------------------------------------------------------------------- suppressions


def test_bnfix_ignore_comment_suppresses_bnf403():
    source = SEED_EXAMPLE_3_BUGGY.replace(
        "predictions = model.predict(x_test)", "predictions = model.predict(x_test)  # bnfix: ignore[BNF403]"
    )
    assert_untouched(source)
    assert fixed(source, "BNF4") == textwrap.dedent(source)


def test_noqa_comment_suppresses_bnf401_only():
    source = """\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        x_train = scaler.fit_transform(x_train)
        x_test = scaler.fit_transform(x_test)  # noqa: BNF401
        """
    assert_untouched(source, "BNF401")
    assert fixed(source, "BNF401") == textwrap.dedent(source)
    other = source.replace("noqa: BNF401", "noqa: BNF402")
    assert codes_found(other, "BNF401") == ["BNF401"]


def test_ignore_on_the_line_above():
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        # bnfix: ignore[BNF404]
        X = scaler.fit_transform(X)
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        """
    assert_untouched(source, "BNF404")


# ------------------------------------------------------------------------------------- whole scripts, all rules


LEAKY_SCRIPT = """\
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    from tensorflow import keras


    def main():
        X = np.load("features.npy")
        y = np.load("targets.npy")
        scaler = StandardScaler()
        X = scaler.fit_transform(X)
        X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.3)
        X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5)
        X_val = scaler.fit_transform(X_val)
        model = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=5)
        print(model.evaluate(X_test, y_test))
    """


LEAKY_SCRIPT_REPAIRED = """\
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    from tensorflow import keras


    def main():
        X = np.load("features.npy")
        y = np.load("targets.npy")
        scaler = StandardScaler()
        X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.3)
        X_train = scaler.fit_transform(X_train)
        X_rest = scaler.transform(X_rest)
        X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5)
        model = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=5)
        print(model.evaluate(X_test, y_test))
    """


def test_all_rules_together_reach_a_fixed_point():
    # BNF404 moves the scaling after the first split; the validation part then arrives scaled already, and
    # BNF401 drops its re-fit instead of scaling it a second time.
    assert_fix(LEAKY_SCRIPT, LEAKY_SCRIPT_REPAIRED, "BNF4")
    result = fix_source(textwrap.dedent(LEAKY_SCRIPT), settings_for("BNF4"))
    assert [d.code for d in result.fixed] == ["BNF404", "BNF401"]
    assert result.diagnostics == []


def test_refit_on_data_the_scaler_already_scaled_is_dropped():
    assert_fix(
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_rest = train_test_split(X)
        scaler = StandardScaler()
        X_train = scaler.fit_transform(X_train)
        X_rest = scaler.transform(X_rest)
        X_val, X_test = train_test_split(X_rest)
        # standardise the validation data
        X_val = scaler.fit_transform(X_val)
        X_test_n = scaler.fit_transform(X_test)
        """,
        """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_rest = train_test_split(X)
        scaler = StandardScaler()
        X_train = scaler.fit_transform(X_train)
        X_rest = scaler.transform(X_rest)
        X_val, X_test = train_test_split(X_rest)
        # standardise the validation data
        X_test_n = X_test
        """,
        "BNF401",
    )


def test_second_scaler_on_data_scaled_already_is_reported_only():
    source = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
        X_train, X_rest = train_test_split(X)
        scaler = StandardScaler()
        X_train = scaler.fit_transform(X_train)
        X_rest = scaler.transform(X_rest)
        X_val, X_test = train_test_split(X_rest)
        X_test = StandardScaler().fit_transform(X_test)
        """
    assert codes_found(source, "BNF402") == ["BNF402"]
    assert fixed(source, "BNF402") == textwrap.dedent(source)
