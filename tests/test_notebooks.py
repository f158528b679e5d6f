"""Notebooks: code cells checked as one module, magics kept byte for byte, outputs/metadata/formatting untouched."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import libcst
import pytest
from typer.testing import CliRunner

from bnfix.cli import app
from bnfix.sources.magics import MagicTable, mask_magics, restore_magics
from bnfix.sources.notebooks import JoinedCells, NotebookError, join_cells, read_notebook, split_module

runner = CliRunner()

PNG_OUTPUT = {
    "data": {"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==", "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
    "metadata": {"needs_background": "light"},
    "output_type": "display_data",
}
STREAM_OUTPUT = {"name": "stdout", "output_type": "stream", "text": ["Epoch 1/10\n", "32/32 [==============================] - 1s 4ms/step - loss: 0.31\n"]}

SETUP_CELL = """\
!pip install -q keras scikit-learn
%load_ext autoreload
%autoreload 2
%matplotlib inline
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers"""

MODEL_CELL = """\
model = keras.Sequential([
    keras.Input(shape=(20,)),
    layers.Dense(64),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.Dense(1),
])
model.summary?"""

TRAIN_CELL = """\
%%time
x_train = np.random.rand(2048, 20)
history = model.fit(x_train, x_train.sum(axis=1), epochs=10, batch_size=32, verbose=0)
files = !ls -la \\
    /tmp
