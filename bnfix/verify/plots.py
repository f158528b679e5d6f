"""The figures of `bnfix verify --report`: matplotlib, drawn off-screen, returned as PNG bytes.

Every function takes the harness records of the original (`before`) and the repaired (`after`) runs of one
script, exactly as the `--json` document holds them, and returns None when the runs recorded nothing to draw
(the page then says so instead of showing an empty frame). Pure reading of the records: no TensorFlow.
"""

from __future__ import annotations

import io
import math
from typing import Any, Iterable, Sequence

BEFORE_COLOUR, AFTER_COLOUR = "#c0392b", "#2471a3"
SIDES = (("original", BEFORE_COLOUR), ("repaired", AFTER_COLOUR))
CHANNELS_SHOWN = 16


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display, no window: the figures only go into the page
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def last_fit(run: dict) -> dict | None:
    """The fit the verdict reads (compare.run_metrics takes the last one)."""
    fits = [fit for fit in run.get("fits") or [] if isinstance(fit, dict)]
    return fits[-1] if fits else None


def last_probe(run: dict) -> dict | None:
    probes = [fit["probe"] for fit in run.get("fits") or [] if isinstance(fit, dict) and isinstance(fit.get("probe"), dict)]
    return probes[-1] if probes else None


# ------------------------------------------------------------------------------------------------ loss curves


def loss_curves(before: Sequence[dict], after: Sequence[dict]) -> bytes | None:
    """Training and validation loss per epoch of the last fit, one line per seed, original against repaired."""
    panels = [("loss", "training loss"), ("val_loss", "validation loss")]
    series = {key: [] for key, _ in panels}
    for (side, colour), runs in zip(SIDES, (before, after)):
        for run in runs:
            fit = last_fit(run)
            history = (fit or {}).get("history") or {}
            for key, _ in panels:
                values = history.get(key) or []
                if any(_finite(value) for value in values):
                    series[key].append((side, colour, run.get("seed"), values))
    shown = [(key, title) for key, title in panels if series[key]]
    if not shown:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(shown), figsize=(5.2 * len(shown), 3.4), squeeze=False)
    for axis, (key, title) in zip(axes[0], shown):
        labelled: set[str] = set()
        for side, colour, seed, values in series[key]:
            epochs = range(1, len(values) + 1)
            points = [value if _finite(value) else math.nan for value in values]
            label = side if side not in labelled else None
            labelled.add(side)
            # The original dashed under the repaired solid line: where a repair leaves training alone they coincide.
            style = "--" if side == "original" else "-"
            axis.plot(epochs, points, style, color=colour, alpha=0.85, marker="o", markersize=2.5, linewidth=1.4, label=label)
            if points:
                axis.annotate(f"seed {seed}", (len(points), points[-1]), fontsize=6, color=colour, alpha=0.8)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        if _positive(value for *_, values in series[key] for value in values):
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return _png(figure)


