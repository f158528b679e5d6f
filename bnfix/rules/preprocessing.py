"""BNF401-BNF405: inconsistent preprocessing between training and evaluation data (the seed's third cause).

All five rules read the same straight-line data flow (`bnfix.analysis.dataflow`): which scalers were fit on what, which
arrays are training or evaluation data, and which reached the model scaled or raw. The fixes apply scikit-learn's
rule: fit on the training part only, transform everything else with that same fitted scaler; the repairs
themselves are written in `bnfix.rules.preprocessing_fixes`.
"""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from bnfix.analysis.data_roles import Role, Roles, counterparts
from bnfix.analysis.dataflow import FITTING_METHODS, module_flows
from bnfix.analysis.dataflow_values import Array, Concat, FitEvent, Flow, ModelEvent, Scaler, SplitEvent
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.syntax_facts import SyntaxFacts
from bnfix.fixes.safety import FixSafety
from bnfix.rules.base import Invalid, Rule, Valid, Violation
from bnfix.rules.preprocessing_fixes import (
    adapt_fix,
    adapt_on_training_element,
    drop_refit_fix,
    fit_on_training_part,
    move_after_split,
    raw_data_fix,
    refit_fix,
    resplit_scaled_fix,
    root_name,
    second_scaler_fix,
    split_parts,
)
from bnfix.fixes.statement_edits import TakenNames


_SK = "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\n"
_KERAS = "import numpy as np\nfrom tensorflow.keras import layers\nfrom sklearn.model_selection import train_test_split\n"


