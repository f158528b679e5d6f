"""BNF401-BNF405: inconsistent preprocessing between training and evaluation data (the seed's third cause).

All five rules read the same straight-line data flow (`bnfix.dataflow`): which scalers were fit on what, which
arrays are training or evaluation data, and which reached the model scaled or raw. The fixes apply scikit-learn's
rule: fit on the training part only, transform everything else with that same fitted scaler.
"""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from bnfix.data_roles import Role, Roles, counterparts, name_tokens
from bnfix.dataflow import module_flows
from bnfix.dataflow_values import Array, Concat, FitEvent, Flow, ModelEvent, Scaler, SplitEvent
from bnfix.rules.base import Fix, FixSafety, Invalid, Rule, RuleContext, Valid, Violation
from bnfix.statement_edits import StatementEdits, TakenNames, name_reads, parse_statement

_SK = "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\n"
# A file must name a scaler class to have one: "Scaler" covers Standard/MinMax/Robust/MaxAbs.
_SCALER_NEEDLES = (b"Scaler", b"QuantileTransformer", b"PowerTransformer", b"Normalizer")
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
    name = "scaler-refit-on-evaluation-data"
    summary = "a scaler fit on training data is fit again on evaluation data"
    fix_safety = FixSafety.SAFE
    needles = _SCALER_NEEDLES

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

    def check(self, ctx: RuleContext) -> Iterator[Violation]:
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
                yield Violation(
                    event.call,
                    f"{receiver}.{event.method}({evaluation}) re-fits the scaler on evaluation data after it was fit "
                    f"on training data {train}; transform {evaluation} with the training fit",
                    _refit_fix(ctx, event, train),
                )


def _refit_fix(ctx: RuleContext, event: FitEvent, train: str) -> Fix | None:
    edits = StatementEdits(ctx)
    func = event.call.func
    assert isinstance(func, cst.Attribute)
    if event.method == "fit_transform":
        edits.replace(func.attr, cst.Name("transform"))
        description = f"Use transform: keep the statistics fit on {train}"
    else:
        statement = edits.statement_of(event.call)
        if statement is None:
            return None
        if _is_whole_statement(statement, event.call):
            edits.remove(statement)
        else:  # `scaler.fit(x_val).transform(x_val)` -> `scaler.transform(x_val)`
            edits.replace(event.call, func.value)
        description = f"Remove the re-fit: keep the statistics fit on {train}"
    changes = edits.changes()
    return Fix(changes, description) if changes else None


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
    name = "second-scaler-on-evaluation-data"
    summary = "a second scaler is fit on evaluation data instead of reusing the training scaler"
    fix_safety = FixSafety.SAFE
    needles = _SCALER_NEEDLES

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

    def check(self, ctx: RuleContext) -> Iterator[Violation]:
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
                    _second_scaler_fix(ctx, flow, event, training, train),
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


def _second_scaler_fix(ctx: RuleContext, flow: Flow, event: FitEvent, training: FitEvent, train: str) -> Fix | None:
    second, first = event.scaler, training.scaler
    roles = Roles(flow)
    if second.class_name != first.class_name or any(roles.of(f.data) is not Role.EVAL for f in second.fits):
        return None
    edits = StatementEdits(ctx)
    first_name = _name_for_scaler(ctx, flow, training, event, edits, TakenNames(ctx.module))
    if first_name is None:
        return None
    names = flow.scaler_names.get(second, [])
    if not names:  # anonymous: `StandardScaler().fit_transform(x_test)`
        if not _reuse_at_call(edits, event, first_name):
            return None
    else:
        if len(names) != 1 or len(flow.rebinds.get(names[0][0], [])) != 1:
            return None
        name, statement = names[0]
        fits = {f.call: f for f in second.fits}
        for read in name_reads(flow.scope, name):
            call = _method_call(ctx, read)
            if call is None:
                return None
            method = call.func.attr.value  # type: ignore[attr-defined]
            if method == "transform":
                edits.replace(read, cst.Name(first_name))
            elif call not in fits or not _reuse_at_call(edits, fits[call], first_name):
                return None
        if statement is None or not _binds_only(statement, name):
            return None
        edits.remove(statement)
    changes = edits.changes()
    return Fix(changes, f"Transform the evaluation data with {first_name}, fit on {train}") if changes else None


