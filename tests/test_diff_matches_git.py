"""`bnfix apply --diff` prints exactly what `git diff` shows after `bnfix apply`: the same hunks, the same pairing
of lines, the same `@@` function context. Real git, in a temporary repository; only the header lines git adds
(`diff --git`, `index`) are set aside."""

from __future__ import annotations

import random
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnfix.cli import app
from bnfix.report.git_diff import split_lines, unified_hunks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
runner = CliRunner()
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

HEADER = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"
LAYOUTS = {
    # black: one argument a line, magic trailing commas
    "black_style.py": HEADER + textwrap.dedent(
        """\


        def block(x):
            x = layers.Conv2D(
                filters=64,
                kernel_size=3,
                padding="same",
            )(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
            return x
        """
    ),
    # hand-formatted hanging indents, a closing parenthesis on its own line
    "hanging.py": HEADER + textwrap.dedent(
        """\
        model = keras.Sequential([layers.Dense(64, input_shape=(10,),
                                               activation='relu'),
                                  layers.Dropout(0.5),
                                  layers.BatchNormalization(
                                      eps=1e-3
                                  ),
                                  layers.Dense(1)])
        model.add(layers.BatchNormalization())
        model.add(layers.BatchNormalization())
        """
    ),
    "tabs.py": HEADER + "def block(x):\n\tx = layers.Dense(8)(x)\n\tx = layers.BatchNormalization()(x)\n\tx = layers.ReLU()(x)\n\treturn x\n",
    "crlf.py": (HEADER + "x = layers.Dense(8)(x)\nx = layers.BatchNormalization()(x)\nx = layers.ReLU()(x)\n").replace("\n", "\r\n"),
    "no_final_newline.py": HEADER + "x = layers.Dense(8)(x)\nx = layers.BatchNormalization()(x)\nx = layers.ReLU()(x)",
}


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=bnfix", "-c", "user.email=bnfix@example.invalid", "-c", "core.autocrlf=false",
               "-c", "diff.algorithm=myers", "-c", "diff.noprefix=false", "-c", "diff.mnemonicprefix=false", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True).stdout.decode("utf-8")


def per_file(diff: str, git_headers: bool) -> dict[str, str]:
    """Each file's part of a diff, from its `--- a/...` line on, without git's `diff --git` and `index` lines."""
    files: dict[str, list[str]] = {}
    current: list[str] = []
    for line in split_lines(diff):
        if git_headers and line.startswith(("diff --git ", "index ")):
            continue
        if line.startswith("--- "):
            current = files.setdefault(line[4:].strip(), [])
        current.append(line)
    return {name: "".join(lines) for name, lines in files.items()}


def test_apply_diff_is_what_git_diff_shows_after_apply(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    for fixture in FIXTURES.glob("*.py"):
        shutil.copy(fixture, repo / fixture.name)
    for name, code in LAYOUTS.items():
        (repo / name).write_bytes(code.encode("utf-8"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "before bnfix")
    monkeypatch.chdir(repo)

    preview = runner.invoke(app, ["apply", "--diff", "--unsafe-fixes", "--policy", "pre", "--no-progress", "."])
    assert preview.exit_code == 1, preview.stdout
    assert git(repo, "status", "--porcelain") == ""  # --diff wrote nothing
    applied = runner.invoke(app, ["apply", "--unsafe-fixes", "--policy", "pre", "--no-progress", "--quiet", "."])
    assert applied.exit_code in (0, 1), applied.stdout

    # stdout_bytes: click's `stdout` turns "\r\n" into "\n", and the CRLF file's diff must keep its "\r".
    ours, theirs = per_file(preview.stdout_bytes.decode("utf-8"), git_headers=False), per_file(git(repo, "diff"), git_headers=True)
    assert set(ours) == set(theirs)
    assert len(ours) >= len(LAYOUTS)
    for name in ours:
        assert ours[name] == theirs[name], f"{name}:\n--- bnfix ---\n{ours[name]}\n--- git ---\n{theirs[name]}"


def test_git_diff_algorithm_on_random_edits(tmp_path):
    """The port of git's xdiff against git itself, on edits that move, insert and delete repeated lines, where
    line pairing is ambiguous and difflib and git disagree most."""
    vocabulary = ["x = layers.Dense(8)(x)\n", "\n", "    return x\n", "def block(x):\n", "model.add(bn)\n", "\tq\n"]
    generator = random.Random(10)
    old_path, new_path = tmp_path / "old.py", tmp_path / "new.py"
    for _ in range(40):
        old = [generator.choice(vocabulary) if generator.random() < 0.7 else f"u{generator.randint(0, 99)}\n"
               for _ in range(generator.randint(0, 60))]
        new = list(old)
        for _ in range(generator.randint(1, 8)):
            roll = generator.random()
            if roll < 0.3 and new:
                del new[generator.randrange(len(new))]
            elif roll < 0.6:
                new.insert(generator.randint(0, len(new)), generator.choice(vocabulary))
            elif len(new) > 1:
                i = generator.randrange(len(new) - 1)
                new[i], new[i + 1] = new[i + 1], new[i]
        old_path.write_bytes("".join(old).encode())
        new_path.write_bytes("".join(new).encode())
        result = subprocess.run(["git", "-c", "diff.algorithm=myers", "diff", "--no-index", "--no-color", "old.py", "new.py"],
                                cwd=tmp_path, capture_output=True)
        expected = result.stdout.decode()
        expected = expected[expected.index("@@"):] if "@@" in expected else ""
        assert "".join(unified_hunks(split_lines("".join(old)), split_lines("".join(new)))) == expected