class ScalerRefitOnEvaluationData(Rule):
    """
    ## What it does
    Finds a scaler that was fit on training data and is then fit again on evaluation data:
    `scaler.fit_transform(x_test)` or `scaler.fit(x_val)` after `scaler.fit_transform(x_train)`. Scalers are
    scikit-learn's `StandardScaler`, `MinMaxScaler`, `RobustScaler`, `MaxAbsScaler`, `QuantileTransformer` and
    `PowerTransformer`, however imported. Training and evaluation data are told apart by `train_test_split`
    positions, by what reaches `model.fit` versus `evaluate`/`predict`/`validation_data`, and only then by names
    (`x_test`, `X_val`, `testX`).

    ## Why is this bad?
    The evaluation data is then scaled with its own mean and spread, not the training data's: the model sees
    inputs from a different distribution than it was trained on, and BatchNormalization's moving statistics,
    learned on the training scale, no longer match. scikit-learn's "Common pitfalls" page gives the rule: never
    call `fit` on test data; fit on the training part and `transform` the rest. Its inconsistent-preprocessing
    example measures a test MSE of 62.80 against 0.90 when train and test data are scaled consistently.

    ## Example
    ```python
    x_train = scaler.fit_transform(x_train)
    x_test = scaler.fit_transform(x_test)
    ```

    Use instead:
    ```python
    x_train = scaler.fit_transform(x_train)
    x_test = scaler.transform(x_test)
    ```

    A bare `scaler.fit(x_val)` statement is removed; `scaler.fit(x_val).transform(x_val)` becomes
    `scaler.transform(x_val)`.

    ## Fix safety
    Safe: the evaluation data is transformed with the statistics of the training fit, as scikit-learn prescribes.
    Evaluation scores change, because they stop being computed on differently scaled data.
    """

    code = "BNF401"
    name = "scaler-refit-on-eval-data"
    summary = "a scaler fit on training data is fit again on evaluation data"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\nx_test = scaler.transform(x_test)\n"),
        # Re-fitting on more training data is not a leak.
        Valid(_SK + "scaler = StandardScaler()\nscaler.fit(x_train)\nx_tr = scaler.fit_transform(x_train[:500])\n"),
        # Per-sample normalisation: a fit per image, inside a comprehension.
        Valid(_SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\n"
              "x_test = np.array([scaler.fit_transform(image) for image in x_test])\n"),
        # Normalizer rescales each sample on its own: its fit learns nothing.
        Valid("from sklearn.preprocessing import Normalizer\nnorm = Normalizer()\nx_train = norm.fit_transform(x_train)\n"
              "x_test = norm.fit_transform(x_test)\n"),
        # A branch: the analysis does not guess which fit ran.
        Valid(_SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\nif refit:\n"
              "    x_test = scaler.fit_transform(x_test)\n"),
    ]
    INVALID = [
        Invalid(
            _SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\nx_test = scaler.fit_transform(x_test)\n",
            _SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\nx_test = scaler.transform(x_test)\n",
        ),
        Invalid(
            _SK + "X_train, X_val, y_train, y_val = train_test_split(X, y)\nsc = StandardScaler().fit(X_train)\n"
            "# refit for validation\nsc.fit(X_val)\nX_val = sc.transform(X_val)\n",
            _SK + "X_train, X_val, y_train, y_val = train_test_split(X, y)\nsc = StandardScaler().fit(X_train)\n"
            "# refit for validation\nX_val = sc.transform(X_val)\n",
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for flow in module_flows(ctx):
            roles = Roles(flow)
            for event in flow.fits:
                if _leak_blind(event.scaler, event.order) or roles.of(event.data) is not Role.EVAL:
                    continue
                earlier = [f for f in event.scaler.fits if f.order < event.order and roles.of(f.data) is not Role.EVAL]
                if not earlier or roles.of(earlier[-1].data) is not Role.TRAIN:
                    continue
                training = earlier[-1]
                if counterparts(training.data.root, event.data.root) is False:  # type: ignore[union-attr]
                    continue
                receiver = ctx.code_for(event.call.func.value)  # type: ignore[attr-defined]
                evaluation, train = _label(ctx, event), _label(ctx, training)
                call = f"{receiver}.{event.method}({evaluation})"
                if any(s.scaler is event.scaler for s in event.data.scalings):  # type: ignore[union-attr]
                    message = (f"{call} re-fits the scaler on evaluation data it already scaled with the fit on "
                               f"training data {train}; drop the re-fit")
                    yield Violation(event.call, message, drop_refit_fix(ctx, event, train))
                    continue
                message = (f"{call} re-fits the scaler on evaluation data after it was fit on training data "
                           f"{train}; transform {evaluation} with the training fit")
                yield Violation(event.call, message, refit_fix(ctx, event, train))


class SecondScalerOnEvaluationData(Rule):
    """
    ## What it does
    Finds a second scaler object fit on evaluation data while another scaler was fit on the matching training
    data: `test_scaler = StandardScaler(); x_test = test_scaler.fit_transform(x_test)` next to
    `x_train = scaler.fit_transform(x_train)`, or two anonymous `StandardScaler().fit_transform(...)` calls.

    ## Why is this bad?
    Each part of the data is standardised with its own statistics, so the same raw value maps to different
    inputs in training and in evaluation: the model (and BatchNormalization's moving mean and variance) is
    evaluated on a shifted distribution, and the test data's statistics leak into the evaluation. scikit-learn's
    "Common pitfalls" page: the same transformation learnt on the training data must be applied to the test
    data; its inconsistent-preprocessing example scores a test MSE of 62.80 against 0.90 when done consistently.

    ## Example
    ```python
    x_train = StandardScaler().fit_transform(x_train)
    x_test = StandardScaler().fit_transform(x_test)
    ```

    Use instead:
    ```python
    x_scaler = StandardScaler()
    x_train = x_scaler.fit_transform(x_train)
    x_test = x_scaler.transform(x_test)
    ```

    ## Fix safety
    Safe when the second scaler has no other use (its only calls are `fit`, `fit_transform` and `transform`):
    it is removed and the training scaler transforms the evaluation data. When the second scaler is used
    otherwise (`inverse_transform`, saved, passed to a helper) or is a different class, bnfix only reports.
    """

    code = "BNF402"
    name = "second-scaler-on-eval-data"
    summary = "a second scaler is fit on evaluation data instead of reusing the training scaler"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\nx_test = scaler.transform(x_test)\n"),
        # Features and targets have scalers of their own.
        Valid(_SK + "x_scaler = StandardScaler()\ny_scaler = StandardScaler()\nx_train = x_scaler.fit_transform(x_train)\n"
              "y_train = y_scaler.fit_transform(y_train)\nx_test = x_scaler.transform(x_test)\n"),
        # A pipeline scales inside its own fit and predict.
        Valid(_SK + "from sklearn.pipeline import make_pipeline\nfrom sklearn.linear_model import Ridge\n"
              "model = make_pipeline(StandardScaler(), Ridge())\nmodel.fit(x_train, y_train)\nmodel.predict(x_test)\n"),
    ]
    INVALID = [
        Invalid(
            _SK + "x_train = StandardScaler().fit_transform(x_train)\nx_test = StandardScaler().fit_transform(x_test)\n",
            _SK + "x_scaler = StandardScaler()\nx_train = x_scaler.fit_transform(x_train)\nx_test = x_scaler.transform(x_test)\n",
        ),
        Invalid(
            _SK + "scaler = StandardScaler()\nx_train_s = scaler.fit_transform(x_train)\n\n# scale the test set\n"
            "test_scaler = StandardScaler()\nx_test_s = test_scaler.fit_transform(x_test)\n",
            _SK + "scaler = StandardScaler()\nx_train_s = scaler.fit_transform(x_train)\n\n# scale the test set\n"
            "x_test_s = scaler.transform(x_test)\n",
        ),
        # The second scaler is needed later: report only.
        Invalid(
            _SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\ntest_scaler = StandardScaler()\n"
            "x_test = test_scaler.fit_transform(x_test)\nprint(test_scaler.mean_)\n"
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for flow in module_flows(ctx):
            roles = Roles(flow)
            for event in flow.fits:
                second = event.scaler
                if _leak_blind(second, event.order) or roles.of(event.data) is not Role.EVAL:
                    continue
                if any(f.order < event.order and roles.of(f.data) is not Role.EVAL for f in second.fits):
                    continue  # fit on training data before: BNF401's case
                training = _training_fit(flow, roles, event)
                if training is None:
                    continue
                evaluation, train = _label(ctx, event), _label(ctx, training)
                first = _scaler_label(ctx, flow, training)
                yield Violation(
                    event.call,
                    f"a second {second.class_name} is fit on evaluation data {evaluation} while {first} was fit on "
                    f"training data {train}; transform {evaluation} with {first}",
                    second_scaler_fix(ctx, flow, event, training, train),
                )


def _training_fit(flow: Flow, roles: Roles, event: FitEvent) -> FitEvent | None:
    """The fit, on the matching training data, of another scaler that is still in force when `event` runs."""
    candidates: dict[bool | None, list[FitEvent]] = {True: [], None: []}
    for scaler in {f.scaler for f in flow.fits if f.order < event.order} - {event.scaler}:
        fits = [f for f in scaler.fits if f.order < event.order and roles.of(f.data) is not Role.EVAL]
        if _leak_blind(scaler, event.order) or not fits or roles.of(fits[-1].data) is not Role.TRAIN:
            continue
        match = counterparts(fits[-1].data.root, event.data.root)  # type: ignore[union-attr]
        if match is not False:
            candidates[match].append(fits[-1])
    found = candidates[True] or candidates[None]
    return found[0] if len(found) == 1 else None


class RawEvaluationData(Rule):
    """
    ## What it does
    Finds a model fit on scaled training data that is then evaluated or asked to predict on raw, unscaled data:
    `model.fit(x_train_scaled, y_train)` followed by `model.predict(x_test)` (or `evaluate`, or
    `validation_data=(x_val, y_val)`), where `x_test` never went through the scaler. The fix inserts
    `x_test_scaled = scaler.transform(x_test)` next to the scaler's fit and passes it instead.

    Also finds a split of scaled data overwritten by a split of the raw data before anything reads it:
    `X_train, X_test, ... = train_test_split(X_scaled, ...)` followed by `X_train, X_test, ... =
    train_test_split(X, ...)`, which leaves the model training (and evaluated) on unscaled data.

    Left alone: data whose origin the analysis cannot see (loaded or built by a helper, hand-scaled with
    arithmetic, windows built in a loop, function parameters), pipelines, and models fit on unscaled data.

    ## Why is this bad?
    The model learnt on scaled inputs (mean 0 and unit variance for `StandardScaler`, [0, 1] for `MinMaxScaler`);
    raw inputs are on another scale entirely, so its first layers and BatchNormalization's moving statistics,
    learnt on the scaled data, describe nothing the raw inputs look like, and the outputs are off.
    This is the inconsistent preprocessing of scikit-learn's "Common pitfalls" page, whose example measures a
    test MSE of 62.80 with unscaled test data against 0.90 when test data is scaled the same way.

    ## Example
    ```python
    x_train_scaled = scaler.fit_transform(x_train)
    model.fit(x_train_scaled, y_train, epochs=10)
    predictions = model.predict(x_test)
    ```

    Use instead:
    ```python
    x_train_scaled = scaler.fit_transform(x_train)
    x_test_scaled = scaler.transform(x_test)
    model.fit(x_train_scaled, y_train, epochs=10)
    predictions = model.predict(x_test_scaled)
    ```

    ## Fix safety
    Safe: the inserted line transforms the evaluation data with the scaler already fit on the training data;
    the new name follows the file's naming (`x_train` -> `x_train_std` gives `x_test_std`) and never clashes
    with an existing one. When a use cannot be rewritten (`model.predict(np.array(x_test))`), bnfix reports only.

    Unsafe for an overwritten scaled split: the overwritten split is removed and the remaining one splits the
    scaled data, keeping its own arguments, so the model trains on other inputs than before (which is the point,
    but only the author knows which split was meant). BNF404 then moves the scaling after the split.
    """

    code = "BNF403"
    name = "raw-evaluation-data"
    summary = "a model fit on scaled data is evaluated or used on raw data"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_SK + "scaler = StandardScaler()\nx_train_scaled = scaler.fit_transform(x_train)\n"
              "x_test_scaled = scaler.transform(x_test)\nmodel.fit(x_train_scaled, y_train)\nmodel.predict(x_test_scaled)\n"),
        # A differently named array taken from the scaled training data is scaled.
        Valid(_SK + "scaler = StandardScaler()\nx_train_scaled = scaler.fit_transform(x_train)\n"
              "model.fit(x_train_scaled, y_train)\nsample = x_train_scaled[:8]\nmodel.predict(sample)\n"),
        # Data loaded by a helper we cannot see may be scaled already.
        Valid(_SK + "from data import load_scaled\nscaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\n"
              "model.fit(x_train, y_train)\nx_test = load_scaled('test.csv')\nmodel.evaluate(x_test, y_test)\n"),
        # Hand scaling is still scaling.
        Valid(_SK + "scaler = StandardScaler()\nx_train = scaler.fit_transform(x_train)\nmodel.fit(x_train, y_train)\n"
              "x_test = (x_test - scaler.mean_) / scaler.scale_\nmodel.predict(x_test)\n"),
    ]
    INVALID = [
        Invalid(
            _SK + "x_train = np.random.rand(100, 10) * 100\nx_test = np.random.rand(10, 10) * 50\n"
            "scaler = StandardScaler()\nx_train_scaled = scaler.fit_transform(x_train)\n"
            "model.fit(x_train_scaled, y_train, epochs=10)\npredictions = model.predict(x_test)\n",
            _SK + "x_train = np.random.rand(100, 10) * 100\nx_test = np.random.rand(10, 10) * 50\n"
            "scaler = StandardScaler()\nx_train_scaled = scaler.fit_transform(x_train)\nx_test_scaled = scaler.transform(x_test)\n"
            "model.fit(x_train_scaled, y_train, epochs=10)\npredictions = model.predict(x_test_scaled)\n",
        ),
        Invalid(
            _SK + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nsc = StandardScaler()\n"
            "X_train_std = sc.fit_transform(X_train)\nmodel.fit(X_train_std, y_train)\n"
            "model.evaluate(X_test, y_test)\nfirst = model.predict(X_test[:1])\n",
            _SK + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nsc = StandardScaler()\n"
            "X_train_std = sc.fit_transform(X_train)\nX_test_std = sc.transform(X_test)\nmodel.fit(X_train_std, y_train)\n"
            "model.evaluate(X_test_std, y_test)\nfirst = model.predict(X_test_std[:1])\n",
        ),
        # The scaled split is overwritten by a split of the raw data: the model trains on raw X.
        Invalid(
            _SK + "X_scaled = StandardScaler().fit_transform(X)\n"
            "X_train, X_test, y_train, y_test = train_test_split(X_scaled, y)\n"
            "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\nmodel.fit(X_train, y_train)\n",
            _SK + "X_scaled = StandardScaler().fit_transform(X)\n"
            "X_train, X_test, y_train, y_test = train_test_split(X_scaled, y, random_state=0)\nmodel.fit(X_train, y_train)\n",
            options={"unsafe_fixes": True},
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        taken = TakenNames(ctx.module)  # shared by the findings of this run: two fixes never pick one name
        for flow in module_flows(ctx):
            yield from _overwritten_scaled_splits(ctx, flow)
            roles = Roles(flow)
            groups: dict[tuple[int, int], list[tuple[ModelEvent, ModelEvent]]] = {}
            for use in flow.model_events:
                if use.method == "fit" or not isinstance(use.data, Array):
                    continue
                trained = _scaled_training_fit(flow, roles, use)
                if trained is None or not use.data.unscaled_counterpart_of(trained.data):  # type: ignore[arg-type]
                    continue
                if counterparts(trained.data.root, use.data.root) is False:  # type: ignore[union-attr]
                    continue
                # Every use of one raw binding gets one inserted line: the uses form one finding.
                root = root_name(ctx, use.node)
                binding = flow.env_at[use.call].get(root.value) if root is not None else None
                scaler = trained.data.scalings[-1].scaler  # type: ignore[union-attr]
                groups.setdefault((id(binding) if binding else id(use), id(scaler)), []).append((use, trained))
            for uses in groups.values():
                use, trained = uses[0]
                training = trained.data.scalings[-1].fit  # type: ignore[union-attr]
                scaler_name = _scaler_label(ctx, flow, training)  # type: ignore[arg-type]
                raw = _label(ctx, use)
                model = ctx.code_for(use.call.func.value)  # type: ignore[attr-defined]
                where = f"validation_data of {model}.fit()" if use.method == "validation" else f"{model}.{use.method}()"
                yield Violation(
                    use.node,
                    f"{where} receives raw {raw}, but {model} was fit on {ctx.code_for(trained.node)} scaled by "
                    f"{scaler_name}; pass {scaler_name}.transform({raw})",
                    raw_data_fix(ctx, flow, uses, taken),
                )


def _overwritten_scaled_splits(ctx: ModuleContext, flow: Flow) -> Iterator[Violation]:
    """A split of scaled data whose outputs a later split of the raw data overwrites before anything reads them:
    everything after the second split, the model's training included, sees unscaled data."""
    for dead in flow.splits:
        live = dead.overwritten_by
        if live is None or len(live.inputs) != len(dead.inputs):
            continue
        raw = [i for i, (old, new) in enumerate(zip(dead.inputs, live.inputs))
               if isinstance(old, Array) and isinstance(new, Array) and old.scalings and new.unscaled_counterpart_of(old)]
        if not raw:
            continue
        index = raw[0]
        raw_code, scaled_code = ctx.code_for(live.input_args[index].value), ctx.code_for(dead.input_args[index].value)
        outputs = ", ".join(name.value for name in live.targets or ())
        line = ctx.position(dead.statement).start.line
        trained = [e for e in flow.model_events if e.method == "fit" and isinstance(e.data, Array)
                   and e.data.root.split is live and e.data.root.position == 2 * index]
        consequence = (f"{ctx.code_for(trained[0].call.func.value)}.fit() trains on raw {raw_code}"  # type: ignore[attr-defined]
                       if trained else f"the code after it uses raw {raw_code}")
        yield Violation(
            live.input_args[index].value,
            f"train_test_split({raw_code}, ...) overwrites {outputs}, split from scaled {scaled_code} at line {line}, "
            f"so {consequence}; split {scaled_code} once",
            resplit_scaled_fix(ctx, flow, dead, live, index),
        )


def _scaled_training_fit(flow: Flow, roles: Roles, use: ModelEvent) -> ModelEvent | None:
    """The model's last `fit` before `use`, when its input went through a scaler fit on training data."""
    fits = [e for e in flow.model_events if e.method == "fit" and e.model is use.model and e.order < use.order]
    fits = [e for e in fits if e.node is _x_node(e.call)]
    if not fits or not isinstance(fits[-1].data, Array) or not fits[-1].data.scalings:
        return None
    scaling = fits[-1].data.scalings[-1]
    if scaling.fit is None or scaling.scaler.normalization_layer or scaling.scaler.opaque_at(use.order):
        return None
    return fits[-1] if roles.of(scaling.fit.data) is Role.TRAIN else None


def _x_node(call: cst.Call) -> cst.BaseExpression | None:
    keyword = next((a for a in call.args if a.keyword is not None and a.keyword.value == "x"), None)
    positional = [a for a in call.args if a.keyword is None and not a.star]
    arg = keyword or (positional[0] if positional else None)
    return arg.value if arg is not None else None


class ScalerFitBeforeSplit(Rule):
    """
    ## What it does
    Finds a scaler fit on the whole data set, which a `train_test_split` later divides into training and
    evaluation parts: `X = scaler.fit_transform(X)` (or `scaler.fit(X)` then `transform`) before
    `X_train, X_test, y_train, y_test = train_test_split(X, y)`, or `scaler.fit(X)` after the split when the
    evaluation part is then transformed with it. The fix moves the scaling after the split: fit on the training
    part, transform the others. A refit on all the data after evaluating (the final model for production) is
    left alone, and so is data divided by slicing, which is reported without a fix. So is a scaled split that a
    later split of the raw data overwrites before anything reads it: its parts are never used, and moving its
    scaling would leave the model on the raw split; BNF403 reports that case.

    ## Why is this bad?
    The scaler's mean and spread then include the evaluation data, so information from the test set shapes
    what the model trains on, and evaluation scores come out optimistic. scikit-learn's "Common pitfalls" page
    (Data leakage): always split the data first, particularly before any preprocessing, and never include test
    data in `fit`/`fit_transform`; in its leakage example, preprocessing on all the data before splitting scores
    0.76 accuracy on random labels, against the expected 0.46 when the split comes first.

    ## Example
    ```python
    X = scaler.fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    ```

    Use instead:
    ```python
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    X_train = scaler.fit_transform(X_train)
    X_test = scaler.transform(X_test)
    ```

    ## Fix safety
    Safe when the scaled whole array is used by nothing but the split (and the scaler by nothing in between):
    the code after the split sees the same names, scaled with the training statistics. Otherwise (also when the
    scaling is wrapped, as in `pd.DataFrame(scaler.fit_transform(X))`), bnfix only reports.
    """

    code = "BNF404"
    name = "scaler-fit-before-split"
    summary = "a scaler is fit on all the data that train_test_split later divides"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_SK + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nscaler = StandardScaler()\n"
              "X_train = scaler.fit_transform(X_train)\nX_test = scaler.transform(X_test)\n"),
        # Scaling inside a pipeline is fit on the training part only.
        Valid(_SK + "from sklearn.pipeline import Pipeline\nfrom sklearn.linear_model import Ridge\n"
              "X_train, X_test, y_train, y_test = train_test_split(X, y)\n"
              "pipe = Pipeline([('scale', StandardScaler()), ('model', Ridge())])\npipe.fit(X_train, y_train)\n"),
    ]
    INVALID = [
        Invalid(
            _SK + "scaler = StandardScaler()\nX = scaler.fit_transform(X)\n"
            "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)\n",
            _SK + "scaler = StandardScaler()\nX_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)\n"
            "X_train = scaler.fit_transform(X_train)\nX_test = scaler.transform(X_test)\n",
        ),
        Invalid(
            _SK + "scaler = StandardScaler()\nX_scaled = scaler.fit_transform(X)\n"
            "X_train, X_test, y_train, y_test = train_test_split(X_scaled, y)\nprint(X_scaled.mean())\n"
        ),
        Invalid(
            _SK + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nscaler = StandardScaler()\nscaler.fit(X)\n"
            "X_train = scaler.transform(X_train)\nX_test = scaler.transform(X_test)\n",
            _SK + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nscaler = StandardScaler()\nscaler.fit(X_train)\n"
            "X_train = scaler.transform(X_train)\nX_test = scaler.transform(X_test)\n",
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for flow in module_flows(ctx):
            roles = Roles(flow)
            for event in flow.fits:
                if _leak_blind(event.scaler, event.order) or roles.of(event.data) is not Role.WHOLE:
                    continue
                receiver = ctx.code_for(event.call.func.value)  # type: ignore[attr-defined]
                call = f"{receiver}.{event.method}({_label(ctx, event)})"
                whole = event.data.root.name  # type: ignore[union-attr]
                found = _split_of(flow, event)
                if found is None:
                    message = (f"{call} fits the scaler on all of {whole}, which is later divided into training and "
                               "evaluation parts; fit on the training part")
                    yield Violation(event.call, message)
                    continue
                split, index = found
                if split.overwritten_by is not None:
                    continue  # the scaled parts are never used: BNF403 reports the raw split that replaces them
                parts = split_parts(split, index)
                train = parts[0] if parts else "the training part"
                if split.order > event.order:
                    message = (f"{call} fits the scaler before train_test_split, so the evaluation part leaks into "
                               f"the scaling; fit on {train} after the split")
                    yield Violation(event.call, message, move_after_split(ctx, flow, event, split, index))
                elif any(scaling.fit is event and roles.of(data) is Role.EVAL for scaling, data in flow.transforms):
                    # After the split, fitting on everything is a leak only once evaluation data is transformed with
                    # it; a final refit on all the data, for the model that goes to production, is not.
                    message = f"{call} fits the scaler on all of {whole}, including evaluation data; fit on {train}"
                    yield Violation(event.call, message, fit_on_training_part(ctx, flow, event, split, index))


def _split_of(flow: Flow, event: FitEvent) -> tuple[SplitEvent, int] | None:
    """The split input holding the data `event` fit on: the fit's output, or the very name it fit on, unchanged;
    else the only input from the same data (`y = df["price"]` and `X = df.drop(...)` share their root, so sharing
    a root alone does not say which input the scaler belongs to)."""
    root = event.data.root  # type: ignore[union-attr]
    fit_arg = event.call.args[0].value if event.call.args else None
    fit_binding = flow.env_at[event.call].get(fit_arg.value) if isinstance(fit_arg, cst.Name) else None
    for split in flow.splits:
        same_root = [i for i, value in enumerate(split.inputs) if isinstance(value, Array) and value.root is root]

        def direct(i: int) -> bool:
            if any(s.fit is event for s in split.inputs[i].scalings):  # type: ignore[union-attr]
                return True
            arg = split.input_args[i].value
            same_name = isinstance(arg, cst.Name) and flow.env_at[split.call].get(arg.value) is fit_binding
            return fit_binding is not None and same_name

        chosen = [i for i in same_root if direct(i)] or same_root
        if len(chosen) == 1:
            return split, chosen[0]
        if same_root:
            return None
    return None


class AdaptOnAllData(Rule):
    """
    ## What it does
    Finds Keras `layers.Normalization` layers adapted on data that includes evaluation data: `norm.adapt(X)`
    before `train_test_split(X, ...)`, `norm.adapt(X)` on the whole array after the split, or
    `norm.adapt(np.concatenate([x_train, x_test]))`. Where the split is in the same straight-line block, the
    fix adapts on the training part instead.

    ## Why is this bad?
    `adapt` computes the mean and variance the layer normalises with; computed on all the data, they carry
    information from the evaluation part into the model, the same leak as fitting a scaler before the split.
    scikit-learn's "Common pitfalls" page (Data leakage): split first, and learn every preprocessing statistic
    from the training data only; in its leakage example, preprocessing before the split scores 0.76 accuracy on
    random labels against the expected 0.46.

    ## Example
    ```python
    normalizer = layers.Normalization()
    normalizer.adapt(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    ```

    Use instead:
    ```python
    normalizer = layers.Normalization()
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    normalizer.adapt(X_train)
    ```

    ## Fix safety
    Safe when nothing uses the layer between the `adapt` and the split. Otherwise, for adapting on evaluation
    data alone, and for data divided by slicing, bnfix only reports.
    """

    code = "BNF405"
    name = "adapt-on-all-data"
    summary = "a Normalization layer is adapted on data that includes evaluation data"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_KERAS + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nnorm = layers.Normalization()\n"
              "norm.adapt(X_train)\n"),
        # adapt on a dataset built by a helper: nothing known.
        Valid(_KERAS + "norm = layers.Normalization()\nnorm.adapt(make_dataset(X))\n"),
    ]
    INVALID = [
        Invalid(
            _KERAS + "normalizer = layers.Normalization()\nnormalizer.adapt(np.array(X))\n"
            "X_train, X_test, y_train, y_test = train_test_split(X, y)\n",
            _KERAS + "normalizer = layers.Normalization()\nX_train, X_test, y_train, y_test = train_test_split(X, y)\n"
            "normalizer.adapt(np.array(X_train))\n",
        ),
        Invalid(
            _KERAS + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nnorm = layers.Normalization()\n"
            "norm.adapt(np.concatenate([X_train, X_test]))\n",
            _KERAS + "X_train, X_test, y_train, y_test = train_test_split(X, y)\nnorm = layers.Normalization()\n"
            "norm.adapt(X_train)\n",
        ),
        Invalid(_KERAS + "norm = layers.Normalization()\nnorm.adapt(x_test)\n"),
    ]

    @classmethod
    def may_report(cls, facts: SyntaxFacts) -> bool:
        """A Keras `Normalization` layer (its name appears: called, imported or aliased; the needle also matches
        `BatchNormalization`) and a fitting method called on something (the data flow's adapt events)."""
        return "Normalization" in facts.identifiers and bool(facts.method_calls(FITTING_METHODS))

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for flow in module_flows(ctx):
            roles = Roles(flow)
            for event in flow.fits:
                if not event.scaler.normalization_layer or event.scaler.opaque_at(event.order):
                    continue
                receiver = ctx.code_for(event.call.func.value)  # type: ignore[attr-defined]
                data = _label(ctx, event)
                if isinstance(event.data, Concat):
                    found = self._concatenation(ctx, roles, event, receiver, data)
                elif roles.of(event.data) is Role.WHOLE:
                    found = self._whole(ctx, flow, event, receiver, data)
                elif roles.of(event.data) is Role.EVAL:
                    message = f"{receiver}.adapt({data}) adapts on evaluation data; adapt on the training data"
                    found = Violation(event.call, message)
                else:
                    found = None
                if found is not None:
                    yield found

    def _concatenation(
        self, ctx: ModuleContext, roles: Roles, event: FitEvent, receiver: str, data: str
    ) -> Violation | None:
        parts = event.data.parts  # type: ignore[union-attr]
        part_roles = [roles.of(part) for part in parts]
        if not any(role in (Role.EVAL, Role.WHOLE) for role in part_roles):
            return None
        message = f"{receiver}.adapt({data}) adapts on data that includes evaluation data; adapt on the training part"
        if part_roles.count(Role.TRAIN) != 1:
            return Violation(event.call, message)
        return Violation(event.call, message, adapt_on_training_element(ctx, event, part_roles.index(Role.TRAIN)))

    def _whole(self, ctx: ModuleContext, flow: Flow, event: FitEvent, receiver: str, data: str) -> Violation:
        call, whole = f"{receiver}.adapt({data})", event.data.root.name  # type: ignore[union-attr]
        found = _split_of(flow, event)
        if found is None:
            return Violation(event.call, f"{call} adapts on all of {whole}, which is later divided into training and "
                                         "evaluation parts; adapt on the training part")
        split, index = found
        parts = split_parts(split, index)
        train = parts[0] if parts else "the training part"
        if split.order > event.order:
            message = f"{call} adapts on all the data before train_test_split; adapt on {train} after the split"
        else:
            message = f"{call} adapts on all of {whole}, including evaluation data; adapt on {train}"
        return Violation(event.call, message, adapt_fix(ctx, flow, event, split, index, split.order > event.order))


def _leak_blind(scaler: Scaler, order: int) -> bool:
    """Scalers the leak rules cannot reason about at `order`: possibly fit out of sight by then, stateless
    (`Normalizer`: nothing to leak), or a Keras layer (BNF405's)."""
    return scaler.opaque_at(order) or scaler.stateless or scaler.normalization_layer


def _label(ctx: ModuleContext, event: FitEvent | ModelEvent) -> str:
    """How a message names the data of an event: the argument's code when short, else the array's name."""
    node = event.node if isinstance(event, ModelEvent) else (event.call.args[0].value if event.call.args else None)
    code = ctx.code_for(node) if node is not None else ""
    if code and len(code) <= 40 and "\n" not in code:
        return code
    data = event.data
    return data.root.name if isinstance(data, Array) else "the data"


def _scaler_label(ctx: ModuleContext, flow: Flow, fit: FitEvent) -> str:
    names = flow.scaler_names.get(fit.scaler, [])
    if names:
        return names[0][0]
    return ctx.code_for(fit.scaler.constructor)
