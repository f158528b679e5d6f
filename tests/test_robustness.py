"""Never damage a file: generated programs (hypothesis, hypothesmith), and the awkward files real trees contain.

For every generated program `apply` must not raise, its output must parse (libcst and CPython), a second `apply`
must change nothing, and a program with nothing to fix must come back byte-identical. Each awkward file is either
fixed correctly or reported clearly and left byte-for-byte as it was, with the documented exit code.
"""

from __future__ import annotations

import ast
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import hypothesmith
import libcst
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bnfix.cli import app
from bnfix.engine import SourceError, fix_one, fix_source
from bnfix.process import analyse
from bnfix.settings import PlacementPolicy, Settings

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
# Subprocesses run this checkout's bnfix, whatever copy an editable install points at.
CHECKOUT_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

BROKEN = (
    "from keras import layers, Sequential\n"
    "m = Sequential([layers.Dense(4, use_bias=False), layers.BatchNormalization(), layers.ReLU()])  # café\n"
)
FIXED = BROKEN.replace("layers.BatchNormalization(), layers.ReLU()", "layers.ReLU(), layers.BatchNormalization()").replace(
    "Dense(4, use_bias=False)", "Dense(4)"  # BN no longer follows Dense: its bias comes back
)

GENERATED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# hypothesmith discards many of its own drafts (programs that do not compile): that is its design, not our filter.
# hypothesmith compiles its drafts, and CPython warns about some (`"a"()`): its noise, not ours.
QUIET_DRAFTS = pytest.mark.filterwarnings("ignore::SyntaxWarning")
HYPOTHESMITH = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# ---------------------------------------------------------------- generated programs


def assert_apply_is_safe(source: str, options: Settings) -> None:
    try:
        first = fix_source(source, options)
    except SourceError as error:
        # Only a source that does not parse, or that libcst does not give back exactly, may be refused; a fix that
        # breaks code is never acceptable.
        assert not error.message.startswith("internal error"), error.message
        if error.message.startswith("not fixed: libcst does not reproduce this file exactly"):
            assert libcst.parse_module(source).code != source
            return
        with pytest.raises(Exception):
            libcst.parse_module(source)
        return
    libcst.parse_module(first.source)
    ast.parse(first.source)
    if not first.fixed:
        assert first.source == source, "nothing was fixed, yet the text changed"
    second = fix_source(first.source, options)
    assert second.source == first.source, "a second apply changed the result"


ACTIVATIONS = st.sampled_from(["relu", "elu", "tanh", "gelu", "swish", "sigmoid"])
LAYER_CALLS = st.one_of(
    st.builds(lambda units, act, bias: f"layers.Dense({units}{', activation=' + repr(act) if act else ''}{'' if bias else ', use_bias=False'})", st.sampled_from([1, 8, 64]), st.none() | ACTIVATIONS, st.booleans()),
    st.builds(lambda f, act: f"layers.Conv2D({f}, 3{', activation=' + repr(act) if act else ''})", st.sampled_from([16, 32]), st.none() | ACTIVATIONS),
    st.builds(lambda args: f"layers.BatchNormalization({args})", st.sampled_from(["", "momentum=0.1", "momentum=0.99", "eps=1e-3", "axis=-1", "decay=0.9", "momentum=0.9, epsilon=1e-5", "mode=0"])),
    st.builds(lambda act: f"layers.Activation({act!r})", ACTIVATIONS),
    st.sampled_from(["layers.ReLU()", "layers.Dropout(0.5)", "layers.Flatten()", "layers.MaxPooling2D()", "layers.LeakyReLU(0.1)"]),
)
COMMENTS = st.sampled_from(["", "  # note", "  # bnfix: ignore", "  # noqa: BNF101", "  # café ☕"])


