"""`bnfix verify --report DIR`: the page holds the JSON's numbers, every figure is a real image, and it renders in
headless Chromium from disk with the network closed. The last tests train for real (2 seeds, one fixture)."""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the HTML report needs the `report` extra (matplotlib)")

from bnfix.verify.compare import judge
from bnfix.verify.html_report import DOCUMENT, PAGE, format_number, render_page, write_report
from bnfix.verify.report import Row, json_document
from bnfix.verify.runner import RunOptions

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: install it (apt-get install chromium) to render the report for real"
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# ------------------------------------------------------------------------------------------------ records


def layer(name, mean_error, variance_error, normalisation_error, channels=None) -> dict:
    entry = {"name": name, "trainable": True, "momentum": 0.99, "channels": 4,
             "mean_error": mean_error, "variance_error": variance_error, "normalisation_error": normalisation_error}
    if channels is not None:
        moving_mean, sample_mean, moving_variance, sample_variance = channels
        entry.update(moving_mean_values=moving_mean, sample_mean_values=sample_mean,
                     moving_variance_values=moving_variance, sample_variance_values=sample_variance)
    return entry


def record(seed, losses, val_losses, test_loss, gap, layers, input_shift=None, status="ok", error=None) -> dict:
    fits = []
    if losses:
        fits.append({
            "model": "sequential#1",
            "epochs": len(losses),
            "final": {"loss": losses[-1], **({"val_loss": val_losses[-1]} if val_losses else {})},
            "history": {"loss": losses, **({"val_loss": val_losses} if val_losses else {})},
            "probe": {"bn_layers": len(layers), "sample_rows": 64, "inference_gap": gap,
                      "moving_stat_error": max(entry["normalisation_error"] for entry in layers), "layers": layers},
        })
    evaluation = {"model": "sequential#1", "results": {"loss": test_loss}}
    if input_shift is not None:
        evaluation["input_shift"] = input_shift  # the harness's shift of these inputs from the training inputs
    return {"seed": seed, "status": status, "error": error, "duration": 1.25 + seed, "fits": fits,
            "evaluations": [evaluation] if test_loss is not None else [], "predictions": []}


UNCONVERGED = ([0.0, 0.1, 0.2, 0.3], [1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], [4.0, 9.0, 16.0, 25.0])
CONVERGED = ([0.9, 2.1, 2.9, 4.2], [1.0, 2.0, 3.0, 4.0], [3.9, 9.2, 15.5, 24.0], [4.0, 9.0, 16.0, 25.0])
BEFORE = [
    record(0, [1.2, 0.8, 0.5], [1.3, 0.9, 0.7], 0.6125, 0.70, [layer("bn_a", 0.81, 0.62, 0.85, UNCONVERGED)], input_shift=2.5),
    record(1, [1.1, 0.7, 0.45], [1.2, 0.8, 0.66], 0.6375, 0.66, [layer("bn_a", 0.79, 0.60, 0.83, UNCONVERGED)], input_shift=2.4),
]
AFTER = [
    record(0, [1.2, 0.8, 0.5], [1.1, 0.6, 0.31], 0.2125, 0.20, [layer("bn_a", 0.05, 0.04, 0.18, CONVERGED)], input_shift=0.05),
    record(1, [1.1, 0.7, 0.45], [1.0, 0.5, 0.29], 0.1875, 0.19, [layer("bn_a", 0.06, 0.05, 0.17, CONVERGED)], input_shift=0.04),
]
CRASH = {"type": "FileNotFoundError", "message": "data/train.csv", "traceback": ""}
CRASHED = [record(seed, [], [], None, None, [], status="crash", error=CRASH) for seed in (0, 1)]


