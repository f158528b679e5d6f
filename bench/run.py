"""The benchmark: a synthetic tree, bnfix against the parse-everything floor, and one file as an IDE would run it.

    python bench/run.py [--files 3000] [--seed 0] [--repeat 3] [--keras-share 0.11] [--out bench/out]

1. Builds the tree with bench/generate_tree.py (same seed, same bytes).
2. Floor: one process that reads every file and parses it with libcst (notebooks: their code cells, magics
   masked) and nothing else: what any libcst-based tool pays before it looks at a single node.
3. `bnfix check` (default jobs, and --jobs 1) and `bnfix apply --diff` over the tree, without the result cache
   (bench/speed_real.py measures it cold and warm).
4. One small Keras file the way an IDE external tool runs it: `bnfix check --format concise FILE` and the stdin
   mode `bnfix apply - --stdin-filename FILE`, end to end (interpreter start included).

bnfix's own modules are byte-compiled first, as an installed package is. Each command runs `--repeat` times and the fastest run is kept (the others were slowed by something else).
Prints a JSON summary (also written to OUT/results.json) with files/s, CPU seconds, peak memory of the process
tree, the floor ratio, and the machine's load average, which matters on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_tree import build_tree  # noqa: E402
from measure import Measurement, run_measured, use_this_checkout  # noqa: E402
from time_check import count_files  # noqa: E402

use_this_checkout()

FLOOR_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import libcst
    from bnfix.sources.files import CHECKED_SUFFIXES, discover, read_source
    for path in discover([Path(sys.argv[1])], (), CHECKED_SUFFIXES):
        text = read_source(path).text
        if path.suffix == ".ipynb":
            from bnfix.sources.notebooks import join_cells, read_notebook
            text = join_cells(read_notebook(text)).module
        libcst.parse_module(text)
    """
)

IDE_FILE = textwrap.dedent(
    """\
    import numpy as np
    from tensorflow import keras
    from tensorflow.keras import layers

    x_train = np.random.rand(2048, 20)
    y_train = x_train.sum(axis=1)

    model = keras.Sequential([
        keras.Input(shape=(20,)),
        layers.Dense(64, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Dropout(0.2),
        layers.BatchNormalization(momentum=0.1),
        layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    """
)


def best_of(command: list[str], repeat: int, stdin_path: Path | None = None) -> Measurement:
    runs = [run_measured(command, stdin_path) for _ in range(repeat)]
    for run in runs:
        if run.crashed:
            raise SystemExit(f"crashed: {' '.join(command)}")
    return min(runs, key=lambda run: run.wall_s)


def bnfix_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bnfix", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description="bnfix benchmark")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keras-share", type=float, default=None)
    parser.add_argument("--ide-runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()

    # A user's install has bytecode; this environment may set PYTHONDONTWRITEBYTECODE, so compile it once.
    import bnfix as package

    compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    tree = args.out / "tree"
    kinds = build_tree(tree, args.files, args.seed, args.keras_share)
    files = count_files(tree)
    report: dict = {"files": files, "kinds": kinds, "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}

    floor = best_of([sys.executable, "-c", FLOOR_SCRIPT, str(tree)], args.repeat)
    runs = {
        "floor_parse_all": floor,
        "check": best_of(bnfix_command("check", "--no-progress", "--no-cache", "-q", "--format", "concise", str(tree)), args.repeat),
        "check_jobs_1": best_of(bnfix_command("check", "--no-progress", "--no-cache", "-q", "--format", "concise", "--jobs", "1", str(tree)), args.repeat),
        "apply_diff": best_of(bnfix_command("apply", "--diff", "--no-progress", "--no-cache", str(tree)), args.repeat),
    }
    for name, run in runs.items():
        report[name] = {**run.as_dict(), "files_per_s": round(files / run.wall_s, 1)}
    report["check_vs_floor"] = round(floor.wall_s / runs["check"].wall_s, 2)
    report["check_vs_floor_cpu"] = round(floor.cpu_s / runs["check"].cpu_s, 2)
    report["apply_diff_vs_floor"] = round(floor.wall_s / runs["apply_diff"].wall_s, 2)

    ide_file = args.out / "ide_example.py"
    ide_file.write_text(IDE_FILE)
    for name, command, stdin in (
        ("ide_check_concise", bnfix_command("check", "--format", "concise", "--no-progress", "--no-cache", str(ide_file)), None),
        ("ide_stdin_apply", bnfix_command("apply", "-", "--stdin-filename", str(ide_file), "--format", "concise"), ide_file),
    ):
        walls = [run_measured(command, stdin).wall_s for _ in range(args.ide_runs)]
        report[name] = {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3)}
    report["load_after"] = os.getloadavg()[0]

    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