@st.composite
def keras_programs(draw) -> str:
    calls = draw(st.lists(LAYER_CALLS, min_size=1, max_size=7))
    style = draw(st.sampled_from(["list", "add", "functional", "call"]))
    head = "import numpy as np\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n\n"
    if style == "list":
        body = "model = keras.Sequential([\n" + "".join(f"    {call},{draw(COMMENTS)}\n" for call in calls) + "])\n"
    elif style == "add":
        body = "model = keras.Sequential()\n" + "".join(f"model.add({call}){draw(COMMENTS)}\n" for call in calls)
    elif style == "functional":
        body = "inputs = keras.Input(shape=(32, 32, 3))\nx = inputs\n" + "".join(f"x = {call}(x){draw(COMMENTS)}\n" for call in calls)
        body += "model = keras.Model(inputs, x)\n"
    else:
        body = "class Block(layers.Layer):\n    def __init__(self):\n        super().__init__()\n"
        body += "".join(f"        self.l{i} = {call}\n" for i, call in enumerate(calls))
        body += "\n    def call(self, x, training=None):\n" + "".join(f"        x = self.l{i}(x)\n" for i in range(len(calls)))
        body += "        return x\n\nmodel = keras.Sequential([Block()])\n"
    tail = draw(
        st.sampled_from(
            [
                "",
                "model.fit(x, y, epochs={e}, batch_size={b})\n",
                "model.fit(x, y, epochs={e}, batch_size={b})\npreds = model(x_test, training=True)\n",
                "scaler = StandardScaler()\nx = scaler.fit_transform(x)\nx_test = scaler.fit_transform(x_test)\nmodel.fit(x, y, epochs={e})\nmodel.evaluate(x_test, y_test)\n",
            ]
        )
    ).format(e=draw(st.sampled_from([1, 3, 50])), b=draw(st.sampled_from([2, 32, 256])))
    if "StandardScaler" in tail:
        head = "from sklearn.preprocessing import StandardScaler\n" + head
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return (head + body + tail).replace("\n", newline)


@GENERATED
@given(
    source=keras_programs(),
    policy=st.sampled_from(list(PlacementPolicy)),
    unsafe=st.booleans(),
)
def test_apply_is_safe_on_generated_keras_programs(source, policy, unsafe):
    assert_apply_is_safe(source, Settings(policy=policy, unsafe_fixes=unsafe))


# hypothesmith writes arbitrary valid Python; the BatchNormalization tail makes every rule run over it.
KERAS_TAIL = "\nfrom tensorflow.keras import layers\nmodel = keras.Sequential([layers.Dense(4), layers.BatchNormalization(momentum=0.1), layers.Activation('relu')])\n"


@QUIET_DRAFTS
@HYPOTHESMITH
@given(program=hypothesmith.from_node())
def test_apply_is_safe_on_arbitrary_python_from_libcst_nodes(program):
    assert_apply_is_safe(program + KERAS_TAIL, Settings(unsafe_fixes=True))


@QUIET_DRAFTS
@HYPOTHESMITH
@given(program=hypothesmith.from_grammar())
def test_apply_is_safe_on_arbitrary_python_from_the_grammar(program):
    try:
        libcst.parse_module(program)
    except Exception:
        assume(False)
    source = program if program.endswith("\n") or not program else program + "\n"
    assert_apply_is_safe(source + KERAS_TAIL, Settings())


@QUIET_DRAFTS
@HYPOTHESMITH
@given(program=hypothesmith.from_node())
def test_a_program_with_nothing_to_fix_comes_back_byte_identical(program):
    source = "from tensorflow.keras import layers\n" + program + "\nbn = layers.BatchNormalization(momentum=0.9)\n"
    try:
        result = fix_source(source, Settings())
    except SourceError:
        assume(False)
    if not result.fixed:
        assert result.source == source


# ---------------------------------------------------------------- awkward files through the CLI


def apply(*paths: Path, args: tuple[str, ...] = ()):
    return runner.invoke(app, ["apply", "--format", "concise", *args, *map(str, paths)])


