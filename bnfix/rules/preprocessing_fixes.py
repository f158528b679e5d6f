"""How BNF401-BNF405 write their repairs: statement-level edits that keep the file's names, comments and style.

Each builder returns a `Fix`, or None when the repair cannot be made safely (a name used elsewhere, a statement
that does more than the repair understands, a block that would be left empty); the rule then only reports.
"""

from __future__ import annotations

import libcst as cst

from bnfix.analysis.data_roles import Role, Roles, name_stem
from bnfix.analysis.dataflow_values import Array, FitEvent, Flow, ModelEvent, SplitEvent
from bnfix.analysis.context import ModuleContext
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety
from bnfix.fixes.statement_edits import StatementEdits, TakenNames, name_reads, parse_statement


def refit_fix(ctx: ModuleContext, event: FitEvent, train: str) -> Fix | None:
    """`scaler.fit_transform(x_test)` -> `scaler.transform(x_test)`; `scaler.fit(x_val)` alone -> removed."""
    edits = StatementEdits(ctx)
    func = event.call.func
    assert isinstance(func, cst.Attribute)
    if event.method == "fit_transform":
        edits.replace(func.attr, cst.Name("transform"))
        description = f"Use transform: keep the statistics fit on {train}"
    else:
        statement = event.statement
        if _is_whole_statement(statement, event.call):
            edits.remove(statement)
        else:  # `scaler.fit(x_val).transform(x_val)` -> `scaler.transform(x_val)`
            edits.replace(event.call, func.value)
        description = f"Remove the re-fit: keep the statistics fit on {train}"
    changes = edits.changes()
    return Fix(changes, description) if changes else None


def drop_refit_fix(ctx: ModuleContext, event: FitEvent, train: str) -> Fix | None:
    """The data went through this scaler already (split from scaled data): transforming it again would scale it
    twice. `X_val = scaler.fit_transform(X_val)` and a lone `scaler.fit(X_val)` go; `a = scaler.fit_transform(b)`
    becomes `a = b`."""
    edits = StatementEdits(ctx)
    statement, data = event.statement, event.call.args[0].value if event.call.args else None
    small = statement.body[0] if len(statement.body) == 1 else None
    in_place = (isinstance(small, cst.Assign) and small.value is event.call and isinstance(data, cst.Name)
                and _binds_only(statement, data.value))
    if in_place or (event.method == "fit" and _is_whole_statement(statement, event.call)):
        edits.remove(statement)
    elif event.method == "fit_transform" and data is not None:
        edits.replace(event.call, data)
    else:
        return None
    changes = edits.changes()
    return Fix(changes, f"Drop the re-fit: the data is scaled with the fit on {train} already") if changes else None


def second_scaler_fix(ctx: ModuleContext, flow: Flow, event: FitEvent, training: FitEvent, train: str) -> Fix | None:
    second, first = event.scaler, training.scaler
    roles = Roles(flow)
    if second.class_name != first.class_name or any(roles.of(f.data) is not Role.EVAL for f in second.fits):
        return None
    if event.data.scalings:  # type: ignore[union-attr]
        return None  # scaled already: the training scaler's transform would scale it twice
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


def raw_data_fix(
    ctx: ModuleContext, flow: Flow, uses: list[tuple[ModelEvent, ModelEvent]], taken: TakenNames
) -> Fix | None:
    """Insert `x_test_scaled = scaler.transform(x_test)` after the scaler's fit and pass it to every use."""
    first_use, trained = uses[0]
    training = trained.data.scalings[-1].fit  # type: ignore[union-attr]
    root = root_name(ctx, first_use.node)
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
    if any(root_name(ctx, use.node) is None or not _rewritable(use.node) for use, _ in uses):
        return None
    scaler_name = _name_for_scaler(ctx, flow, training, first_use, edits, taken, bound_by=anchor)
    if scaler_name is None:
        return None
    anchor = _after_sibling_transforms(ctx, anchor, scaler_name, first_use.statement)
    new_name = taken.fresh(_scaled_name(ctx, trained, root.value))
    for use, _ in uses:
        edits.replace(root_name(ctx, use.node), cst.Name(new_name))  # type: ignore[arg-type]
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


def _scaled_name(ctx: ModuleContext, trained: ModelEvent, raw: str) -> str:
    """`x_test` named like the training data: x_train -> x_train_std gives x_test_std; default x_test_scaled."""
    train_raw = trained.data.root.name  # type: ignore[union-attr]
    node = root_name(ctx, trained.node)
    train_scaled = node.value if node is not None else train_raw
    if train_scaled != train_raw and train_scaled.startswith(train_raw):
        return raw + train_scaled[len(train_raw) :]
    if train_scaled != train_raw and train_scaled.endswith(train_raw):
        return train_scaled[: -len(train_raw)] + raw
    return f"{raw}_scaled"


