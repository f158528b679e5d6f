"""Build a large synthetic source tree for the benchmark, the same bytes for the same seed.

The mix imitates a machine-learning monorepo: most files are ordinary Python (utilities, data plumbing, services,
tests), some of which mention words the rules look for ("training", ".fit(", "predict") in passing; a share are
Keras training scripts in the styles bnfix rewrites (Sequential lists, `model.add` runs, functional chains,
subclassed layers), with and without the bugs; some are scikit-learn preprocessing scripts; a few are notebooks.

    python bench/generate_tree.py OUT_DIR [--files 3000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import zlib
from pathlib import Path

# Shares of the tree, by kind of file. Calibrated on keras-team/keras, a BatchNormalization-dense code base, where
# 17% of the .py files pass bnfix's byte prefilter: here Keras scripts, scikit-learn scripts and notebooks make 17%.
MIX = (("plain", 0.70), ("mentions", 0.13), ("keras", 0.11), ("sklearn", 0.04), ("notebook", 0.02))

ACTIVATIONS = ("relu", "elu", "gelu", "swish", "tanh")
WORDS = ("user", "order", "record", "batch", "item", "price", "event", "token", "frame", "shard", "metric", "path")


def _name(rng: random.Random, parts: int = 2) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(parts))


def plain_module(rng: random.Random, mention: bool = False) -> str:
    """Ordinary Python: dataclasses, functions with loops and comprehensions, a small CLI."""
    lines = ['"""' + f"Helpers for {_name(rng)} handling." + '"""', "", "from __future__ import annotations", ""]
    lines += ["import json", "import os", "from dataclasses import dataclass, field", "from typing import Iterable", ""]
    for _ in range(rng.randint(2, 6)):
        cls = _name(rng).title().replace("_", "")
        lines += ["", "@dataclass", f"class {cls}:", f'    """A {cls.lower()} as stored on disk."""', ""]
        for _ in range(rng.randint(2, 6)):
            lines.append(f"    {_name(rng)}: int = {rng.randint(0, 99)}")
        lines += ["    tags: list[str] = field(default_factory=list)", "", "    def total(self) -> int:"]
        lines.append(f"        return sum(len(tag) for tag in self.tags) + {rng.randint(1, 9)}")
    for _ in range(rng.randint(3, 12)):
        fn = _name(rng, 3)
        lines += ["", "", f"def {fn}(rows: Iterable[dict], limit: int = {rng.randint(5, 500)}) -> list[dict]:"]
        if mention:
            verb = rng.choice(["training", "model.predict", "estimator.fit(", "evaluate", "validation_data"])
            lines.append(f'    """Used before {verb} runs elsewhere; keeps the {_name(rng)} stable."""')
        else:
            lines.append(f'    """Filter and reshape {_name(rng)} rows."""')
        lines += [
            "    out = []",
            "    for index, row in enumerate(rows):",
            "        if index >= limit:",
            "            break",
            f"        value = row.get({_name(rng)!r}, {rng.randint(0, 9)})",
            "        if isinstance(value, (int, float)) and value > 0:",
            f"            out.append({{**row, {_name(rng)!r}: value * {rng.randint(2, 7)}}})",
            "        elif value is None:",
            "            continue",
            "        else:",
            f"            out.append({{k: v for k, v in row.items() if k != {_name(rng)!r}}})",
            "    return out",
        ]
    lines += ["", "", "def main() -> None:", "    path = os.environ.get('DATA', 'data.json')"]
    lines += ["    with open(path) as handle:", "        rows = json.load(handle)", "    print(len(rows))", ""]
    lines += ["", 'if __name__ == "__main__":', "    main()", ""]
    return "\n".join(lines)


def _dense_block(rng: random.Random, style: str, units: int, indent: str) -> list[str]:
    activation = rng.choice(ACTIVATIONS)
    order = rng.choice(["bn_act", "act_bn", "fused_bn", "dropout_bn", "plain"])
    momentum = rng.choice(["", "", "momentum=0.1", "momentum=0.99", "momentum=0.9"])
    bn = f"layers.BatchNormalization({momentum})"
    layers = {
        "bn_act": [f"layers.Dense({units})", bn, f"layers.Activation({activation!r})"],
        "act_bn": [f"layers.Dense({units})", f"layers.Activation({activation!r})", bn],
        "fused_bn": [f"layers.Dense({units}, activation={activation!r})", bn],
        "dropout_bn": [f"layers.Dense({units}, activation={activation!r})", "layers.Dropout(0.3)", bn],
        "plain": [f"layers.Dense({units}, activation={activation!r})"],
    }[order]
    if style == "list":
        return [f"{indent}{layer}," for layer in layers]
    if style == "add":
        return [f"{indent}model.add({layer})" for layer in layers]
    return [f"{indent}x = {layer}(x)" for layer in layers]


def keras_script(rng: random.Random) -> str:
    style = rng.choice(["list", "add", "functional"])
    lines = ['"""Train a small regressor on the exported features."""', "", "import numpy as np"]
    lines += ["from tensorflow import keras", "from tensorflow.keras import layers", ""]
    lines += [f"x_train = np.random.rand({rng.choice([512, 2048, 60000])}, 20)", "y_train = x_train.sum(axis=1)"]
    lines += ["x_test = np.random.rand(256, 20)", "y_test = x_test.sum(axis=1)", ""]
    depth = rng.randint(2, 5)
    if style == "list":
        lines.append("model = keras.Sequential([")
        lines.append("    keras.Input(shape=(20,)),")
        for i in range(depth):
            lines += _dense_block(rng, "list", 2 ** (8 - i), "    ")
        lines += ["    layers.Dense(1),", "])"]
    elif style == "add":
        lines += ["model = keras.Sequential()", "model.add(keras.Input(shape=(20,)))"]
        for i in range(depth):
            lines += _dense_block(rng, "add", 2 ** (8 - i), "")
        lines.append("model.add(layers.Dense(1))")
    else:
        lines += ["inputs = keras.Input(shape=(20,))", "x = inputs"]
        for i in range(depth):
            lines += _dense_block(rng, "functional", 2 ** (8 - i), "")
        lines += ["outputs = layers.Dense(1)(x)", "model = keras.Model(inputs, outputs)"]
    lines += ["", "model.compile(optimizer='adam', loss='mse')"]
    lines.append(f"model.fit(x_train, y_train, epochs={rng.choice([1, 5, 20])}, batch_size={rng.choice([4, 32, 128])}, verbose=0)")
    if rng.random() < 0.3:
        lines.append("preds = model(x_test, training=True)")
    else:
        lines.append("print(model.evaluate(x_test, y_test, verbose=0))")
    lines.append("")
    return "\n".join(lines)


def sklearn_script(rng: random.Random) -> str:
    scaler = rng.choice(["StandardScaler", "MinMaxScaler"])
    lines = ['"""Fit a baseline on the tabular export."""', "", "import numpy as np"]
    lines += [f"from sklearn.preprocessing import {scaler}", "from sklearn.linear_model import Ridge", ""]
    lines += ["x_train, y_train = np.random.rand(500, 8), np.random.rand(500)", "x_test = np.random.rand(100, 8)", ""]
    lines += [f"scaler = {scaler}()", "x_train = scaler.fit_transform(x_train)"]
    lines.append("x_test = scaler.fit_transform(x_test)" if rng.random() < 0.5 else "x_test = scaler.transform(x_test)")
    lines += ["model = Ridge().fit(x_train, y_train)", "print(model.predict(x_test)[:5])", ""]
    return "\n".join(lines)


def notebook(rng: random.Random) -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Experiment\n", "A quick model."]},
        _code_cell("!pip install -q keras\n%matplotlib inline"),
        _code_cell(keras_script(rng)),
        _code_cell("model.summary()\nmodel?"),
    ]
    document = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _code_cell(source: str) -> dict:
    lines = source.splitlines(keepends=True)
    cell_id = f"c{zlib.crc32(source.encode()):08x}"  # stable across runs, unlike hash()
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {}, "outputs": [], "source": lines}


GENERATORS = {
    "plain": lambda rng: plain_module(rng),
    "mentions": lambda rng: plain_module(rng, mention=True),
    "keras": keras_script,
    "sklearn": sklearn_script,
    "notebook": notebook,
}


def build_tree(out: Path, files: int, seed: int = 0, keras_share: float | None = None) -> dict[str, int]:
    """Write `files` files under `out` (emptied first), 40 to a package directory; returns the count of each kind.

    `keras_share` replaces the Keras scripts' share, taking it from (or giving it to) the plain modules.
    """
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    mix = dict(MIX)
    if keras_share is not None:
        mix["plain"] += mix["keras"] - keras_share
        mix["keras"] = keras_share
    kinds = list(mix)
    weights = [mix[kind] for kind in kinds]
    counts = dict.fromkeys(kinds, 0)
    for index in range(files):
        kind = rng.choices(kinds, weights)[0]
        counts[kind] += 1
        suffix = ".ipynb" if kind == "notebook" else ".py"
        path = out / f"pkg{index // 40:03d}" / f"{kind}_{index:05d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = GENERATORS[kind](random.Random(rng.random()))
        path.write_text(text, encoding="utf-8")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keras-share", type=float, default=None, help="override the share of Keras scripts (0-1)")
    args = parser.parse_args()
    counts = build_tree(args.out, args.files, args.seed, args.keras_share)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