def _reuse_at_call(edits: StatementEdits, event: FitEvent, scaler_name: str) -> bool:
    """Rewrite one fit of the second scaler to use the training scaler's transform."""
    call, func = event.call, event.call.func
    assert isinstance(func, cst.Attribute)
    if event.method == "fit_transform":
        new_func = cst.Attribute(value=cst.Name(scaler_name), attr=cst.Name("transform"))
        edits.replace(call, call.with_changes(func=new_func))
        return True
    statement = edits.statement_of(call)
    parent = edits.ctx.parent(call)
    if statement is not None and _is_whole_statement(statement, call):
        edits.remove(statement)
        return True
    if isinstance(parent, cst.Attribute) and parent.attr.value == "transform":  # `.fit(x).transform(x)`
        edits.replace(call, cst.Name(scaler_name))
        return True
    return False


class RawEvaluationData(Rule):
    """
    ## What it does
    Finds a model fit on scaled training data that is then evaluated or asked to predict on raw, unscaled data:
    `model.fit(x_train_scaled, y_train)` followed by `model.predict(x_test)` (or `evaluate`, or
    `validation_data=(x_val, y_val)`), where `x_test` never went through the scaler. The fix inserts
    `x_test_scaled = scaler.transform(x_test)` next to the scaler's fit and passes it instead.

    Left alone: data whose origin the analysis cannot see (loaded or built by a helper, hand-scaled with
    arithmetic, windows built in a loop, function parameters), pipelines, and models fit on unscaled data.

    ## Why is this bad?
    The model learnt on inputs with mean 0 and unit variance; raw inputs are on another scale entirely, so its
    outputs (and BatchNormalization's normalisation with the moving statistics of the scaled data) are off.
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
    """

    code = "BNF403"
    name = "raw-evaluation-data"
    summary = "a model fit on scaled data is evaluated or used on raw data"
    fix_safety = FixSafety.SAFE
    needles = _SCALER_NEEDLES

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
    ]

    def check(self, ctx: RuleContext) -> Iterator[Violation]:
        taken = TakenNames(ctx.module)  # shared by the findings of this run: two fixes never pick one name
        for flow in module_flows(ctx):
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
                root = _root_name(ctx, use.node)
                binding = flow.env_at[use.call].get(root.value) if root is not None else None
                scaler = trained.data.scalings[-1].scaler  # type: ignore[union-attr]
                groups.setdefault((id(binding) if binding else id(use), id(scaler)), []).append((use, trained))
            for uses in groups.values():
                use, trained = uses[0]
                scaler_name = _scaler_label(ctx, flow, trained.data.scalings[-1].fit)  # type: ignore[union-attr, arg-type]
                raw = _label(ctx, use)
                model = ctx.code_for(use.call.func.value)  # type: ignore[attr-defined]
                where = f"validation_data of {model}.fit()" if use.method == "validation" else f"{model}.{use.method}()"
                yield Violation(
                    use.node,
                    f"{where} receives raw {raw}, but {model} was fit on {ctx.code_for(trained.node)} scaled by "
                    f"{scaler_name}; pass {scaler_name}.transform({raw})",
                    _raw_data_fix(ctx, flow, uses, taken),
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


def _raw_data_fix(ctx: RuleContext, flow: Flow, uses: list[tuple[ModelEvent, ModelEvent]], taken: TakenNames) -> Fix | None:
    """Insert `x_test_scaled = scaler.transform(x_test)` after the scaler's fit and pass it to every use."""
    first_use, trained = uses[0]
    training = trained.data.scalings[-1].fit  # type: ignore[union-attr]
    root = _root_name(ctx, first_use.node)
    if root is None or training is None:
        return None
    binding = flow.env_at[first_use.call].get(root.value)
    if binding is None or binding.statement is None:
        return None
    index = flow.statement_index
    anchor = max(training.statement, binding.statement, key=index.__getitem__)
    if index[anchor] >= index[first_use.statement]:
        return None  # the scaler is fit in the very statement that uses the raw data
    edits = StatementEdits(ctx)
    if any(_root_name(ctx, use.node) is None or not _rewritable(use.node) for use, _ in uses):
        return None
    scaler_name = _name_for_scaler(ctx, flow, training, first_use, edits, taken, bound_by=anchor)
    if scaler_name is None:
        return None
    anchor = _after_sibling_transforms(ctx, anchor, scaler_name, first_use.statement)
    new_name = taken.fresh(_scaled_name(ctx, trained, root.value))
    for use, _ in uses:
        edits.replace(_root_name(ctx, use.node), cst.Name(new_name))  # type: ignore[arg-type]
    edits.insert_after(anchor, [parse_statement(ctx, f"{new_name} = {scaler_name}.transform({root.value})\n")])
    changes = edits.changes()
    return Fix(changes, f"Scale {root.value} with {scaler_name} as {new_name} and pass it") if changes else None


def _rewritable(node: cst.BaseExpression) -> bool:
    """`x_test`, `x_test[:5]`, `x_test[0]`: rows of the array, which the scaled array has too."""
    while isinstance(node, cst.Subscript):
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, (cst.Slice, cst.Index)):
            return False
        index = node.slice[0].slice
        if isinstance(index, cst.Index) and not isinstance(index.value, (cst.Integer, cst.UnaryOperation)):
            return False
        node = node.value
    return isinstance(node, cst.Name)


