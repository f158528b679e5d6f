"""BNF203 and BNF204: moving statistics that training is too short, or batches too small, to estimate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator

import libcst as cst

from bnfix.fixes.call_edits import set_keyword
from bnfix.analysis.model_layers import model_resolver

from bnfix.rules.arguments import literal_number, momentum_arg
from bnfix.analysis.context import ModuleContext
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety
from bnfix.rules.base import Invalid, Rule, Valid, Violation
from bnfix.analysis.sample_count import SampleCounter
from bnfix.analysis.training_budget import TrainingBudget, batch_size_of, fit_argument, training_budget

KERAS_DEFAULT_MOMENTUM = Decimal("0.99")
REPORT_ABOVE = 0.1  # share of the initial moving statistics still in place that is worth a finding
TARGET_SHARE = 0.01  # what the fix brings it down to
LOWEST_FIXED_MOMENTUM = 50  # in hundredths: below 0.5 BNF202 would read the value as PyTorch's convention
SMALLEST_BATCH = 8

_HEADER = "import numpy as np\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
_MODEL = "model = keras.Sequential([layers.Dense(8), layers.BatchNormalization({bn}), layers.Dense(1)])\n"
_DATA = "x = np.random.rand({n}, 4)\ny = np.random.rand({n}, 1)\n"


@dataclass
class _Fit:
    call: cst.Call
    model: cst.Name


@dataclass
class _TrainedModel:
    """One model definition and every `fit` on it: moving statistics carry over from one fit to the next."""

    fits: list[_Fit]
    bn_layers: dict[int, cst.Call]


def _fit_calls(ctx: ModuleContext) -> list[_Fit]:
    """`name.fit(...)` calls."""
    fits = []
    for call in ctx.node_index.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "fit" and isinstance(func.value, cst.Name):
            fits.append(_Fit(call, func.value))
    return fits


def _in_loop(ctx: ModuleContext, node: cst.CSTNode) -> bool:
    """A `fit` in a loop trains an unknown number of times."""
    for ancestor in ctx.node_index.ancestors(node):
        if isinstance(ancestor, (cst.For, cst.While, cst.ListComp, cst.GeneratorExp)):
            return True
        if isinstance(ancestor, cst.FunctionDef):
            return False
    return False


def _trained_models(ctx: ModuleContext) -> list[_TrainedModel]:
    models = model_resolver(ctx)
    trained: dict[int, _TrainedModel] = {}
    for fit in _fit_calls(ctx):
        binding = models.bindings.before(fit.model.value, fit.model)
        layers = models.bn_layers(fit.model)
        if binding is None or layers is None:
            continue
        entry = trained.setdefault(id(binding.statement), _TrainedModel([], {}))
        entry.fits.append(fit)
        entry.bn_layers.update((id(call), call) for call in layers)
    return list(trained.values())


def _momentum(call: cst.Call) -> tuple[Decimal, cst.Arg | None] | None:
    """The BN's momentum (Keras's default when absent); None when the source gives it by a name or expression."""
    if any(arg.star for arg in call.args):
        return None  # `BatchNormalization(**config)` may set it
    arg = momentum_arg(call)
    if arg is None:
        return KERAS_DEFAULT_MOMENTUM, None
    value = literal_number(arg.value)
    return None if value is None else (value, arg)


def converging_momentum(updates: int) -> Decimal | None:
    """The largest two-decimal momentum m with m ** updates <= 1%, or None if it would be below 0.5."""
    for hundredths in range(99, LOWEST_FIXED_MOMENTUM - 1, -1):
        if (hundredths / 100) ** updates <= TARGET_SHARE:
            return Decimal(hundredths) / 100
    return None


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 else f"{share * 100:.1f}%"


class MovingStatisticsNotConverged(Rule):
    """
    ## What it does
    Estimates how many times training updates BatchNormalization's moving statistics, from what the source
    makes plain, and reports BN layers whose `momentum` leaves more than 10% of the initial values in place
    at the end: `momentum ** updates > 0.1`.

    updates = epochs x ceil(N / batch_size) over every `fit` on the model (Keras's defaults: batch_size 32,
    epochs 1; `steps_per_epoch` when given; `initial_epoch` subtracted). N comes from array constructors with
    literal shapes (`np.random.rand(100, 10)`, `np.zeros((N, 3))`), slices (`x[:80]`), `train_test_split`'s
    arithmetic and `validation_split` (Keras trains on the first floor(N x (1 - split)) rows). The model's BN
    layers come from its `Sequential` list and `add` calls, its functional graph, its class or the function
    that builds it. Where N, the model or a momentum is not plain (data from files or datasets, a `fit` in a
    loop, a model passed in as an argument), this rule says nothing.

    ## Why is this bad?
    Keras updates `moving = moving * momentum + batch * (1 - momentum)` once per training step, starting from
    a moving mean of 0 and a moving variance of 1, with no bias correction. After S updates a share
    `momentum ** S` of those initial values is still in the moving statistics, and inference normalises with
    them. With the default momentum 0.99, 40 updates (100 samples, batch 32, 10 epochs) leave 67%: the
    model's inference output differs from its training output on the very data it trained on.

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(1)])
    model.fit(np.random.rand(100, 10), np.random.rand(100, 1), epochs=10)  # 40 updates
    ```

    Use instead (the largest two-decimal momentum with momentum ** 40 <= 1%):
    ```python
    model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(momentum=0.89), layers.Dense(1)])
    ```

    ## Fix safety
    Safe: only the averaging rate of the moving statistics changes; weights keep their shapes and checkpoints
    load. The estimate can only overstate the updates (early stopping ends sooner; a slice `x[:N]` of an
    array of unknown length has at most N rows; a layer shared by several models counts all their fits, even
    while frozen), so a finding holds for the real run too. When the needed
    momentum would fall below 0.5 (fewer than 7 updates) there is no fix: train longer.
    """

    code = "BNF203"
    name = "unconverged-moving-stats"
    summary = "BatchNormalization momentum too high for the number of training updates: moving statistics stay near 0 and 1"
    fix_safety = FixSafety.SAFE

    VALID = [
        # 0.9 ** 40 = 1.5%.
        Valid(_HEADER + _MODEL.format(bn="momentum=0.9") + _DATA.format(n=100) + "model.fit(x, y, epochs=10)\n"),
        # 10000 samples: 313 updates per epoch, 0.99 ** 626 = 0.2%.
        Valid(_HEADER + _MODEL.format(bn="") + _DATA.format(n=10000) + "model.fit(x, y, epochs=2)\n"),
        # N unknown: data from a file.
        Valid(_HEADER + _MODEL.format(bn="") + "x, y = np.load('x.npy'), np.load('y.npy')\nmodel.fit(x, y, epochs=10)\n"),
        # Model unknown: passed in.
        Valid(_HEADER + _DATA.format(n=100) + "def train(model):\n    model.fit(x, y, epochs=10)\n"),
        # Momentum given by a name.
        Valid(_HEADER + "m = pick()\n" + _MODEL.format(bn="momentum=m") + _DATA.format(n=100) + "model.fit(x, y, epochs=10)\n"),
    ]
    INVALID = [
        Invalid(
            _HEADER + _MODEL.format(bn="") + _DATA.format(n=100) + "model.fit(x, y, epochs=10)\n",
            _HEADER + _MODEL.format(bn="momentum=0.89") + _DATA.format(n=100) + "model.fit(x, y, epochs=10)\n",
        ),
        # 2 epochs x 10 steps = 20 updates: 0.79 ** 20 = 0.9%.
        Invalid(
            _HEADER + _MODEL.format(bn="momentum=0.95") + _DATA.format(n=1000) + "model.fit(x, y, epochs=2, steps_per_epoch=10)\n",
            _HEADER + _MODEL.format(bn="momentum=0.79") + _DATA.format(n=1000) + "model.fit(x, y, epochs=2, steps_per_epoch=10)\n",
        ),
        # 2 updates: no momentum of 0.5 or more converges; reported without a fix.
        Invalid(_HEADER + _MODEL.format(bn="") + _DATA.format(n=64) + "model.fit(x, y, batch_size=32, epochs=1, validation_split=0.25)\n"),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        counter = SampleCounter(ctx)
        # A BN layer shared by several models (a base inside a bigger model) is updated by all their fits.
        budgets_by_bn: dict[int, list[TrainingBudget | None]] = {}
        calls: dict[int, cst.Call] = {}
        for model in _trained_models(ctx):
            budgets = [None if _in_loop(ctx, fit.call) else training_budget(counter, fit.call) for fit in model.fits]
            for key, call in model.bn_layers.items():
                budgets_by_bn.setdefault(key, []).extend(budgets)
                calls[key] = call
        for key, budgets in budgets_by_bn.items():
            known = [budget for budget in budgets if budget is not None]
            if len(known) < len(budgets):
                continue  # one fit of unknown length is enough to make the total unknown
            updates = sum(budget.updates for budget in known)
            if len(known) == 1:
                description = known[0].describe()
            else:
                description = f"{len(known)} fit calls: " + " + ".join(str(budget.updates) for budget in known)
            violation = _check_bn(calls[key], updates, description)
            if violation is not None:
                yield violation


def _check_bn(call: cst.Call, updates: int, description: str) -> Violation | None:
    momentum = _momentum(call)
    if momentum is None:
        return None
    value, arg = momentum
    share = float(value) ** updates
    if share <= REPORT_ABOVE:
        return None
    message = (
        f"after {updates} updates ({description}) the moving statistics still hold {_percent(share)} of their "
        f"initial values (momentum {value})"
    )
    new_value = converging_momentum(updates)
    if new_value is None:
        return Violation(call, f"{message}; no momentum of 0.5 or more fixes so few updates: train longer")
    literal = cst.Float(str(new_value))
    new_call = set_keyword(call, "momentum", literal) if arg is None else call.deep_replace(arg, arg.with_changes(value=literal))
    left = _percent(float(new_value) ** updates)
    fix = Fix({call: new_call}, f"Set momentum={new_value}: after {updates} updates {left} of the initial values remain")
    return Violation(call, message, fix)


class TinyBatches(Rule):
    """
    ## What it does
    Reports `fit(..., batch_size=B)` with B below 8 on a model that contains BatchNormalization (the model's
    layers are found as for BNF203; an unknown model is left alone).

    ## Why is this bad?
    In training mode BN normalises each feature with the mean and variance of the current batch. From fewer
    than 8 samples those estimates are noisy (with one sample the variance is 0 and every feature becomes
    beta), training sees a different normalisation at every step, and the moving statistics that inference
    uses average that noise. Wu & He (Group Normalization, 2018) measure BN's error rising steeply below 8
    samples per batch.

    ## Example
    ```python
    model.fit(x_train, y_train, batch_size=4)
    ```

    Use instead: batches of 8 or more, or a normalisation that does not depend on the batch:
    ```python
    layers.GroupNormalization(groups=8)  # or layers.LayerNormalization()
    ```

    ## Fix safety
    No automatic fix: a larger batch changes the optimisation and may not fit in memory, and replacing BN
    changes the architecture. Both are decisions for the author.
    """

    code = "BNF204"
    name = "tiny-batches"
    summary = "BatchNormalization trained with batches smaller than 8"
    fix_safety = None

    VALID = [
        Valid(_HEADER + _MODEL.format(bn="") + _DATA.format(n=100) + "model.fit(x, y, batch_size=8)\n"),
        Valid(_HEADER + _MODEL.format(bn="") + _DATA.format(n=100) + "model.fit(x, y)\n"),
        # No BatchNormalization in the model.
        Valid(_HEADER + "model = keras.Sequential([layers.Dense(8), layers.Dense(1)])\nmodel.fit(x, y, batch_size=2)\n"),
        # Unknown model.
        Valid(_HEADER + "from keras.layers import BatchNormalization\nmodel = keras.models.load_model('m.keras')\nmodel.fit(x, y, batch_size=2)\n"),
    ]
    INVALID = [
        Invalid(_HEADER + _MODEL.format(bn="") + _DATA.format(n=100) + "model.fit(x, y, epochs=5, batch_size=4)\n"),
        Invalid(_HEADER + _MODEL.format(bn="") + "BATCH = 2\nmodel.fit(x, y, BATCH)\n"),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        counter = SampleCounter(ctx)
        models = model_resolver(ctx)
        for fit in _fit_calls(ctx):
            arg = fit_argument(fit.call, "batch_size")
            size = batch_size_of(counter, fit.call) if arg is not None else None
            if arg is None or size is None or size >= SMALLEST_BATCH or not models.bn_layers(fit.model):
                continue
            yield Violation(
                arg,
                f"batch_size={size}: BatchNormalization normalises each training step with the mean and variance of "
                f"{size} sample{'s' if size != 1 else ''}; use batches of {SMALLEST_BATCH} or more, or "
                "GroupNormalization / LayerNormalization",
            )