def _after_sibling_transforms(
    ctx: ModuleContext, anchor: cst.SimpleStatementLine, scaler: str, limit: cst.BaseStatement
) -> cst.SimpleStatementLine:
    """Insert after the `x_val_scaled = scaler.transform(x_val)` lines that already follow the fit."""
    parent = ctx.parent(anchor)
    body = list(parent.body) if isinstance(parent, (cst.Module, cst.IndentedBlock)) else [anchor]
    for statement in body[body.index(anchor) + 1 :]:
        if statement is limit or not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            break
        small = statement.body[0]
        value = small.value if isinstance(small, cst.Assign) else None
        receiver = value.func.value if _transform_call(value) else None  # type: ignore[union-attr]
        if not isinstance(receiver, cst.Name) or receiver.value != scaler:
            break
        anchor = statement
    return anchor


def resplit_scaled_fix(ctx: ModuleContext, flow: Flow, dead: SplitEvent, live: SplitEvent, index: int) -> Fix | None:
    """`X_train, ... = train_test_split(X_scaled, ...)` overwritten by `X_train, ... = train_test_split(X, ...)`:
    the overwritten split goes and the live one splits `X_scaled`, keeping its own arguments (test size, seed).
    Unsafe: the model then trains on other data; BNF404 then moves the scaling after the split."""
    scaled, raw = dead.input_args[index].value, live.input_args[index].value
    if not isinstance(scaled, cst.Name) or not isinstance(raw, cst.Name) or len(dead.statement.body) != 1:
        return None
    binding = flow.env_at[live.call].get(scaled.value)
    if binding is None or binding.value is not dead.inputs[index]:
        return None  # X_scaled must still hold the scaled data at the second split
    edits = StatementEdits(ctx)
    edits.remove(dead.statement)
    edits.replace(raw, cst.Name(scaled.value))
    changes = edits.changes()
    description = f"Remove the overwritten split and split {scaled.value} instead of raw {raw.value}"
    return Fix(changes, description, FixSafety.UNSAFE) if changes else None


def split_parts(split: SplitEvent, index: int) -> list[str]:
    if split.targets is None:
        return []
    return [split.targets[2 * index].value, split.targets[2 * index + 1].value]


def fit_on_training_part(ctx: ModuleContext, flow: Flow, event: FitEvent, split: SplitEvent, index: int) -> Fix | None:
    """`scaler.fit(X)` after the split -> `scaler.fit(X_train)`. Not `X = scaler.fit_transform(X)`: X's value would
    change with it."""
    parts = split_parts(split, index)
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


def move_after_split(ctx: ModuleContext, flow: Flow, event: FitEvent, split: SplitEvent, index: int) -> Fix | None:
    """Move the scaling after the split, in three shapes:

    - `X = scaler.fit_transform(X)` -> `X_train = scaler.fit_transform(X_train)`, `X_test = scaler.transform(X_test)`
    - `scaler.fit(X)` and `X = scaler.transform(X)` -> `scaler.fit(X_train)` and both parts transformed
    - `scaler.fit(X)`, the parts transformed after the split already -> `scaler.fit(X_train)`
    """
    parts = split_parts(split, index)
    split_arg, raw_arg = split.input_args[index].value, event.call.args[0].value if event.call.args else None
    split_value, env = split.inputs[index], flow.env_at[split.call]
    if not parts or not isinstance(split_value, Array):
        return None
    if not isinstance(split_arg, cst.Name) or not isinstance(raw_arg, cst.Name):
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
        if transform is None or transform is fit_statement:
            return None
        if not _assigns_transform(transform, split_arg.value, raw_arg.value):
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
    if not _transform_call(value) or len(value.args) != 1:  # type: ignore[union-attr]
        return False
    argument = value.args[0].value  # type: ignore[union-attr]
    return isinstance(argument, cst.Name) and argument.value == data