def _scaled_name(ctx: RuleContext, trained: ModelEvent, raw: str) -> str:
    """`x_test` named like the training data: x_train -> x_train_std gives x_test_std; default x_test_scaled."""
    train_raw = trained.data.root.name  # type: ignore[union-attr]
    node = _root_name(ctx, trained.node)
    train_scaled = node.value if node is not None else train_raw
    if train_scaled != train_raw and train_scaled.startswith(train_raw):
        return raw + train_scaled[len(train_raw) :]
    if train_scaled != train_raw and train_scaled.endswith(train_raw):
        return train_scaled[: -len(train_raw)] + raw
    return f"{raw}_scaled"


def _after_sibling_transforms(ctx: RuleContext, anchor: cst.SimpleStatementLine, scaler: str, limit: cst.BaseStatement) -> cst.SimpleStatementLine:
    """Insert after the `x_val_scaled = scaler.transform(x_val)` lines that already follow the fit."""
    parent = ctx.parent(anchor)
    body = list(parent.body) if isinstance(parent, (cst.Module, cst.IndentedBlock)) else [anchor]
    for statement in body[body.index(anchor) + 1 :]:
        if statement is limit or not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            break
        small = statement.body[0]
        value = small.value if isinstance(small, cst.Assign) else None
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "transform"
                and isinstance(value.func.value, cst.Name) and value.func.value.value == scaler):
            break
        anchor = statement
    return anchor


class ScalerFitBeforeSplit(Rule):
    """
    ## What it does
    Finds a scaler fit on the whole data set, which a `train_test_split` later divides into training and
    evaluation parts: `X = scaler.fit_transform(X)` (or `scaler.fit(X)` then `transform`) before
    `X_train, X_test, y_train, y_test = train_test_split(X, y)`, or `scaler.fit(X)` after the split. The fix
    moves the scaling after the split: fit on the training part, transform the others.

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
    the code after the split sees the same names, scaled with the training statistics. Otherwise, and for data
    divided by slicing instead of `train_test_split`, bnfix only reports.
    """

    code = "BNF404"
    name = "scaler-fit-before-split"
    summary = "a scaler is fit on all the data that train_test_split later divides"
    fix_safety = FixSafety.SAFE
    needles = _SCALER_NEEDLES

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

    def check(self, ctx: RuleContext) -> Iterator[Violation]:
        for flow in module_flows(ctx):
            roles = Roles(flow)
            for event in flow.fits:
                if _leak_blind(event.scaler, event.order) or roles.of(event.data) is not Role.WHOLE:
                    continue
                call = f"{ctx.code_for(event.call.func.value)}.{event.method}({_label(ctx, event)})"  # type: ignore[attr-defined]
                whole = event.data.root.name  # type: ignore[union-attr]
                found = _split_of(flow, event)
                if found is None:
                    yield Violation(event.call, f"{call} fits the scaler on all of {whole}, which is later divided into "
                                                "training and evaluation parts; fit on the training part")
                    continue
                split, index = found
                parts = _split_parts(split, index)
                train = parts[0] if parts else "the training part"
                if split.order > event.order:
                    message = (f"{call} fits the scaler before train_test_split, so the evaluation part leaks into "
                               f"the scaling; fit on {train} after the split")
                    yield Violation(event.call, message, _move_after_split(ctx, flow, event, split, index))
                elif any(scaling.fit is event and roles.of(data) is Role.EVAL for scaling, data in flow.transforms):
                    # After the split, fitting on everything is a leak only once evaluation data is transformed with
                    # it; a final refit on all the data, for the model that goes to production, is not.
                    message = f"{call} fits the scaler on all of {whole}, including evaluation data; fit on {train}"
                    yield Violation(event.call, message, _fit_on_training_part(ctx, flow, event, split, index))


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
            return fit_binding is not None and isinstance(arg, cst.Name) and flow.env_at[split.call].get(arg.value) is fit_binding

        chosen = [i for i in same_root if direct(i)] or same_root
        if len(chosen) == 1:
            return split, chosen[0]
        if same_root:
            return None
    return None