def _positive(values: Iterable[Any]) -> bool:
    """A log scale only when every finite value is positive and they span more than a factor of 10."""
    finite = [value for value in values if _finite(value)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10


# ------------------------------------------------------------------------------------------------ BN layers


def layer_errors(runs: Sequence[dict]) -> dict[str, dict[str, list[float]]]:
    """Per BN layer name, the mean, variance and normalisation errors of the last probe of every run."""
    table: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for layer in (last_probe(run) or {}).get("layers") or []:
            entry = table.setdefault(layer.get("name", "?"), {"mean_error": [], "variance_error": [], "normalisation_error": []})
            for key, values in entry.items():
                if _finite(layer.get(key)):
                    values.append(float(layer[key]))
    return {name: errors for name, errors in table.items() if any(errors.values())}


def bn_layer_errors(before: Sequence[dict], after: Sequence[dict]) -> bytes | None:
    """How far each BN layer's moving statistics are from its input's statistics: bars (mean over seeds) and seeds."""
    errors = [layer_errors(before), layer_errors(after)]
    names = list(dict.fromkeys([*errors[0], *errors[1]]))
    if not names:
        return None
    plt = _pyplot()
    keys = [("mean_error", "moving mean, relative error"), ("variance_error", "moving variance, relative error"),
            ("normalisation_error", "normalisation error")]
    figure, axes = plt.subplots(1, 3, figsize=(15, max(2.6, 0.9 + 0.45 * len(names))), squeeze=False)
    height = 0.38
    for axis, (key, title) in zip(axes[0], keys):
        for offset, (side, colour), side_errors in zip((-height / 2, height / 2), SIDES, errors):
            for row, name in enumerate(names):
                values = side_errors.get(name, {}).get(key) or []
                if not values:
                    continue
                axis.barh(row + offset, sum(values) / len(values), height=height, color=colour, alpha=0.55, label=side)
                axis.plot(values, [row + offset] * len(values), "|", color=colour, markersize=9)
        axis.set_yticks(range(len(names)))
        axis.set_yticklabels(names, fontsize=8)
        axis.invert_yaxis()
        axis.set_title(title, fontsize=10)
        axis.axvline(0, color="black", linewidth=0.8)
        axis.grid(axis="x", alpha=0.3)
        handles, labels = axis.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        axis.legend(unique.values(), unique.keys(), fontsize=8)
    return _png(figure)


def channel_statistics(run: dict) -> list[dict]:
    """The layers of the run's last probe that carry per-channel moving and sample statistics."""
    keys = ("moving_mean_values", "sample_mean_values", "moving_variance_values", "sample_variance_values")
    return [layer for layer in (last_probe(run) or {}).get("layers") or [] if all(layer.get(key) for key in keys)]


def bn_channel_statistics(before: Sequence[dict], after: Sequence[dict]) -> bytes | None:
    """Per BN layer and channel, the moving mean and variance against the sample's: on the diagonal when converged.

    One seed per side (the first that recorded channels): the point is the picture of (non-)convergence, the
    numbers over all seeds are in the table and in the error bars above.
    """
    sides = []
    for (side, colour), runs in zip(SIDES, (before, after)):
        layers = next((found for found in map(channel_statistics, runs) if found), [])
        sides.append((side, colour, layers))
    names = list(dict.fromkeys(layer["name"] for _, _, layers in sides for layer in layers))
    if not names:
        return None
    plt = _pyplot()
    shown = names[:6]  # beyond six layers the table and the error bars above carry the rest
    figure, axes = plt.subplots(len(shown), 2, figsize=(8.4, 3.4 * len(shown)), squeeze=False, constrained_layout=True)
    for row, name in enumerate(shown):
        for column, (statistic, title) in enumerate((("mean", "mean"), ("variance", "variance"))):
            axis = axes[row][column]
            everything: list[float] = []
            for side, colour, layers in sides:
                layer = next((entry for entry in layers if entry["name"] == name), None)
                if layer is None:
                    continue
                sample = [float(v) for v in layer[f"sample_{statistic}_values"][:CHANNELS_SHOWN]]
                moving = [float(v) for v in layer[f"moving_{statistic}_values"][:CHANNELS_SHOWN]]
                axis.scatter(sample, moving, color=colour, s=14, alpha=0.8, label=side)
                everything += [v for v in sample + moving if math.isfinite(v)]
            if everything:
                low, high = min(everything), max(everything)
                axis.plot([low, high], [low, high], color="black", linewidth=0.8, linestyle="--", label="converged")
            axis.set_title(f"{name}: {title}", fontsize=9)
            axis.set_xlabel(f"{title} of the layer's input (sample)", fontsize=8)
            axis.set_ylabel(f"moving {title}", fontsize=8)
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7)
    return _png(figure)


# ------------------------------------------------------------------------------------------------ scalars


def per_seed_bars(title: str, unit: str, before: Sequence[float | None], after: Sequence[float | None]) -> bytes | None:
    """One number per seed on each side (the inference gap, the input shift): the mean as a bar, the seeds as dots."""
    sides = [[float(v) for v in values if _finite(v)] for values in (before, after)]
    if not any(sides):
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.2, 3.0))
    for position, ((side, colour), values) in enumerate(zip(SIDES, sides)):
        if not values:
            axis.text(position, 0, "not recorded", ha="center", va="bottom", fontsize=8, color=colour)
            continue
        axis.bar(position, sum(values) / len(values), color=colour, alpha=0.55, width=0.6)
        axis.scatter([position] * len(values), values, color=colour, s=18, zorder=3)
    axis.set_xticks([0, 1])
    axis.set_xticklabels([side for side, _ in SIDES])
    axis.set_title(title, fontsize=10)
    axis.set_ylabel(unit, fontsize=8)
    axis.grid(axis="y", alpha=0.3)
    return _png(figure)