def _transform_call(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "transform"


def _scaler_after_split(
    ctx: ModuleContext, flow: Flow, event: FitEvent, moved: list, split: SplitEvent
) -> tuple[str, cst.Call | None] | None:
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


def adapt_on_training_element(ctx: ModuleContext, event: FitEvent, index: int) -> Fix | None:
    """`norm.adapt(np.concatenate([x_train, x_test]))` -> `norm.adapt(x_train)` (element `index` is the training part)."""
    concatenation = event.call.args[0].value
    joined = concatenation.args[0].value if isinstance(concatenation, cst.Call) and concatenation.args else None
    if not isinstance(joined, (cst.List, cst.Tuple)) or index >= len(joined.elements):
        return None
    train = joined.elements[index].value
    edits = StatementEdits(ctx)
    edits.replace(concatenation, train)
    changes = edits.changes()
    return Fix(changes, f"Adapt on {ctx.code_for(train)} only") if changes else None


def adapt_fix(
    ctx: ModuleContext, flow: Flow, event: FitEvent, split: SplitEvent, index: int, before: bool
) -> Fix | None:
    """`norm.adapt(X)` before the split moves after it as `norm.adapt(X_train)`; after the split, X -> X_train."""
    parts = split_parts(split, index)
    root = root_name(ctx, event.call.args[0].value) if event.call.args else None
    receiver = event.call.func.value  # type: ignore[attr-defined]
    if not parts or root is None or not isinstance(receiver, cst.Name):
        return None
    binding = flow.env_at[event.call].get(root.value)
    if binding is None or not isinstance(binding.value, Array):
        return None
    if binding.value.root is not event.data.root:  # type: ignore[union-attr]
        return None
    edits = StatementEdits(ctx)
    if not before:
        train = flow.env_at[event.call].get(parts[0])
        if train is None or train.statement is not split.statement:
            return None  # X_train must still be the split's output
        edits.replace(root, cst.Name(parts[0]))
    else:
        statement = event.statement
        if not _is_whole_statement(statement, event.call):
            return None
        if _reads_between(ctx, flow, receiver.value, statement, split.statement):
            return None  # the layer is used (a model built with it) before the split
        if flow.rebound_between(root.value, binding.order, split.order):
            return None
        moved = statement.visit(_NameSwap(root, parts[0]))
        edits.remove(statement, keep_comments=False)
        edits.insert_after(split.statement, [moved])
    changes = edits.changes()
    return Fix(changes, f"Adapt on {parts[0]} only") if changes else None


def _name_for_scaler(
    ctx: ModuleContext,
    flow: Flow,
    training: FitEvent,
    use: FitEvent | ModelEvent,
    edits: StatementEdits,
    taken: TakenNames,
    bound_by: cst.SimpleStatementLine | None = None,
) -> str | None:
    """A name that holds the training scaler from `bound_by` (default: the training fit) on and is never rebound;
    an anonymous scaler (`StandardScaler().fit_transform(x_train)`) is given one (`x_scaler`)."""
    limit = flow.statement_index[bound_by or training.statement]
    for name, binding in flow.env_at[use.call].items():
        if binding.value is training.scaler and binding.statement is not None and len(flow.rebinds.get(name, [])) == 1:
            if flow.statement_index.get(binding.statement, limit + 1) <= limit:
                return name
    constructor = training.scaler.constructor
    if flow.scaler_names.get(training.scaler):
        return None  # named, but not under a name that is safe to use here
    if training.call.func.value is not constructor:  # type: ignore[attr-defined]
        return None
    name = taken.fresh(_scaler_base(training.data.root.name))  # type: ignore[union-attr]
    edits.insert_before(training.statement, [parse_statement(ctx, f"{name} = {ctx.code_for(constructor)}\n")])
    edits.replace(constructor, cst.Name(name))
    return name


def _scaler_base(data_name: str) -> str:
    """`x_train` -> `x_scaler`, `X` -> `X_scaler`, `train_df` -> `df_scaler`; `scaler` when nothing is left."""
    words = [word for word in data_name.split("_") if name_stem(word)]
    return "_".join([*words, "scaler"])


def root_name(ctx: ModuleContext, node: cst.BaseExpression) -> cst.Name | None:
    """The array name an argument starts from: `x_test` in `x_test[:5]`, `np.array(x_test)`, `x_test.values`."""
    while not isinstance(node, cst.Name):
        if isinstance(node, (cst.Subscript, cst.Attribute)):
            node = node.value
        elif isinstance(node, cst.Call) and ctx.imports.qualified_name(node.func) is not None and node.args:
            node = node.args[0].value  # `np.array(x_test)`
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            node = node.func.value  # `x_test.reshape(-1, 1)`
        else:
            return None
    return node


def _method_call(ctx: ModuleContext, name: cst.Name) -> cst.Call | None:
    """The call `name.fit(...)`, `name.transform(...)`... when `name` is read only as that method's receiver."""
    attribute = ctx.parent(name)
    call = ctx.parent(attribute) if isinstance(attribute, cst.Attribute) and attribute.value is name else None
    if not isinstance(call, cst.Call) or call.func is not attribute:
        return None
    return call if attribute.attr.value in ("fit", "fit_transform", "transform") else None  # type: ignore[union-attr]


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


def _point(position) -> tuple[int, int]:
    return position.line, position.column


def _after(ctx: ModuleContext, node: cst.CSTNode, statement: cst.CSTNode) -> bool:
    """Does `node` start after `statement` ends?"""
    return _point(ctx.position(node).start) >= _point(ctx.position(statement).end)


def _reads_between(ctx: ModuleContext, flow: Flow, name: str, start: cst.CSTNode, end: cst.CSTNode,
                   exclude: list | None = None) -> bool:
    """Is `name` read after statement `start` ends and before statement `end` starts, outside `exclude`?"""
    low, high = _point(ctx.position(start).end), _point(ctx.position(end).start)
    skipped = [(_point(ctx.position(s).start), _point(ctx.position(s).end)) for s in exclude or []]
    for read in name_reads(flow.scope, name):
        at = _point(ctx.position(read).start)
        if low <= at < high and not any(first <= at < last for first, last in skipped):
            return True
    return False


class _NameSwap(cst.CSTTransformer):
    def __init__(self, target: cst.Name, new: str) -> None:
        self.target, self.new = target, new

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        return cst.Name(self.new) if original_node is self.target else updated_node