def _split_parts(split: SplitEvent, index: int) -> list[str]:
    if split.targets is None:
        return []
    return [split.targets[2 * index].value, split.targets[2 * index + 1].value]


def _fit_on_training_part(ctx: RuleContext, flow: Flow, event: FitEvent, split: SplitEvent, index: int) -> Fix | None:
    """`scaler.fit(X)` after the split -> `scaler.fit(X_train)`. Not `X = scaler.fit_transform(X)`: X's value would
    change with it."""
    parts = _split_parts(split, index)
    arg = event.call.args[0].value if event.call.args else None
    if not parts or event.method != "fit" or not _is_whole_statement(event.statement, event.call):
        return None
    binding = flow.env_at[event.call].get(parts[0])
    if not isinstance(arg, cst.Name) or binding is None or binding.statement is not split.statement:
        return None  # X_train must still be the split's output
    edits = StatementEdits(ctx)
    edits.replace(arg, cst.Name(parts[0]))
    changes = edits.changes()
    return Fix(changes, f"Fit the scaler on {parts[0]} only") if changes else None


def _move_after_split(ctx: RuleContext, flow: Flow, event: FitEvent, split: SplitEvent, index: int) -> Fix | None:
    """Move the scaling after the split, in three shapes:

    - `X = scaler.fit_transform(X)`               -> `X_train = scaler.fit_transform(X_train)`, `X_test = scaler.transform(X_test)`
    - `scaler.fit(X)` and `X = scaler.transform(X)` -> `scaler.fit(X_train)` and both parts transformed
    - `scaler.fit(X)`, the parts transformed after the split already -> `scaler.fit(X_train)`
    """
    parts = _split_parts(split, index)
    split_arg, raw_arg = split.input_args[index].value, event.call.args[0].value if event.call.args else None
    split_value, env = split.inputs[index], flow.env_at[split.call]
    if not parts or not isinstance(split_arg, cst.Name) or not isinstance(raw_arg, cst.Name) or not isinstance(split_value, Array):
        return None
    fit_statement = event.statement
    keep_fit_line = _binds_scaler(fit_statement, event)  # `scaler = StandardScaler().fit(X)` keeps `scaler = ...`
    bare_fit = keep_fit_line or _is_whole_statement(fit_statement, event.call)
    scaled_here = bool(split_value.scalings) and split_value.scalings[-1].fit is event
    moved = [fit_statement]
    if split_value is event.data and bare_fit:
        steps = ["{s}.fit({train})"]  # the parts are transformed after the split already
    elif scaled_here and event.method == "fit_transform" and _assigns(fit_statement, split_arg.value, event.call):
        steps = ["{train} = {s}.fit_transform({train})", "{other} = {s}.transform({other})"]
    elif scaled_here and event.method == "fit" and bare_fit:
        transform = env[split_arg.value].statement
        if transform is None or transform is fit_statement or not _assigns_transform(transform, split_arg.value, raw_arg.value):
            return None
        moved.append(transform)
        steps = ["{s}.fit({train})", "{train} = {s}.transform({train})", "{other} = {s}.transform({other})"]
    else:
        return None
    if split_value is not event.data:
        # The scaled whole array disappears: nothing but the split may read it, and the split reads the raw one.
        if any(_after(ctx, r, moved[-1]) and r is not split_arg for r in name_reads(flow.scope, split_arg.value)):
            return None
        raw_binding = env.get(raw_arg.value)
        if split_arg.value != raw_arg.value and (raw_binding is None or raw_binding.value is not event.data):
            return None
    named = _scaler_after_split(ctx, flow, event, moved, split)
    if named is None:
        return None
    scaler_name, constructor = named
    lines = [step.format(s=scaler_name, train=parts[0], other=parts[1]) for step in steps]
    statements = [parse_statement(ctx, line + "\n") for line in lines]
    travelling = moved[1:] if keep_fit_line else moved
    if not keep_fit_line:  # the fit line's trailing comment stays on the fit
        statements[0] = statements[0].with_changes(trailing_whitespace=fit_statement.trailing_whitespace)
    if constructor is not None:  # `X = StandardScaler().fit_transform(X)`: the scaler needs a name now
        statements.insert(0, parse_statement(ctx, f"{scaler_name} = {ctx.code_for(constructor)}\n"))
    # The comments above the moved lines move with them.
    statements[0] = statements[0].with_changes(leading_lines=[line for s in travelling for line in s.leading_lines])
    edits = StatementEdits(ctx)
    if keep_fit_line:
        edits.replace(event.call, event.call.func.value)  # type: ignore[attr-defined]
    for statement in travelling:
        edits.remove(statement, keep_comments=False)
    if split_arg.value != raw_arg.value:
        edits.replace(split_arg, cst.Name(raw_arg.value))
    edits.insert_after(split.statement, statements)
    changes = edits.changes()
    return Fix(changes, f"Split first, then fit the scaler on {parts[0]} and transform {parts[1]}") if changes else None


