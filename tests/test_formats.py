"""`--format sarif` and `--format github`: the shapes CI and code-scanning UIs require, and SARIF fixes that rebuild
exactly what `bnfix apply` writes."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from bnfix.cli import app
from bnfix.report.edits import split_lines, text_edits

runner = CliRunner()

SCRIPT = textwrap.dedent(
    """\
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([
        layers.Dense(64, use_bias=False),
        layers.BatchNormalization(eps=1e-3),
        layers.Activation("relu"),
        layers.Dropout(0.5),
        layers.BatchNormalization(momentum=0.1),
        layers.Dense(1),
    ])
    model.fit(x, y, epochs=2, batch_size=64)
    preds = model(x_test, training=True)  # café
    """
)


def _object(required: list[str], properties: dict | None = None) -> dict:
    return {"type": "object", "required": required, "properties": properties or {}}


# The `required` members (and the few constraints) the SARIF 2.1.0 schema puts on every object bnfix writes.
MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}]}
REGION = {"type": "object", "properties": {k: {"type": "integer", "minimum": 1} for k in ("startLine", "startColumn", "endLine", "endColumn")}}
ARTIFACT_LOCATION = {"type": "object", "properties": {"uri": {"type": "string", "minLength": 1}}, "required": ["uri"]}
PHYSICAL_LOCATION = {"type": "object", "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}], "properties": {"artifactLocation": ARTIFACT_LOCATION, "region": REGION}}
LOCATION = {"type": "object", "properties": {"physicalLocation": PHYSICAL_LOCATION}}
REPLACEMENT = _object(["deletedRegion"], {"deletedRegion": REGION, "insertedContent": {"type": "object"}})
ARTIFACT_CHANGE = _object(["artifactLocation", "replacements"], {"artifactLocation": ARTIFACT_LOCATION, "replacements": {"type": "array", "minItems": 1, "items": REPLACEMENT}})
FIX = _object(["artifactChanges"], {"artifactChanges": {"type": "array", "minItems": 1, "items": ARTIFACT_CHANGE}, "description": MESSAGE})
RESULT = _object(["message"], {"message": MESSAGE, "locations": {"type": "array", "items": LOCATION}, "fixes": {"type": "array", "items": FIX}, "ruleId": {"type": "string"}, "level": {"enum": ["none", "note", "warning", "error"]}})
RULE = _object(["id"], {"id": {"type": "string"}, "shortDescription": MESSAGE, "fullDescription": MESSAGE, "help": MESSAGE})
NOTIFICATION = _object(["message"], {"message": MESSAGE, "locations": {"type": "array", "items": LOCATION}})
INVOCATION = _object(["executionSuccessful"], {"toolExecutionNotifications": {"type": "array", "items": NOTIFICATION}})
DRIVER = _object(["name"], {"name": {"type": "string"}, "rules": {"type": "array", "items": RULE}})
RUN = _object(["tool"], {"tool": _object(["driver"], {"driver": DRIVER}), "results": {"type": "array", "items": RESULT}, "invocations": {"type": "array", "items": INVOCATION}, "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]}})
SARIF_LOG = _object(["version", "runs"], {"version": {"const": "2.1.0"}, "runs": {"type": "array", "items": RUN}, "$schema": {"type": "string", "format": "uri"}})


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train model.py"  # a space: the URI must be encoded
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def sarif_of(*args: str) -> dict:
    result = runner.invoke(app, ["check", "--format", "sarif", *args])
    assert result.exit_code in (0, 1, 2), result.stdout
    log = json.loads(result.stdout)
    jsonschema.validate(log, SARIF_LOG)
    return log


def apply_replacements(text: str, replacements: list[dict]) -> str:
    """An independent applier: SARIF regions are 1-based line/column (code points), end exclusive."""
    lines = split_lines(text)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    spans = []
    for replacement in replacements:
        region = replacement["deletedRegion"]
        start, end = offset(region["startLine"], region["startColumn"]), offset(region["endLine"], region["endColumn"])
        spans.append((start, end, replacement.get("insertedContent", {}).get("text", "")))
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def all_replacements(log: dict) -> list[dict]:
    return [
        replacement
        for result in log["runs"][0]["results"]
        for fix in result.get("fixes", [])
        for change in fix["artifactChanges"]
        for replacement in change["replacements"]
    ]


def test_sarif_has_the_required_fields_and_rule_metadata(script):
    log = sarif_of(str(script))
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    codes = sorted(result["ruleId"] for result in run["results"])
    assert codes == ["BNF101", "BNF102", "BNF201", "BNF202", "BNF301"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("train%20model.py")
    assert run["invocations"][0]["executionSuccessful"] is True


@pytest.mark.parametrize("unsafe", [[], ["--unsafe-fixes"]])
def test_sarif_fixes_together_rebuild_exactly_what_apply_writes(script, tmp_path, unsafe):
    log = sarif_of(*unsafe, str(script))
    fixed_results = [r for r in log["runs"][0]["results"] if r.get("fixes")]
    assert fixed_results, "fixable findings must carry fixes"
    offered = apply_replacements(SCRIPT, all_replacements(log))
    assert runner.invoke(app, ["apply", *unsafe, str(script)]).exit_code in (0, 1)
    assert offered == script.read_text(encoding="utf-8")


def test_unsafe_fixes_are_offered_only_with_unsafe_fixes(script):
    def codes_with_fixes(*args: str) -> set[str]:
        return {r["ruleId"] for r in sarif_of(*args, str(script))["runs"][0]["results"] if r.get("fixes")}

    assert "BNF301" not in codes_with_fixes()
    assert "BNF301" in codes_with_fixes("--unsafe-fixes")


def test_a_renamed_argument_is_a_replacement_of_only_the_characters_that_differ(tmp_path):
    path = tmp_path / "eps.py"
    path.write_text("from keras import layers\nbn = layers.BatchNormalization(eps=1e-3)\n")
    log = sarif_of(str(path))
    [replacement] = all_replacements(log)
    # `eps` (columns 32-34) becomes `epsilon`: "ilon" inserted after it, nothing deleted.
    assert replacement["deletedRegion"] == {"startLine": 2, "startColumn": 35, "endLine": 2, "endColumn": 35}
    assert replacement["insertedContent"] == {"text": "ilon"}


def test_after_apply_sarif_reports_what_remains_without_fixes(script):
    result = runner.invoke(app, ["apply", "--format", "sarif", str(script)])
    log = json.loads(result.stdout)
    jsonschema.validate(log, SARIF_LOG)
    remaining = log["runs"][0]["results"]
    # BNF101 and BNF102 leave the two BN layers adjacent; the second sets momentum, so BNF104 only reports.
    assert sorted(r["ruleId"] for r in remaining) == ["BNF104", "BNF202", "BNF301"]
    assert not any("fixes" in r for r in remaining)


def test_sarif_reports_a_file_that_cannot_be_parsed_as_a_failed_execution(tmp_path):
    path = tmp_path / "py2.py"
    path.write_text("import keras\nprint 'BatchNormalization'\n")
    log = sarif_of(str(path))
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert "syntax error" in notification["message"]["text"]
    assert notification["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_sarif_for_a_notebook_points_at_json_lines_and_its_fixes_patch_the_json(tmp_path):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["from keras import layers, Sequential\n", "m = Sequential([layers.Dense(4, use_bias=False), layers.BatchNormalization(), layers.ReLU()])"]}
    raw = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1, sort_keys=True) + "\n"
    path = tmp_path / "nb.ipynb"
    path.write_text(raw)
    log = sarif_of(str(path))
    [result] = log["runs"][0]["results"]
    line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "layers.BatchNormalization()" in raw.splitlines()[line - 1]
    assert result["message"]["text"].startswith("cell 1, line 2: ")
    offered = apply_replacements(raw, all_replacements(log))
    assert runner.invoke(app, ["apply", str(path)]).exit_code == 0
    assert offered == path.read_text()


GITHUB_COMMAND = re.compile(r"^::(error|warning|notice) (?P<properties>[^:]*)::(?P<message>.+)$")


def github_lines(*args: str) -> list[dict]:
    result = runner.invoke(app, ["check", "--format", "github", *args])
    parsed = []
    for line in result.stdout.splitlines():
        match = GITHUB_COMMAND.match(line)
        assert match, f"not a workflow command: {line!r}"
        properties = dict(item.split("=", 1) for item in match["properties"].split(","))
        parsed.append({**properties, "message": match["message"]})
    return parsed


def test_github_annotations_carry_file_and_position(script):
    annotations = github_lines(str(script))
    assert len(annotations) == 5
    first = annotations[0]
    assert first["file"] == script.as_posix().replace(":", "%3A")
    assert (first["line"], first["col"], first["endLine"]) == ("6", "5", "6")
    assert first["title"] == "bnfix (BNF101)"
    assert first["message"].startswith("BNF101 BatchNormalization before the 'relu' activation")


def test_github_escapes_separators_in_properties_and_newlines_in_messages(tmp_path):
    path = tmp_path / "a,b:c%.py"
    path.write_text("import keras\nprint 'BatchNormalization'\n")
    result = runner.invoke(app, ["check", "--format", "github", str(path)])
    [line] = result.stdout.splitlines()
    assert "file=" + path.as_posix().replace("%", "%25").replace(":", "%3A").replace(",", "%2C") + "," in line
    assert result.exit_code == 2


def test_github_for_a_notebook_uses_the_json_line_and_names_the_cell(tmp_path):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["from keras import layers, Sequential\n", "m = Sequential([layers.Dense(4, use_bias=False), layers.BatchNormalization(), layers.ReLU()])"]}
    raw = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1, sort_keys=True) + "\n"
    path = tmp_path / "nb.ipynb"
    path.write_text(raw)
    [annotation] = github_lines(str(path))
    assert "layers.BatchNormalization()" in raw.splitlines()[int(annotation["line"]) - 1]
    assert "col" not in annotation
    assert annotation["message"].startswith("cell 1, line 2: BNF101")


def test_text_edits_narrow_a_change_to_the_characters_that_differ():
    [edit] = text_edits("a = f(x, momentum=0.1)\n", "a = f(x, momentum=0.9)\n")
    assert (edit.start_line, edit.start_column, edit.end_line, edit.end_column, edit.new_text) == (1, 21, 1, 22, "9")


@pytest.mark.parametrize(
    "before, after",
    [
        ("a\nb\nc\n", "a\nc\n"),
        ("a\nb", "a\nb\nc"),
        ("x(1)\r\ny(2)\r\n", "y(2)\r\nx(1)\r\n"),
        ("", "new\n"),
        ("only\n", ""),
        ("é = 1\n", "é = 2\nz = 3\n"),
    ],
)
def test_text_edits_rebuild_the_fixed_text(before, after):
    replacements = [
        {"deletedRegion": {"startLine": e.start_line, "startColumn": e.start_column, "endLine": e.end_line, "endColumn": e.end_column}, "insertedContent": {"text": e.new_text}}
        for e in text_edits(before, after)
    ]
    assert apply_replacements(before, replacements) == after


TINY_BATCHES = "from tensorflow import keras\nmodel = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])\nmodel.fit(x, y, batch_size=2)\n"


def test_sarif_levels_are_error_for_rules_with_a_repair_and_warning_for_report_only_ones(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY_BATCHES)
    run = sarif_of(str(path))["runs"][0]
    levels = {result["ruleId"]: result["level"] for result in run["results"]}
    assert levels == {"BNF103": "error", "BNF204": "warning"}
    defaults = {rule["id"]: rule["defaultConfiguration"]["level"] for rule in run["tool"]["driver"]["rules"]}
    assert defaults["BNF204"] == "warning"
    assert {level for code, level in defaults.items() if code != "BNF204"} == {"error"}


def test_github_annotations_use_the_same_levels(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY_BATCHES)
    result = runner.invoke(app, ["check", "--format", "github", str(path)])
    commands = [line.split(" ", 1)[0] for line in result.stdout.splitlines()]
    assert commands == ["::error", "::warning"]