def test_python_2_source_is_reported_with_pythons_own_message_and_untouched(tmp_path):
    path = tmp_path / "legacy.py"
    data = b"from keras.layers import BatchNormalization\nprint 'training'\nmodel.add(BatchNormalization(mode=0))\n"
    path.write_bytes(data)
    result = apply(path)
    assert result.exit_code == 2
    assert f"{path}:2:1: error: syntax error: Missing parentheses in call to 'print'" in result.stdout
    assert path.read_bytes() == data


def test_a_syntax_error_is_reported_at_its_line_and_the_other_files_are_still_fixed(tmp_path):
    broken, good = tmp_path / "a_broken.py", tmp_path / "b_good.py"
    broken.write_text("from keras import layers\nx = layers.BatchNormalization(\n")
    good.write_text(BROKEN, encoding="utf-8")
    result = apply(tmp_path)
    assert result.exit_code == 2
    assert f"{broken}:2:" in result.stdout and "syntax error" in result.stdout
    assert broken.read_text() == "from keras import layers\nx = layers.BatchNormalization(\n"
    assert good.read_text(encoding="utf-8") == FIXED


def test_a_file_libcst_does_not_reproduce_is_reported_and_left_as_it_was(tmp_path):
    # libcst 1.x drops the blank line before an indented comment at the very end of a file: rewriting it would
    # remove that line too. Found in variablejun/keras4 and JS0909/Keras-ML.
    lossy, good = tmp_path / "a_lossy.py", tmp_path / "b_good.py"
    data = b"from keras import layers\nlayers.BatchNormalization(momentum=0.1)\n\n #  end\n"
    lossy.write_bytes(data)
    good.write_text(BROKEN, encoding="utf-8")
    result = apply(tmp_path, args=("--unsafe-fixes",))
    assert result.exit_code == 2
    assert f"{lossy}:3:1: error: not fixed: libcst does not reproduce this file exactly (from line 3 on)" in result.stdout
    assert lossy.read_bytes() == data
    assert good.read_text(encoding="utf-8") == FIXED
    with pytest.raises(SourceError, match="does not reproduce"):
        fix_one(data.decode(), Settings(), "BNF202", 2, 27)


@pytest.mark.parametrize("encoding", ["cp1252", "shift_jis", "koi8-r"])
def test_non_utf8_source_with_a_coding_cookie_is_fixed_in_its_own_encoding(tmp_path, encoding):
    comment = {"cp1252": "# Ünïcödé ‘quotes’\n", "shift_jis": "# 日本語のコメント\n", "koi8-r": "# комментарий\n"}[encoding]
    cookie = f"# -*- coding: {encoding} -*-\n"
    path = tmp_path / "legacy.py"
    path.write_bytes((cookie + comment + BROKEN.replace("café", "x")).encode(encoding))
    assert apply(path).exit_code == 0
    assert path.read_bytes() == (cookie + comment + FIXED.replace("café", "x")).encode(encoding)


def test_bom_and_crlf_together_survive(tmp_path):
    path = tmp_path / "windows.py"
    path.write_bytes(b"\xef\xbb\xbf" + BROKEN.replace("\n", "\r\n").encode())
    assert apply(path).exit_code == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + FIXED.replace("\n", "\r\n").encode()


def test_mixed_line_endings_are_kept_line_by_line(tmp_path):
    path = tmp_path / "mixed.py"
    source = "import os\r\n" + BROKEN + "x = 1\r\ny = 2\n"
    path.write_bytes(source.encode())
    assert apply(path).exit_code == 0
    assert path.read_bytes() == source.replace(BROKEN, FIXED).encode()


def test_tab_indentation_is_kept(tmp_path):
    path = tmp_path / "tabs.py"
    source = "from keras import layers, Sequential\n\ndef build():\n\tm = Sequential([\n\t\tlayers.Dense(4, use_bias=False),\n\t\tlayers.BatchNormalization(),\n\t\tlayers.ReLU(),\n\t])\n\treturn m\n"
    path.write_text(source)
    assert apply(path).exit_code == 0
    fixed = source.replace("\t\tlayers.BatchNormalization(),\n\t\tlayers.ReLU(),\n", "\t\tlayers.ReLU(),\n\t\tlayers.BatchNormalization(),\n")
    assert path.read_text() == fixed.replace("Dense(4, use_bias=False)", "Dense(4)")