def _assigns(statement: cst.SimpleStatementLine, name: str, value: cst.BaseExpression) -> bool:
    """`name = <value>` exactly: `X = scaler.fit_transform(X)`, not `X = pd.DataFrame(scaler.fit_transform(X))`."""
    return _binds_only(statement, name) and statement.body[0].value is value  # type: ignore[union-attr]


def _assigns_transform(statement: cst.SimpleStatementLine, name: str, data: str) -> bool:
    """`name = scaler.transform(data)` and nothing else."""
    if not _binds_only(statement, name):
        return False
    value = statement.body[0].value  # type: ignore[union-attr]
    return (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "transform"
            and len(value.args) == 1 and isinstance(value.args[0].value, cst.Name) and value.args[0].value.value == data)


def _scaler_after_split(ctx: RuleContext, flow: Flow, event: FitEvent, moved: list, split: SplitEvent) -> tuple[str, cst.Call | None] | None:
    """The scaler's name for the lines after the split (a new one for an anonymous scaler, with its constructor),
    when nothing between the fit and the split uses the scaler."""
    receiver = event.call.func.value  # type: ignore[attr-defined]
    if isinstance(receiver, cst.Name):
        name = receiver.value
    elif receiver is event.scaler.constructor and flow.scaler_names.get(event.scaler):
        name = flow.scaler_names[event.scaler][0][0]  # `scaler = StandardScaler().fit(X)`
    elif receiver is event.scaler.constructor:
        return TakenNames(ctx.module).fresh(_scaler_base(event.data.root.name)), receiver  # type: ignore[union-attr]
    else:
        return None
    binding = flow.env_at[split.call].get(name)
    if binding is None or binding.value is not event.scaler:
        return None  # the name must still hold this scaler at the split
    if _reads_between(ctx, flow, name, moved[0], split.statement, exclude=moved):
        return None
    return name, None


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
    needles = (b"Normalization",)

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

    def check(self, ctx: RuleContext) -> Iterator[Violation]:
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
                    found = Violation(event.call, f"{receiver}.adapt({data}) adapts on evaluation data; adapt on the training data")
                else:
                    found = None
                if found is not None:
                    yield found

    def _concatenation(self, ctx: RuleContext, roles: Roles, event: FitEvent, receiver: str, data: str) -> Violation | None:
        parts = event.data.parts  # type: ignore[union-attr]
        part_roles = [roles.of(part) for part in parts]
        if not any(role in (Role.EVAL, Role.WHOLE) for role in part_roles):
            return None
        fix = None
        joined = event.call.args[0].value.args[0].value if isinstance(event.call.args[0].value, cst.Call) else None  # type: ignore[union-attr]
        if part_roles.count(Role.TRAIN) == 1 and isinstance(joined, (cst.List, cst.Tuple)) and len(joined.elements) == len(parts):
            train = joined.elements[part_roles.index(Role.TRAIN)].value
            edits = StatementEdits(ctx)
            edits.replace(event.call.args[0].value, train)
            changes = edits.changes()
            fix = Fix(changes, f"Adapt on {ctx.code_for(train)} only") if changes else None
        return Violation(event.call, f"{receiver}.adapt({data}) adapts on data that includes evaluation data; adapt on the training part", fix)

    def _whole(self, ctx: RuleContext, flow: Flow, event: FitEvent, receiver: str, data: str) -> Violation:
        call, whole = f"{receiver}.adapt({data})", event.data.root.name  # type: ignore[union-attr]
        found = _split_of(flow, event)
        if found is None:
            return Violation(event.call, f"{call} adapts on all of {whole}, which is later divided into training and "
                                         "evaluation parts; adapt on the training part")
        split, index = found
        parts = _split_parts(split, index)
        train = parts[0] if parts else "the training part"
        if split.order > event.order:
            message = f"{call} adapts on all the data before train_test_split; adapt on {train} after the split"
        else:
            message = f"{call} adapts on all of {whole}, including evaluation data; adapt on {train}"
        return Violation(event.call, message, _adapt_fix(ctx, flow, event, split, index, split.order > event.order))


