"""`bnfix verify --report DIR`: one self-contained HTML page (DIR/index.html) and the JSON it was drawn from.

The page is rendered from the `--json` document itself (report.json_document), so every number on it is a
number of the JSON, written beside it as DIR/verify.json. Figures are PNGs embedded as base64 data URIs and the
page has no script, font or style sheet to fetch: it opens from disk with no network. Each number the page
prints carries its exact value in `data-*` attributes, so tools (and the tests) can read it back losslessly.
"""

from __future__ import annotations

import base64
import json
import math
from html import escape
from pathlib import Path
from typing import Any, Iterable, Sequence

from bnfix.verify import plots

PAGE = "index.html"
DOCUMENT = "verify.json"
METRIC_TITLES = {
    "train_loss": "training loss (last epoch)",
    "val_loss": "validation loss (last epoch)",
    "test_loss": "test loss (last evaluate)",
    "val_accuracy": "validation accuracy",
    "test_accuracy": "test accuracy",
    "inference_gap": "inference gap (BN train vs inference mode)",
    "moving_stat_error": "moving-statistics error (worst BN layer)",
    "input_shift": "input shift (evaluation vs training inputs)",
}
GOOD = {"improved", "fixed crash"}
BAD = {"worse", "new crash"}
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1180px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2.2em; border-top: 1px solid #ccc; padding-top: 0.8em; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { font-weight: 600; } .good { color: #1e7b34; } .bad { color: #b03a2e; } .neutral { color: #555; }
.change-better { background: #e8f6ec; } .change-worse { background: #fbeaea; }
figure { margin: 0.8em 0; } figure img { max-width: 100%; border: 1px solid #eee; } figcaption { color: #555; font-size: 0.9em; }
.missing { color: #777; font-style: italic; } code { background: #f4f4f4; padding: 0 3px; } pre { white-space: pre-wrap; font-size: 0.85em; }
"""


def write_report(document: dict, directory: Path) -> Path:
    """Write DIR/index.html and DIR/verify.json for a `--json` document; the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DOCUMENT).write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    page = directory / PAGE
    page.write_text(render_page(document), encoding="utf-8")
    return page


def render_page(document: dict) -> str:
    scripts = document.get("scripts") or []
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>bnfix verify report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>bnfix verify</h1>",
        _run_summary(document),
        _overview(scripts),
    ]
    parts += [_script_section(index, script) for index, script in enumerate(scripts, 1)]
    parts += [_policy_comparisons(document.get("policy_comparisons") or []), "</body></html>"]
    return "\n".join(part for part in parts if part) + "\n"


# ------------------------------------------------------------------------------------------------ the header


def _run_summary(document: dict) -> str:
    settings = document.get("settings") or {}
    items = [
        ("seeds", ", ".join(map(str, document.get("seeds") or [])) or "—"),
        ("time limit per run", _seconds(document.get("timeout"))),
        ("policy", settings.get("policy", "—")),
        ("unsafe fixes", "yes" if settings.get("unsafe_fixes") else "no"),
        ("exit code", str(document.get("exit_code", "—"))),
        ("elapsed", _seconds(document.get("elapsed_seconds"))),
    ]
    budget = document.get("budget")
    if document.get("budget_description"):
        items.insert(2, ("budget", str(document["budget_description"])))
    elif isinstance(budget, dict):
        applied = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in budget.items() if value not in (None, False))
        items.insert(2, ("budget", applied or "none: every fit ran as written"))
    else:
        items.insert(2, ("budget", "none recorded"))
    cells = "".join(f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>" for key, value in items)
    return f'<table class="run-summary">{cells}</table>'


def _overview(scripts: Sequence[dict]) -> str:
    if not scripts:
        return '<p class="missing">No script was verified.</p>'
    rows = []
    for index, script in enumerate(scripts, 1):
        verdict = script.get("verdict", "")
        rows.append(
            "<tr>"
            f'<td><a href="#script-{index}">{escape(script.get("path", "?"))}</a></td>'
            f"<td>{escape(script.get('policy') or '')}</td>"
            f"<td>{escape(', '.join(dict.fromkeys(script.get('rules') or [])))}</td>"
            f"<td>{escape(_outcome_text(script))}</td>"
            f'<td class="verdict {_verdict_class(verdict)}" data-verdict="{escape(verdict)}">{escape(verdict)}</td>'
            f"<td>{escape(_deciding_metric(script) or '—')}</td>"
            "</tr>"
        )
    head = "<tr><th>script</th><th>policy</th><th>rules</th><th>outcome</th><th>verdict</th><th>decided by</th></tr>"
    return f'<h2 id="overview">Scripts</h2><table class="overview">{head}{"".join(rows)}</table>'


def _outcome_text(script: dict) -> str:
    """The run statuses on each side (`2 ok → 1 ok, 1 timeout`), after the kind of result where the document has one."""
    sides = [_counts_text((script.get(side) or {}).get("outcomes") or {}) for side in ("before", "after")]
    runs = " → ".join(sides) if any(side != "—" for side in sides) else "not run"
    outcome = script.get("outcome")
    return f"{outcome}: {runs}" if isinstance(outcome, str) and outcome else runs


def _counts_text(counts: dict) -> str:
    if not counts:
        return "—"
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def _deciding_metric(script: dict) -> str | None:
    return script.get("deciding_metric") or script.get("judged_on")


def _verdict_class(verdict: str) -> str:
    return "good" if verdict in GOOD else "bad" if verdict in BAD else "neutral"


# ------------------------------------------------------------------------------------------------ one script


def _script_section(index: int, script: dict) -> str:
    path = script.get("path", "?")
    policy = f" (policy {script['policy']})" if script.get("policy") else ""
    verdict = script.get("verdict", "")
    before = (script.get("before") or {}).get("runs") or []
    after = (script.get("after") or {}).get("runs") or []
    deciding = _deciding_metric(script)
    parts = [
        f'<section id="script-{index}" class="script" data-path="{escape(path)}">',
        f"<h2>{escape(path)}{escape(policy)}</h2>",
        f'<p><span class="verdict {_verdict_class(verdict)}" data-verdict="{escape(verdict)}">{escape(verdict)}</span>: '
        f"{escape(script.get('reason') or '')}"
        + (f' — decided by <code data-deciding="{escape(deciding)}">{escape(deciding)}</code>' if deciding else "")
        + "</p>",
        f"<p>Rules repaired: {escape(', '.join(dict.fromkeys(script.get('rules') or [])) or 'none')}</p>",
        _learning(script),
        _metrics_table(script.get("metrics") or {}, deciding),
        _runs_table(before, after),
    ]
    if before or after:
        parts += _figures(script, before, after)
    parts.append("</section>")
    return "\n".join(parts)


def _learning(script: dict) -> str:
    """Whether each version's model learned, BNF203's update counts, and what --max-samples kept of datasets and
    generators, where the document recorded them."""
    notes = []
    learned = script.get("learned")
    if isinstance(learned, dict) and learned:
        words = {True: "yes", False: "no", None: "cannot tell"}
        notes.append("model learned: " + ", ".join(f"{side} {words.get(value, value)}" for side, value in learned.items()))
    updates = script.get("updates")
    if isinstance(updates, dict) and any(value is not None for value in updates.values()):
        notes.append("BN updates: " + ", ".join(f"{key} {value}" for key, value in updates.items() if value is not None))
    kept = script.get("capped_inputs")
    if isinstance(kept, list) and kept:
        notes.append("--max-samples kept " + "; ".join(str(phrase) for phrase in kept))
    return f'<p class="learning">{escape("; ".join(notes))}</p>' if notes else ""


def better_when(name: str) -> str:
    return "higher" if name.endswith("accuracy") else "lower"


def _metrics_table(metrics: dict, deciding: str | None) -> str:
    if not metrics:
        return '<p class="missing">No metric was compared.</p>'
    rows = []
    for name, comparison in metrics.items():
        if not isinstance(comparison, dict):
            continue
        change = comparison.get("change", "")
        marker = " ◀ decided the verdict" if name == deciding else ""
        rows.append(
            f'<tr class="metric change-{escape(str(change))}" data-metric="{escape(name)}">'
            f"<td>{escape(METRIC_TITLES.get(name, name.replace('_', ' ')))}{escape(marker)}</td>"
            f"<td>{better_when(name)}</td>"
            f"{_summary_cell('before', comparison.get('before'))}{_summary_cell('after', comparison.get('after'))}"
            f'<td data-change="{escape(str(change))}">{escape(str(change))}</td>'
            f"{_number_cell(comparison.get('difference'), 'difference')}"
            "</tr>"
        )
    head = "<tr><th>metric</th><th>better when</th><th>original</th><th>repaired</th><th>change</th><th>difference</th></tr>"
    return f'<table class="metrics">{head}{"".join(rows)}</table>'


def _summary_cell(side: str, summary: Any) -> str:
    """mean ± spread over the seeds (n), with the exact values in data attributes."""
    if not isinstance(summary, dict):
        return f'<td class="number missing" data-side="{side}">not recorded</td>'
    mean, spread, n = summary.get("mean"), summary.get("spread"), summary.get("n", 0)
    attributes = f'data-side="{side}" data-mean="{_exact(mean)}" data-spread="{_exact(spread)}" data-n="{n}"'
    if not n:
        text = "no finite value"
    else:
        text = format_number(mean) + (f" ± {format_number(spread)}" if n > 1 else "") + f" (n={n})"
    if summary.get("non_finite"):
        text += f", {summary['non_finite']} diverged"
    return f'<td class="number" {attributes}>{escape(text)}</td>'


def _number_cell(value: Any, name: str) -> str:
    return f'<td class="number" data-{name}="{_exact(value)}">{escape(format_number(value))}</td>'


def format_number(value: Any) -> str:
    """Four significant digits, as the page shows numbers (the data attributes keep every digit)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.4g}"


def _exact(value: Any) -> str:
    return "" if value is None else repr(float(value))


def _runs_table(before: Sequence[dict], after: Sequence[dict]) -> str:
    if not before and not after:
        return ""
    rows = []
    for side, runs in (("original", before), ("repaired", after)):
        for run in runs:
            error = run.get("error") or {}
            fits = run.get("fits") or []
            epochs = sum(fit.get("epochs") or 0 for fit in fits if isinstance(fit, dict))
            problem = f"{error.get('type')}: {error.get('message')}" if error else ""
            rows.append(
                f'<tr class="run" data-side="{side}" data-seed="{escape(str(run.get("seed")))}" data-status="{escape(str(run.get("status")))}">'
                f"<td>{side}</td><td>{escape(str(run.get('seed')))}</td><td>{escape(str(run.get('status')))}</td>"
                f"{_number_cell(run.get('duration'), 'duration')}"
                f"<td>{len(fits)} fit(s), {epochs} epoch(s), {len(run.get('evaluations') or [])} evaluation(s)</td>"
                f"<td>{escape(problem)}</td></tr>"
            )
    head = "<tr><th>version</th><th>seed</th><th>status</th><th>seconds</th><th>recorded</th><th>error</th></tr>"
    return f'<h3>Runs</h3><table class="runs">{head}{"".join(rows)}</table>'


# ------------------------------------------------------------------------------------------------ figures


def _seed_values(script: dict, metric: str, side: str) -> list[float]:
    """The per-run values behind a metric's summary in the JSON: the bars show exactly the table's numbers."""
    summary = ((script.get("metrics") or {}).get(metric) or {}).get(side) or {}
    return list(summary.get("values") or [])


def _figures(script: dict, before: Sequence[dict], after: Sequence[dict]) -> list[str]:
    fits = max((len(run.get("fits") or []) for run in [*before, *after]), default=0)
    which = f" Each run recorded up to {fits} fits; the last one (the one the verdict reads) is shown." if fits > 1 else ""
    return [
        _figure(
            "loss",
            plots.loss_curves(before, after),
            "Training and validation loss per epoch, one line per seed; red dashed: original, blue: repaired." + which,
            "no fit recorded a loss history",
        ),
        _figure(
            "bn-errors",
            plots.bn_layer_errors(before, after),
            "How far each BatchNormalization layer's moving mean and variance are from the statistics of its input on a "
            "sample of the training data, after the last fit (0 = converged); bars: mean over seeds, ticks: seeds.",
            "no BatchNormalization probe recorded",
        ),
        _figure(
            "bn-channels",
            plots.bn_channel_statistics(before, after),
            f"Per channel (the first {plots.CHANNELS_SHOWN}; the first six BN layers), the moving statistic against the sample's, first seed of "
            "each version: on the dashed diagonal when the moving statistics have converged.",
            "no per-channel BatchNormalization statistics recorded",
        ),
        _figure(
            "inference-gap",
            plots.per_seed_bars("inference gap", "rms(inference − training) / rms(training)",
                                _seed_values(script, "inference_gap", "before"), _seed_values(script, "inference_gap", "after")),
            "How far the model's inference-mode outputs are from its training-mode outputs on its training sample "
            "(0 = BatchNormalization behaves the same in both modes).",
            "no inference gap recorded (no BatchNormalization, or no sample to probe)",
        ),
        _figure(
            "input-shift",
            plots.per_seed_bars("input shift", "mean |standardised difference|",
                                _seed_values(script, "input_shift", "before"), _seed_values(script, "input_shift", "after")),
            "How far the inputs given to evaluate/predict are from the training inputs, feature by feature "
            "(0 = evaluation data scaled like the training data).",
            "no input shift recorded",
        ),
    ]


def _figure(kind: str, png: bytes | None, caption: str, missing: str) -> str:
    if png is None:
        return f'<p class="missing" data-figure="{kind}">{escape(kind.replace("-", " "))}: {escape(missing)}.</p>'
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure data-figure="{kind}"><img alt="{escape(kind.replace("-", " "))}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _policy_comparisons(comparisons: Iterable[dict]) -> str:
    rows = [
        f"<tr><td>{escape(item.get('path', '?'))}</td><td>{escape(str(item.get('candidate')))} against "
        f"{escape(str(item.get('baseline')))}</td><td>{escape(str(item.get('verdict')))}</td><td>{escape(str(item.get('reason')))}</td></tr>"
        for item in comparisons
    ]
    if not rows:
        return ""
    head = "<tr><th>script</th><th>policies</th><th>verdict</th><th>reason</th></tr>"
    return f'<h2 id="policies">Placement policies compared</h2><table class="policies">{head}{"".join(rows)}</table>'


def _seconds(value: Any) -> str:
    return f"{value:g} s" if isinstance(value, (int, float)) else "—"


def main(argv: list[str] | None = None) -> int:
    """`python -m bnfix.verify.html_report DOCUMENT.json DIR`: the page for a `--json` document saved earlier."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bnfix.verify.html_report", description=main.__doc__)
    parser.add_argument("document", type=Path, help="a document written by `bnfix verify --json`")
    parser.add_argument("directory", type=Path, help="where index.html and verify.json go")
    args = parser.parse_args(argv)
    try:
        document = json.loads(args.document.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        parser.exit(2, f"error: cannot read {args.document}: {error}\n")
    if not isinstance(document, dict) or "scripts" not in document:
        parser.exit(2, f"error: {args.document} is not a `bnfix verify --json` document\n")
    print(write_report(document, args.directory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