def test_a_read_only_file_is_reported_and_neither_written_nor_made_writable(tmp_path):
    path = tmp_path / "frozen.py"
    path.write_text(BROKEN, encoding="utf-8")
    os.chmod(path, 0o444)
    result = apply(path)
    assert result.exit_code == 2
    assert f"error: {path}: cannot write: file is read-only" in result.stderr
    assert path.read_text(encoding="utf-8") == BROKEN
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert runner.invoke(app, ["check", str(path)]).exit_code == 1  # checking a read-only file is fine


def test_symlinks_in_a_tree_are_fixed_through_and_a_dangling_one_is_reported(tmp_path):
    real = tmp_path / "real_model.py"
    real.write_text(BROKEN, encoding="utf-8")
    (tmp_path / "link_model.py").symlink_to(real)
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing.py")
    result = apply(tmp_path)
    assert result.exit_code == 2
    assert "dangling.py:1:1: error: cannot read: No such file or directory" in result.stdout
    assert real.read_text(encoding="utf-8") == FIXED
    assert (tmp_path / "link_model.py").is_symlink()


@pytest.mark.parametrize("name", ["my model.py", "modèle ñ 模型.py", "-dash.py", "x:y,z%.py"])
def test_unusual_file_names_are_fixed_and_reported_by_name(tmp_path, name):
    path = tmp_path / name
    path.write_text(BROKEN, encoding="utf-8")
    check = runner.invoke(app, ["check", "--format", "concise", str(path)])
    assert check.exit_code == 1 and check.stdout.startswith(f"{path}:2:")
    assert apply(path).exit_code == 0
    assert path.read_text(encoding="utf-8") == FIXED


@pytest.mark.parametrize("content", [b"", b"\n", b"\xef\xbb\xbf", b"# just a comment about BatchNormalization"])
def test_empty_and_trivial_files_pass_unchanged(tmp_path, content):
    path = tmp_path / "empty.py"
    path.write_bytes(content)
    result = apply(path)
    assert result.exit_code == 0, result.stdout
    assert path.read_bytes() == content


def test_a_5mb_file_is_reported_as_too_large_and_untouched(tmp_path):
    path = tmp_path / "weights.py"
    rows = "    [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625],\n" * 100_000
    data = (BROKEN + "WEIGHTS = [\n" + rows + "]\n").encode()
    assert len(data) > 5_000_000
    path.write_bytes(data)
    result = apply(path)
    assert result.exit_code == 2
    assert f"{path}:1:1: error: not checked: 5.1 MB of code is over the 2 MB limit" in result.stdout
    assert path.read_bytes() == data


def test_a_large_file_that_mentions_no_rule_name_is_not_parsed_at_all(tmp_path):
    path = tmp_path / "generated_pb2.py"
    path.write_text("DATA = [\n" + "    1,\n" * 800_000 + "]\n")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0