def _adapt_fix(ctx: RuleContext, flow: Flow, event: FitEvent, split: SplitEvent, index: int, before: bool) -> Fix | None:
    parts = _split_parts(split, index)
    root = _root_name(ctx, event.call.args[0].value) if event.call.args else None
    receiver = event.call.func.value  # type: ignore[attr-defined]
    if not parts or root is None or not isinstance(receiver, cst.Name):
        return None
    binding = flow.env_at[event.call].get(root.value)
    if binding is None or not isinstance(binding.value, Array) or binding.value.root is not event.data.root:  # type: ignore[union-attr]
        return None
    edits = StatementEdits(ctx)
    if not before:
        train = flow.env_at[event.call].get(parts[0])
        if train is None or train.statement is not split.statement:
            return None  # X_train must still be the split's output
        edits.replace(root, cst.Name(parts[0]))
    else:
        statement = event.statement
        if not _is_whole_statement(statement, event.call) or _reads_between(ctx, flow, receiver.value, statement, split.statement):
            return None
        if flow.rebound_between(root.value, binding.order, split.order):
            return None
        moved = statement.visit(_NameSwap(root, parts[0]))
        edits.remove(statement, keep_comments=False)
        edits.insert_after(split.statement, [moved])
    changes = edits.changes()
    return Fix(changes, f"Adapt on {parts[0]} only") if changes else None


# ------------------------------------------------------------------------------------------------ shared helpers


def _leak_blind(scaler: Scaler, order: int) -> bool:
    """Scalers the leak rules cannot reason about at `order`: possibly fit out of sight by then, stateless
    (`Normalizer`: nothing to leak), or a Keras layer (BNF405's)."""
    return scaler.opaque_at(order) or scaler.stateless or scaler.normalization_layer


def _label(ctx: RuleContext, event: FitEvent | ModelEvent) -> str:
    """How a message names the data of an event: the argument's code when short, else the array's name."""
    node = event.node if isinstance(event, ModelEvent) else (event.call.args[0].value if event.call.args else None)
    code = ctx.code_for(node) if node is not None else ""
    if code and len(code) <= 40 and "\n" not in code:
        return code
    data = event.data
    return data.root.name if isinstance(data, Array) else "the data"


def _scaler_label(ctx: RuleContext, flow: Flow, fit: FitEvent) -> str:
    names = flow.scaler_names.get(fit.scaler, [])
    if names:
        return names[0][0]
    return ctx.code_for(fit.scaler.constructor)


def _name_for_scaler(ctx: RuleContext, flow: Flow, training: FitEvent, use: FitEvent | ModelEvent, edits: StatementEdits,
                     taken: TakenNames, bound_by: cst.SimpleStatementLine | None = None) -> str | None:
    """A name that holds the training scaler from `bound_by` (default: the training fit) on and is never rebound;
    an anonymous scaler (`StandardScaler().fit_transform(x_train)`) is given one (`x_scaler`)."""
    limit = flow.statement_index[bound_by or training.statement]
    for name, binding in flow.env_at[use.call].items():
        if binding.value is training.scaler and binding.statement is not None and len(flow.rebinds.get(name, [])) == 1:
            if flow.statement_index.get(binding.statement, limit + 1) <= limit:
                return name
    constructor = training.scaler.constructor
    if flow.scaler_names.get(training.scaler) or training.call.func.value is not constructor:  # type: ignore[attr-defined]
        return None
    name = taken.fresh(_scaler_base(training.data.root.name))  # type: ignore[union-attr]
    edits.insert_before(training.statement, [parse_statement(ctx, f"{name} = {ctx.code_for(constructor)}\n")])
    edits.replace(constructor, cst.Name(name))
    return name