def document() -> dict:
    rows = [
        Row(Path("scripts/unconverged.py"), "post", ["BNF203"], judge(BEFORE, AFTER), BEFORE, AFTER),
        Row(Path("scripts/needs <data>.py"), "post", ["BNF101"], judge(CRASHED, CRASHED), CRASHED, CRASHED),
    ]
    settings = {"policy": "post", "select": [], "ignore": [], "unsafe_fixes": False, "compare_policies": False}
    return json.loads(json.dumps(json_document(rows, [], RunOptions(seeds=(0, 1), timeout=60.0), settings, 12.5, 0)))


# ------------------------------------------------------------------------------------------------ reading pages


class PageReader(HTMLParser):
    """The parts of a report a reader checks: sections, metric cells, figures and every resource reference."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict] = []
        self.images: list[dict] = []
        self.references: list[str] = []
        self._cell: dict | None = None
        self._metric: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href"):
            if name in attributes:
                self.references.append(attributes[name])
        if tag == "section":
            self.sections.append({"path": attributes["data-path"], "metrics": {}, "verdict": None, "deciding": None,
                                  "figures": [], "missing": [], "runs": []})
        if not self.sections:
            return
        section = self.sections[-1]
        if "data-verdict" in attributes and section["verdict"] is None:
            section["verdict"] = attributes["data-verdict"]
        if "data-deciding" in attributes:
            section["deciding"] = attributes["data-deciding"]
        if tag == "tr" and "data-metric" in attributes:
            self._metric = attributes["data-metric"]
            section["metrics"][self._metric] = {}
        if tag == "tr" and "data-status" in attributes:
            section["runs"].append((attributes["data-side"], attributes["data-seed"], attributes["data-status"]))
        if tag == "td" and self._metric and "data-side" in attributes:
            self._cell = {**attributes, "text": ""}
            section["metrics"][self._metric][attributes["data-side"]] = self._cell
        if tag == "figure":
            section["figures"].append(attributes["data-figure"])
        if tag == "p" and "data-figure" in attributes:
            section["missing"].append(attributes["data-figure"])
        if tag == "img":
            self.images.append(attributes)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        if tag == "tr":
            self._metric = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def read_page(text: str) -> PageReader:
    reader = PageReader()
    reader.feed(text)
    return reader


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def assert_numbers_equal_the_json(reader: PageReader, document: dict) -> None:
    scripts = document["scripts"]
    assert [section["path"] for section in reader.sections] == [script["path"] for script in scripts]
    for section, script in zip(reader.sections, scripts):
        assert section["verdict"] == script["verdict"]
        assert section["deciding"] == script["judged_on"]
        assert set(section["metrics"]) == set(script["metrics"])
        runs = [(side, str(run["seed"]), run["status"]) for side, key in (("original", "before"), ("repaired", "after"))
                for run in script[key]["runs"]]
        assert section["runs"] == runs
        for name, comparison in script["metrics"].items():
            for side in ("before", "after"):
                cell, summary = section["metrics"][name][side], comparison[side]
                if summary is None:
                    assert cell["text"] == "not recorded"
                    continue
                for key in ("mean", "spread"):
                    exact = cell[f"data-{key}"]
                    assert (float(exact) if exact else None) == summary[key], (section["path"], name, side, key)
                assert int(cell["data-n"]) == summary["n"]
                if summary["n"]:
                    assert cell["text"].startswith(format_number(summary["mean"]))


# ------------------------------------------------------------------------------------------------ the page


def test_every_number_on_the_page_is_the_json_number():
    doc = document()
    reader = read_page(render_page(doc))
    assert_numbers_equal_the_json(reader, doc)
    measured = reader.sections[0]["metrics"]
    assert float(measured["test_loss"]["before"]["data-mean"]) == pytest.approx(0.625)
    assert measured["test_loss"]["before"]["text"] == "0.625 ± 0.01768 (n=2)"
    assert reader.sections[0]["verdict"] == "improved" and reader.sections[0]["deciding"] == "test_loss"


def test_the_page_states_the_budget_and_whether_each_model_learned():
    doc = document()
    doc["budget_description"] = "--epochs 3: every fit stops after 3 epochs"
    page = render_page(doc)
    assert "<th>budget</th><td>--epochs 3: every fit stops after 3 epochs</td>" in page
    assert "model learned: original yes, repaired yes" in page


def test_write_report_writes_the_page_and_the_document_it_shows(tmp_path):
    doc = document()
    page = write_report(doc, tmp_path / "report")
    assert page == tmp_path / "report" / PAGE
    assert json.loads((tmp_path / "report" / DOCUMENT).read_text()) == doc
    assert_numbers_equal_the_json(read_page(page.read_text()), doc)


def test_every_figure_is_an_embedded_png_and_nothing_is_fetched():
    reader = read_page(render_page(document()))
    assert reader.sections[0]["figures"] == ["loss", "bn-errors", "bn-channels", "inference-gap", "input-shift"]
    assert len(reader.images) == 5
    for image in reader.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        width, height = png_size(base64.b64decode(image["src"][len(prefix):]))
        assert width > 200 and height > 150
        assert image["alt"]
    # Links stay inside the page: no script, style sheet, font or image comes from anywhere else.
    assert all(reference.startswith(("data:", "#")) for reference in reader.references)


def test_a_script_that_recorded_nothing_says_so_instead_of_drawing_empty_frames():
    reader = read_page(render_page(document()))
    crashed = reader.sections[1]
    assert crashed["path"] == "scripts/needs <data>.py"  # escaped in the page, read back as written
    assert crashed["verdict"] == "not verified"  # both versions fail for the same reason, unrelated to BN
    assert crashed["figures"] == []
    assert crashed["missing"] == ["loss", "bn-errors", "bn-channels", "inference-gap", "input-shift"]
    assert "FileNotFoundError: data/train.csv" in render_page(document())


def test_records_without_input_statistics_or_channel_values_still_render():
    """Records from a harness that measures neither (older JSON, or a script without BN channels)."""
    before = [{**run, "fits": [dict(fit, probe={**fit["probe"], "layers": [
        {key: value for key, value in entry.items() if not key.endswith("_values")} for entry in fit["probe"]["layers"]]})
        for fit in run["fits"]]} for run in BEFORE]
    for run in before:
        for evaluation in run["evaluations"]:
            evaluation.pop("input_shift")
    rows = [Row(Path("old.py"), "post", ["BNF203"], judge(before, before), before, before)]
    doc = json.loads(json.dumps(json_document(rows, [], RunOptions(seeds=(0, 1)), {"policy": "post"}, 1.0, 0)))
    section = read_page(render_page(doc)).sections[0]
    assert section["figures"] == ["loss", "bn-errors", "inference-gap"]
    assert section["missing"] == ["bn-channels", "input-shift"]


def test_a_saved_document_renders_from_the_command_line(tmp_path, capsys):
    from bnfix.verify.html_report import main

    saved = tmp_path / "verify.json"
    saved.write_text(json.dumps(document()))
    assert main([str(saved), str(tmp_path / "page")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "page" / PAGE)
    assert_numbers_equal_the_json(read_page((tmp_path / "page" / PAGE).read_text()), document())


@pytest.mark.parametrize("content", ["{not json", '{"tool": "something else"}'])
def test_a_file_that_is_not_a_verify_document_is_a_clear_error(tmp_path, capsys, content):
    from bnfix.verify.html_report import main

    saved = tmp_path / "other.json"
    saved.write_text(content)
    with pytest.raises(SystemExit) as exit_request:
        main([str(saved), str(tmp_path / "page")])
    assert exit_request.value.code == 2
    assert str(saved) in capsys.readouterr().err
    assert not (tmp_path / "page").exists()


def test_report_without_matplotlib_is_a_clear_usage_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bnfix.cli import app
    from bnfix.verify import plots

    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    script = tmp_path / "script.py"
    script.write_text("print('never run')\n")
    result = CliRunner().invoke(app, ["verify", str(script), "--report", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "pip install 'bnfix[report]'" in result.output
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------ Chromium


def chromium(arguments: list[str], profile: Path) -> subprocess.CompletedProcess:
    """Headless Chromium with everything that would reach the network turned off, in a fresh profile."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}"]
    return subprocess.run([CHROMIUM, *flags, *arguments], capture_output=True, text=True, timeout=120)