def test_max_file_size_moves_the_limit(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(BROKEN + "# padding\n" * 200, encoding="utf-8")
    assert "over the 0.001 MB limit" in apply(path, args=("--max-file-size", "0.001")).stdout
    assert apply(path, args=("--max-file-size", "0.01")).exit_code == 0
    assert path.read_text(encoding="utf-8").startswith(FIXED)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("(" * 1600 + "1" + ")" * 1600, "syntax error: too many nested parentheses"),  # crashed libcst's parser
        ("f" + "()" * 20_000, "nested too deeply"),  # a segfault in libcst's parser
        ("+".join(["1"] * 100_000), "nested too deeply"),  # a segfault in libcst's parser
        ("-" * 600 + "y", "nested too deeply"),  # parses, then overflows the positions of the finding
        ("lambda: " * 3000 + "1", "nested too deeply"),  # a RecursionError escaped to a traceback
    ],
    ids=["1600-brackets", "20000-calls", "100000-additions", "600-unary-minus", "3000-lambdas"],
)
def test_pathological_nesting_is_reported_not_crashed(tmp_path, expression, message):
    path = tmp_path / "deep.py"
    data = ("from keras import layers\nlayers.BatchNormalization(eps=1e-3)\nx = " + expression + "\n").encode()
    path.write_bytes(data)
    # A real process: a segfault must show as one, and the recursion limit is Python's default (test runners raise it).
    result = subprocess.run([sys.executable, "-m", "bnfix", "apply", "--format", "concise", str(path)], capture_output=True, text=True, env=CHECKOUT_ENV)
    assert result.returncode == 2, result.stderr
    assert message in result.stdout
    assert path.read_bytes() == data


def test_a_crash_inducing_file_does_not_take_down_a_parallel_run(tmp_path):
    for index in range(30):
        (tmp_path / f"m{index:02d}.py").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "deep.py").write_text("from keras import layers\nlayers.BatchNormalization()\nx = f" + "()" * 20_000 + "\n")
    command = [sys.executable, "-m", "bnfix", "apply", "--jobs", "2", "--format", "concise", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, env=CHECKOUT_ENV)
    assert result.returncode == 2, result.stderr
    assert "deep.py:1:1: error: cannot parse: nested too deeply" in result.stdout
    assert all((tmp_path / f"m{index:02d}.py").read_text(encoding="utf-8") == FIXED for index in range(30))


def test_an_undecodable_notebook_and_a_utf16_module_are_reported_not_crashed(tmp_path):
    (tmp_path / "u16.py").write_bytes(BROKEN.encode("utf-16"))
    (tmp_path / "bad.ipynb").write_bytes(b'{"cells": ["\xff\xfe BatchNormalization"]}')
    result = runner.invoke(app, ["check", "--format", "concise", str(tmp_path)])
    assert result.exit_code == 2
    assert "u16.py:1:1: error: cannot read" in result.stdout and "bad.ipynb:1:1: error: cannot read" in result.stdout


def test_exit_codes_are_as_documented(tmp_path):
    clean, finding = tmp_path / "clean.py", tmp_path / "finding.py"
    clean.write_text("import numpy as np\n")
    finding.write_text(BROKEN, encoding="utf-8")
    assert runner.invoke(app, ["check", str(clean)]).exit_code == 0
    assert runner.invoke(app, ["check", str(finding)]).exit_code == 1
    assert runner.invoke(app, ["apply", "--diff", str(finding)]).exit_code == 1
    assert runner.invoke(app, ["check", str(tmp_path / "missing.py")]).exit_code == 2
    assert runner.invoke(app, ["check", "--policy", "sideways", str(clean)]).exit_code == 2
    assert runner.invoke(app, ["apply", str(finding)]).exit_code == 0
    assert runner.invoke(app, ["check", str(finding)]).exit_code == 0


def test_rules_see_deep_but_valid_code_through_the_analysis(tmp_path):
    source = textwrap.dedent(
        """\
        from keras import layers, Sequential
        x = """
    ) + "(" * 150 + "1" + ")" * 150 + "\n" + BROKEN.split("\n", 1)[1]
    result = analyse(source, Settings(), fix=True)
    assert "layers.ReLU(), layers.BatchNormalization()" in result.source


def test_the_prefilter_runs_only_the_rules_whose_names_a_file_mentions():
    from bnfix.rules import ALL_RULES, RULE_CODES, applicable_rules

    assert [rule.code for rule in applicable_rules("preds = model(x, training=True)\n", RULE_CODES)] == ["BNF301"]
    assert applicable_rules("import numpy as np\n", RULE_CODES) == []
    everything = "BatchNormalization training=True trainable=False Scaler Normalization"
    assert applicable_rules(everything, RULE_CODES) == list(ALL_RULES)