def _scaler_base(data_name: str) -> str:
    """`x_train` -> `x_scaler`, `X` -> `X_scaler`, `train_df` -> `df_scaler`; `scaler` when nothing is left."""
    words = [w for w in data_name.split("_") if w and name_tokens(w) and not set(name_tokens(w)) & _ROLE_WORDS]
    return "_".join([*words, "scaler"])


_ROLE_WORDS = frozenset({"train", "training", "tr", "test", "val", "valid", "validation", "scaled", "raw"})


def _root_name(ctx: RuleContext, node: cst.BaseExpression) -> cst.Name | None:
    """The array name an argument starts from: `x_test` in `x_test[:5]`, `np.array(x_test)`, `x_test.values`."""
    while not isinstance(node, cst.Name):
        if isinstance(node, (cst.Subscript, cst.Attribute)):
            node = node.value
        elif isinstance(node, cst.Call) and ctx.imports.qualified_name(node.func) is None and isinstance(node.func, cst.Attribute):
            node = node.func.value
        elif isinstance(node, cst.Call) and ctx.imports.qualified_name(node.func) is not None and node.args:
            node = node.args[0].value
        else:
            return None
    return node


def _method_call(ctx: RuleContext, name: cst.Name) -> cst.Call | None:
    """The call `name.fit(...)`, `name.transform(...)`... when `name` is read only as that method's receiver."""
    attribute = ctx.parent(name)
    call = ctx.parent(attribute) if isinstance(attribute, cst.Attribute) and attribute.value is name else None
    if isinstance(call, cst.Call) and call.func is attribute and attribute.attr.value in ("fit", "fit_transform", "transform"):  # type: ignore[union-attr]
        return call
    return None


def _is_whole_statement(statement: cst.SimpleStatementLine, call: cst.Call) -> bool:
    """`scaler.fit(x)` alone on its line, or `scaler = scaler.fit(x)`."""
    if len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Expr):
        return small.value is call
    if isinstance(small, cst.Assign) and small.value is call and len(small.targets) == 1:
        target, receiver = small.targets[0].target, call.func.value  # type: ignore[attr-defined]
        return isinstance(target, cst.Name) and isinstance(receiver, cst.Name) and target.value == receiver.value
    return False


def _binds_only(statement: cst.SimpleStatementLine, name: str) -> bool:
    """`name = StandardScaler(...)` (possibly with `.fit(...)`): a statement that does nothing else."""
    if len(statement.body) != 1 or not isinstance(statement.body[0], cst.Assign):
        return False
    targets = statement.body[0].targets
    return len(targets) == 1 and isinstance(targets[0].target, cst.Name) and targets[0].target.value == name


def _binds_scaler(statement: cst.SimpleStatementLine, event: FitEvent) -> bool:
    """`scaler = StandardScaler().fit(X)`: the line creates the scaler and fits it."""
    small = statement.body[0] if len(statement.body) == 1 else None
    return (isinstance(small, cst.Assign) and small.value is event.call and event.method == "fit"
            and event.call.func.value is event.scaler.constructor)  # type: ignore[attr-defined]


def _after(ctx: RuleContext, node: cst.CSTNode, statement: cst.CSTNode) -> bool:
    start, end = ctx.position(node).start, ctx.position(statement).end
    return (start.line, start.column) >= (end.line, end.column)


def _reads_between(ctx: RuleContext, flow: Flow, name: str, start: cst.CSTNode, end: cst.CSTNode,
                   exclude: list | None = None) -> bool:
    """Is `name` read after statement `start` and before statement `end`, outside the statements in `exclude`?"""
    for read in name_reads(flow.scope, name):
        if _after(ctx, read, start) and _after(ctx, end, read) is False and not _after(ctx, read, end):
            if not any(_after(ctx, read, s) is False and not _after(ctx, s, read) for s in exclude or []):
                return True
    return False


class _NameSwap(cst.CSTTransformer):
    def __init__(self, target: cst.Name, new: str) -> None:
        self.target, self.new = target, new

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        return cst.Name(self.new) if original_node is self.target else updated_node