IMAGE_CHECK = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (image) {
    return {complete: image.complete, width: image.naturalWidth, height: image.naturalHeight};
  });
  var out = document.createElement("pre");
  out.id = "bnfix-image-check";
  out.textContent = JSON.stringify({images: images, scrollHeight: document.body.scrollHeight});
  document.body.appendChild(out);
});
</script>
"""


def render_in_chromium(page: Path, tmp_path: Path) -> tuple[dict, bytes]:
    """(what the page's images look like once loaded, a screenshot) from Chromium opening the file from disk."""
    probe = page.with_name("probe.html")  # the report itself has no script; a copy gets the check
    probe.write_text(page.read_text().replace("</body>", IMAGE_CHECK + "</body>"))
    dumped = chromium(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp_path / "profile-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    marker = dumped.stdout.split('<pre id="bnfix-image-check">', 1)
    assert len(marker) == 2, "the check script did not run: " + dumped.stdout[-500:]
    loaded = json.loads(marker[1].split("</pre>", 1)[0].replace("&quot;", '"').replace("&amp;", "&"))
    shot = tmp_path / "screenshot.png"
    taken = chromium(["--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()], tmp_path / "profile-shot")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    return loaded, shot.read_bytes()


def assert_rendered(loaded: dict, screenshot: bytes, expected_images: int) -> None:
    assert len(loaded["images"]) == expected_images
    assert all(image["complete"] and image["width"] > 0 and image["height"] > 0 for image in loaded["images"])
    assert loaded["scrollHeight"] > 1000
    width, height = png_size(screenshot)
    assert (width, height) == (1280, 2400)
    assert len(screenshot) > 20_000  # a blank page compresses to a few kilobytes


@needs_chromium
def test_the_page_renders_in_headless_chromium_with_every_image_loaded(tmp_path):
    page = write_report(document(), tmp_path / "report")
    loaded, screenshot = render_in_chromium(page, tmp_path)
    assert_rendered(loaded, screenshot, expected_images=5)


# ------------------------------------------------------------------------------------------------ real training


@pytest.mark.training
def test_verify_report_on_a_trained_fixture(tmp_path):
    """BNF203's fixture, 2 seeds: the page shows the trained numbers, the moving statistics move onto the diagonal."""
    out = tmp_path / "report"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bnfix", "verify", str(ROOT / "fixtures" / "momentum_default_few_updates.py"),
         "--seeds", "2", "--quiet", "--report", str(out)],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads((out / DOCUMENT).read_text())
    reader = read_page((out / PAGE).read_text())
    assert_numbers_equal_the_json(reader, doc)
    (script,) = doc["scripts"]
    assert script["verdict"] == "improved" and script["rules"] == ["BNF203"]
    assert reader.sections[0]["figures"][:4] == ["loss", "bn-errors", "bn-channels", "inference-gap"]
    layers = [fit["probe"]["layers"][0] for run in script["after"]["runs"] for fit in run["fits"]]
    assert all(len(entry["moving_mean_values"]) == len(entry["sample_mean_values"]) > 0 for entry in layers)
    before_gap = script["metrics"]["inference_gap"]["before"]["mean"]
    after_gap = script["metrics"]["inference_gap"]["after"]["mean"]
    assert math.isfinite(before_gap) and after_gap < before_gap
    if CHROMIUM is not None:
        loaded, screenshot = render_in_chromium(out / PAGE, tmp_path)
        assert_rendered(loaded, screenshot, expected_images=len(reader.images))
