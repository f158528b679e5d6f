"""`bnfix verify` on scripts as they live in projects, and the outcomes that are not "no significant change",
really training (one `bnfix verify --seeds 2` subprocess started from a project root)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.training

BN_KWARG_MODEL = """\
from tensorflow import keras
from tensorflow.keras import layers
model = keras.Sequential([
    keras.Input(shape=(2,)), layers.Dense(4), layers.BatchNormalization(moving_average_fraction=0.9), layers.Dense(1),
])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2, batch_size=8, verbose=0)
"""

# Run from the project root, as `python scripts/from_root.py`: root-relative paths, __file__-relative paths,
# writes through a linked large file, a new output directory, and an attempt to write into the user's project.
FROM_ROOT = textwrap.dedent(
    """\
    import os, sys
    from pathlib import Path
    import numpy as np

    assert sys.argv[0] == __file__
    data = np.load("data/x.npy")
    big = np.load(Path(__file__).parent.parent / "data" / "big.npy")
    np.save("data/big.npy", big[:10])  # by hand this changes the project's file; here the mirror's
    os.makedirs("outputs", exist_ok=True)
    Path("outputs/model.txt").write_text("trained")
    user_project = Path("where.txt").read_text().strip()
    try:
        open(os.path.join(user_project, "stolen.txt"), "w")
    except PermissionError as refused:
        assert "never writes to the original" in str(refused)
    else:
        raise AssertionError("the write guard let a write into the user's project through")
    x, y = data[:, :2], data[:, 2:]
    """
) + BN_KWARG_MODEL

DOT_DOT = "import numpy as np\ndata = np.load('../data/x.npy')\nx, y = data[:, :2], data[:, 2:]\n" + BN_KWARG_MODEL

MISSING_DATA = "import numpy as np\ndata = np.loadtxt('data/train.csv', delimiter=',')\nx, y = data[:, :2], data[:, 2:]\n" + BN_KWARG_MODEL

RANDOM_LABELS = textwrap.dedent(
    """\
    import numpy as np
    from tensorflow import keras
    from tensorflow.keras import layers

    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, 2, size=(64, 1)).astype("float32")  # noise: nothing to learn
    model = keras.Sequential([
        keras.Input(shape=(4,)), layers.Dense(8), layers.BatchNormalization(), layers.Activation("relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    """
)

PREDICT_ONLY = textwrap.dedent(
    """\
    import numpy as np
    from sklearn.preprocessing import StandardScaler
    from tensorflow import keras
    from tensorflow.keras import layers

    np.random.seed(4)
    weights = np.random.randn(6, 1)
    x_train = np.random.rand(640, 6) * 100
    y_train = (x_train / 100) @ weights
    x_test = np.random.rand(50, 6) * 100

    scaler = StandardScaler()
    x_train_scaled = scaler.fit_transform(x_train)
    model = keras.Sequential([
        keras.Input(shape=(6,)), layers.Dense(16), layers.Activation("relu"), layers.BatchNormalization(), layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x_train_scaled, y_train, epochs=3, batch_size=32, verbose=0)
    predictions = model.predict(x_test, verbose=0)
    """
)


def snapshot(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(directory.rglob("*"))
    }


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    user = tmp_path_factory.mktemp("user")
    rows = np.array([[i % 5, i % 3, (i % 5) - (i % 3)] for i in range(64)], dtype="float32")
    project, other, loose = user / "project", user / "other", user / "loose"
    for directory in (project / "scripts", project / "data", other / "scripts", other / "data", loose):
        directory.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    np.save(project / "data" / "x.npy", rows)
    np.save(project / "data" / "big.npy", np.zeros((2, 1 << 18), dtype="float32"))  # 2 MB: linked, not copied
    (project / "where.txt").write_text(str(project.resolve()))
    (project / "scripts" / "from_root.py").write_text(FROM_ROOT)
    np.save(other / "data" / "x.npy", rows)  # no project marker: the parent of the script's directory is staged
    (other / "scripts" / "dot_dot.py").write_text(DOT_DOT)
    (loose / "missing_data.py").write_text(MISSING_DATA)
    (loose / "random_labels.py").write_text(RANDOM_LABELS)
    (loose / "predict_only.py").write_text(PREDICT_ONLY)
    before = {directory: snapshot(directory) for directory in (project, other, loose)}
    out = user / "verify.json"
    scripts = [
        "scripts/from_root.py", other / "scripts" / "dot_dot.py", loose / "missing_data.py", loose / "random_labels.py",
        loose / "predict_only.py",
    ]  # fmt: skip
    command = [sys.executable, "-m", "bnfix", "verify", *map(str, scripts), "--seeds", "2", "--json", str(out)]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=900)
    assert out.exists(), result.stderr[-3000:]
    document = json.loads(out.read_text())
    return result, document, {Path(script["path"]).name: script for script in document["scripts"]}, before


def test_root_relative_and_file_relative_paths_run_as_by_hand_and_writes_stay_in_the_mirror(verified):
    _, _, rows, _ = verified
    row = rows["from_root.py"]
    assert row["verdict"] == "fixed crash", row["reason"]
    # The original got past every check and crashed only where BNF201 says it does.
    assert all("moving_average_fraction" in run["error"]["message"] for run in row["before"]["runs"])
    assert row["after"]["outcomes"] == {"ok": 2}
    assert not any(run.get("wrote_through_links") for run in row["before"]["runs"] + row["after"]["runs"])


def test_dot_dot_data_resolves_without_a_project_marker(verified):
    _, _, rows, _ = verified
    assert rows["dot_dot.py"]["verdict"] == "fixed crash", rows["dot_dot.py"]["reason"]


def test_no_user_file_is_changed_or_left_behind(verified):
    _, _, _, before = verified
    assert {directory: snapshot(directory) for directory in before} == before


def test_both_versions_failing_the_same_way_is_not_verified_with_the_reason_in_the_table(verified):
    result, _, rows, _ = verified
    row = rows["missing_data.py"]
    assert (row["verdict"], row["outcome"]) == ("not verified", "unverified")
    assert row["reason"].startswith("both versions fail with FileNotFoundError: data/train.csv not found")
    assert "missing_data.py: not verified: both versions fail with FileNotFoundError: data/train.csv" in result.stdout


def test_a_model_trained_on_noise_did_not_learn(verified):
    _, _, rows, _ = verified
    row = rows["random_labels.py"]
    assert row["verdict"] == "model did not learn", row["reason"]
    assert "no better than always answering the majority class" in row["reason"]  # random labels: at chance


def test_a_predict_only_script_is_judged_on_its_input_shift(verified):
    _, _, rows, _ = verified
    row = rows["predict_only.py"]
    assert row["rules"] == ["BNF403"]
    assert (row["verdict"], row["judged_on"]) == ("improved", "input_shift"), row["reason"]
    before, after = (row["metrics"]["input_shift"][side]["mean"] for side in ("before", "after"))
    assert before > 20 and after < 0.5  # raw features 0-100 against standardised ones, then the same scale


def test_unverified_outcomes_exit_with_code_4(verified):
    result, document, rows, _ = verified
    assert not any(row["outcome"] in ("regression", "error") for row in rows.values())
    assert result.returncode == document["exit_code"] == 4, result.stderr[-2000:]