%timeit model.predict(x_train[:32], verbose=0)"""

SHELL_CELL = """\
%%bash
for f in *.h5; do
  echo "$f" ; done"""


def code_cell(source: str, outputs=(), count=None, cell_id="a1") -> dict:
    return {
        "cell_type": "code",
        "execution_count": count,
        "id": cell_id,
        "metadata": {"colab": {"base_uri": "https://localhost:8080/"}, "tags": []},
        "outputs": list(outputs),
        "source": source.splitlines(keepends=True),
    }


def jupyter_notebook(*cells: dict) -> dict:
    return {
        "cells": [{"cell_type": "markdown", "id": "m0", "metadata": {}, "source": ["# Training a regressor\n", "With `%magic` in prose."]}, *cells],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7", "codemirror_mode": {"name": "ipython", "version": 3}},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def as_jupyter_writes_it(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    document = jupyter_notebook(
        code_cell(SETUP_CELL, count=1, cell_id="c1"),
        code_cell(MODEL_CELL, outputs=[PNG_OUTPUT], count=2, cell_id="c2"),
        code_cell(TRAIN_CELL, outputs=[STREAM_OUTPUT], count=3, cell_id="c3"),
        code_cell(SHELL_CELL, count=4, cell_id="c4"),
    )
    path = tmp_path / "experiment.ipynb"
    path.write_text(as_jupyter_writes_it(document), encoding="utf-8")
    return path


def test_check_points_at_cell_and_line(notebook):
    result = runner.invoke(app, ["check", "--format", "concise", str(notebook)])
    assert result.exit_code == 1
    # Cell 3 is the second code cell (the markdown cell counts); line 4 of it is the BatchNormalization.
    assert f"{notebook}:cell 3:4:5: BNF101 " in result.stdout


def test_apply_changes_only_the_repaired_lines_and_keeps_magics_outputs_and_metadata(notebook):
    before_text = notebook.read_text(encoding="utf-8")
    result = runner.invoke(app, ["apply", str(notebook)])
    assert result.exit_code == 0, result.stdout
    after_text = notebook.read_text(encoding="utf-8")
    before, after = json.loads(before_text), json.loads(after_text)
    fixed_model = MODEL_CELL.replace(
        '    layers.BatchNormalization(),\n    layers.Activation("relu"),\n',
        '    layers.Activation("relu"),\n    layers.BatchNormalization(),\n',
    )
    assert "".join(after["cells"][2]["source"]) == fixed_model
    after["cells"][2]["source"] = before["cells"][2]["source"]
    assert after == before  # every other cell, every output, all metadata
    # Byte level: exactly two lines of the file differ (the two that swapped).
    changed = [pair for pair in zip(before_text.splitlines(), after_text.splitlines()) if pair[0] != pair[1]]
    assert len(changed) == 2 and len(before_text.splitlines()) == len(after_text.splitlines())
    assert after_text.endswith("}\n")


def test_second_apply_changes_nothing(notebook):
    assert runner.invoke(app, ["apply", str(notebook)]).exit_code == 0
    once = notebook.read_bytes()
    second = runner.invoke(app, ["apply", "--diff", str(notebook)])
    assert second.exit_code == 0 and second.stdout == ""
    assert notebook.read_bytes() == once


def test_notebook_with_nothing_to_fix_is_left_byte_identical(tmp_path):
    path = tmp_path / "clean.ipynb"
    clean = MODEL_CELL.replace('    layers.BatchNormalization(),\n    layers.Activation("relu"),\n', '    layers.Activation("relu"),\n    layers.BatchNormalization(),\n')
    data = as_jupyter_writes_it(jupyter_notebook(code_cell(SETUP_CELL), code_cell(clean, outputs=[PNG_OUTPUT])))
    path.write_text(data, encoding="utf-8")
    mtime = path.stat().st_mtime_ns
    assert runner.invoke(app, ["apply", str(path)]).exit_code == 0
    assert path.read_text(encoding="utf-8") == data and path.stat().st_mtime_ns == mtime


def test_diff_is_a_patch_of_the_json_file(notebook):
    result = runner.invoke(app, ["apply", "--diff", str(notebook)])
    assert result.exit_code == 1
    changed = [line for line in result.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    # Lines paired as git pairs them: the BN line moves below the activation.
    assert changed == ['-    "    layers.BatchNormalization(),\\n",', '+    "    layers.BatchNormalization(),\\n",']


def test_an_analysis_spans_cells(tmp_path):
    """The model is built in one cell and trained with tiny batches in another: BNF204 needs both."""
    path = tmp_path / "spans.ipynb"
    build = "from tensorflow import keras\nfrom tensorflow.keras import layers\nmodel = keras.Sequential([layers.Dense(4), layers.ReLU(), layers.BatchNormalization()])"
    train = "model.compile('adam', 'mse')\nmodel.fit(x, y, epochs=3, batch_size=4)"
    path.write_text(as_jupyter_writes_it(jupyter_notebook(code_cell(build), code_cell(train))))
    result = runner.invoke(app, ["check", "--format", "concise", "--select", "BNF204", str(path)])
    assert result.exit_code == 1
    assert ":cell 3:2:" in result.stdout and "BNF204" in result.stdout


def test_a_repair_may_move_code_between_cells_and_the_cells_stay_in_order(tmp_path):
    path = tmp_path / "runs.ipynb"
    first = "from tensorflow import keras\nfrom tensorflow.keras import layers\nmodel = keras.Sequential()\nmodel.add(layers.Dense(8, use_bias=False))\nmodel.add(layers.BatchNormalization())"
    second = "model.add(layers.Activation('relu'))\nmodel.add(layers.Dense(1))"
    path.write_text(as_jupyter_writes_it(jupyter_notebook(code_cell(first), code_cell(second))))
    assert runner.invoke(app, ["apply", str(path)]).exit_code == 0
    cells = ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"][1:]]
    assert cells[0].endswith("model.add(layers.Activation('relu'))")
    assert cells[1].startswith("model.add(layers.BatchNormalization())\n")


def test_colab_style_indent_key_order_crlf_and_no_final_newline_survive(tmp_path):
    document = {
        "nbformat": 4,
        "nbformat_minor": 0,
        "metadata": {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [code_cell("from keras import layers, Sequential\nm = Sequential([layers.Dense(4, use_bias=False), layers.BatchNormalization(), layers.ReLU()])  # café")],
    }
    text = json.dumps(document, indent=2, ensure_ascii=True).replace("\n", "\r\n")
    path = tmp_path / "colab.ipynb"
    path.write_bytes(text.encode())
    assert runner.invoke(app, ["apply", str(path)]).exit_code == 0
    after = path.read_bytes().decode()
    expected = text.replace("layers.BatchNormalization(), layers.ReLU()", "layers.ReLU(), layers.BatchNormalization()")
    expected = expected.replace("Dense(4, use_bias=False)", "Dense(4)")  # BN no longer follows Dense: its bias comes back
    assert after == expected  # 2-space indent, unsorted keys, CRLF, \u00e9 escape and no final newline all kept


def test_an_older_nbformat_3_notebook_is_repaired_in_its_input_field(tmp_path):
    cell = {"cell_type": "code", "collapsed": False, "input": ["from keras import layers, Sequential\n", "m = Sequential([layers.Dense(4, use_bias=False), layers.BatchNormalization(), layers.ReLU()])"], "language": "python", "metadata": {}, "outputs": []}
    document = {"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": [cell], "metadata": {}}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    assert runner.invoke(app, ["apply", str(path)]).exit_code == 0
    fixed = json.loads(path.read_text())["worksheets"][0]["cells"][0]["input"][1]
    assert "layers.ReLU(), layers.BatchNormalization()" in fixed


def test_a_cell_with_a_syntax_error_is_reported_at_its_cell_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "broken.ipynb"
    data = as_jupyter_writes_it(jupyter_notebook(code_cell(SETUP_CELL), code_cell("layers.BatchNormalization(\nprint 'hi'")))
    path.write_text(data)
    result = runner.invoke(app, ["apply", "--format", "concise", str(path)])
    assert result.exit_code == 2
    assert f"{path}:cell 3:" in result.stdout and "syntax error" in result.stdout
    assert path.read_text() == data


def test_invalid_json_is_reported_not_a_notebook(tmp_path):
    path = tmp_path / "half.ipynb"
    path.write_text('{"cells": [{"cell_type": "code", "source": ["BatchNormalization"')
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert "not a notebook" in result.stdout


def test_a_notebook_of_another_language_is_skipped(tmp_path):
    document = jupyter_notebook(code_cell("library(keras)\nlayer_batch_normalization() %>% layer_activation('relu')"))
    document["metadata"] = {"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}, "language_info": {"name": "R"}}
    path = tmp_path / "r.ipynb"
    path.write_text(as_jupyter_writes_it(document))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.stdout


def test_directories_include_notebooks_but_not_checkpoints(tmp_path, notebook):
    checkpoint = tmp_path / ".ipynb_checkpoints" / "experiment-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    checkpoint.write_text(notebook.read_text())
    result = runner.invoke(app, ["check", "--format", "concise", str(tmp_path)])
    assert result.exit_code == 1
    assert "experiment.ipynb:cell 3:4:5" in result.stdout
    assert "checkpoint" not in result.stdout


def test_stdin_mode_takes_a_notebook_when_the_filename_says_so(notebook):
    data = notebook.read_text()
    result = runner.invoke(app, ["apply", "-", "--stdin-filename", str(notebook)], input=data)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["cells"][2]["source"][3] == '    layers.Activation("relu"),\n'


MAGIC_CELL = textwrap.dedent(
    """\
    %env KERAS_BACKEND=jax
    !nvidia-smi
    out = !ls *.csv
    np.random.rand?
    ??keras.layers.BatchNormalization
    %pip install \\
        keras-hub
    total = (10
        % 3)
    doc = '''
    %not a magic: inside a string
    '''
    if True:
        %time x = 1
        print(x)
    y = 5 % 3"""
)


def test_magics_are_masked_so_the_cell_parses_and_restored_exactly():
    table = MagicTable()
    masked = mask_magics(MAGIC_CELL, table)
    libcst.parse_module(masked)
    assert len(masked.splitlines()) == len(MAGIC_CELL.splitlines())
    kept = [line for line in masked.splitlines() if "__bnfix_magic_" not in line]
    assert "    % 3)" in kept and "%not a magic: inside a string" in kept and "y = 5 % 3" in kept
    assert sum("__bnfix_magic_" in line for line in masked.splitlines()) == 8
    assert restore_magics(masked, table) == MAGIC_CELL


@pytest.mark.parametrize(
    "cell, masked_lines",
    [
        (SHELL_CELL, 3),  # a shell cell is opaque, whole
        ("%%time\nmodel.fit(x, y)\n", 1),  # %%time runs its body as Python: only its own line is masked
        ("%%writefile train.py\nimport keras\n", 2),
    ],
)
def test_cell_magics(cell, masked_lines):
    table = MagicTable()
    masked = mask_magics(cell, table)
    libcst.parse_module(masked)
    assert sum("__bnfix_magic_" in line for line in masked.splitlines()) == masked_lines
    assert restore_magics(masked, table) == cell


def test_split_refuses_a_module_whose_cell_markers_were_lost(notebook):
    joined: JoinedCells = join_cells(read_notebook(notebook.read_text()))
    without_first_marker = joined.module.replace("# bnfix: end of cell 0\n", "", 1)
    with pytest.raises(NotebookError, match="crossed a cell boundary"):
        split_module(without_first_marker, joined)


def test_joined_module_maps_back_to_cells_and_json_lines(notebook):
    raw = notebook.read_text()
    joined = join_cells(read_notebook(raw))
    module_lines = joined.module.splitlines()
    bn_line = next(i for i, line in enumerate(module_lines, 1) if "BatchNormalization()" in line)
    assert joined.map.cell_location(bn_line) == (3, 4)
    assert "layers.BatchNormalization()" in raw.splitlines()[joined.map.file_line(bn_line) - 1]


def test_a_message_citing_another_line_cites_its_cell(tmp_path):
    """Found on a real notebook: BNF302 says where the base was frozen, which must not be a line of the joined module."""
    freeze = "from tensorflow import keras\nconv_base = keras.applications.ResNet50(include_top=False)\nconv_base.trainable = False"
    build = "inputs = keras.Input(shape=(180, 180, 3))\nx = conv_base(inputs)\noutputs = keras.layers.Dense(1)(x)\nmodel = keras.Model(inputs, outputs)"
    path = tmp_path / "transfer.ipynb"
    path.write_text(as_jupyter_writes_it(jupyter_notebook(code_cell(freeze), code_cell(build))))
    result = runner.invoke(app, ["check", "--format", "concise", "--select", "BNF302", str(path)])
    assert result.exit_code == 1
    assert f"{path}:cell 3:2:5: BNF302 [*] conv_base is frozen (cell 2, line 3) but called without training=False" in result.stdout
