"""The generated rule pages (docs/rules/), the links to them (LSP, SARIF), and the `docs-url` setting."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from typer.testing import CliRunner

from bnfix.cli import app
from bnfix.config import ConfigError, load_settings
from bnfix.report import rule_docs
from bnfix.report.rule_links import rule_page_path, rule_url
from bnfix.rules import ALL_RULES
from tests.test_cli import BROKEN_PLACEMENT

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "rules"


def _path_of(uri: str) -> Path:
    assert uri.startswith("file:///")
    return Path(url2pathname(urlsplit(uri).path))


# -- the pages --------------------------------------------------------------------------------------------------


def test_committed_pages_are_what_the_generator_writes():
    # How ruff keeps generated docs honest: regenerate and compare; a rule edited without its pages fails here.
    assert rule_docs.stale_pages(PAGES) == [], f"docs/rules is out of date: run `{rule_docs.COMMAND}`"
    assert sorted(path.name for path in PAGES.iterdir()) == sorted([f"{rule.code}.md" for rule in ALL_RULES] + ["README.md"])


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_a_page_is_the_explain_text_then_every_tested_example(rule):
    page = (PAGES / f"{rule.code}.md").read_text(encoding="utf-8")
    explained = CliRunner().invoke(app, ["explain", rule.code])
    assert explained.exit_code == 0
    assert page.startswith(rule_docs.GENERATED_NOTE + "\n" + explained.stdout)
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety", "## Tested examples"):
        assert f"\n{section}\n" in page
    examples = page[page.index("## Tested examples") :]
    for example in rule.INVALID + rule.VALID:
        for code in (example.code, getattr(example, "expected", None) or ""):
            indented = "".join(f"   {line}" if line.strip() else "\n" for line in code.splitlines(keepends=True))
            assert indented in examples
    assert examples.count("`bnfix apply` writes:") == sum(
        1 for example in rule.INVALID if example.expected not in (None, example.code)
    )


def test_example_options_are_shown_as_the_configuration_that_gives_them():
    page = (PAGES / "BNF202.md").read_text(encoding="utf-8")
    assert "2. With `unsafe-fixes = true`:\n" in page
    assert "\n1.\n\n   ```python\n" in page  # an example without options has no configuration line
    placement = (PAGES / "BNF101.md").read_text(encoding="utf-8")
    assert 'With `policy = "pre"`:' in placement


def test_the_index_links_every_rule_to_its_page():
    index = (PAGES / "README.md").read_text(encoding="utf-8")
    for rule in ALL_RULES:
        fix = {"safe": "safe", "unsafe": "unsafe", None: "report only"}[rule.fix_safety and rule.fix_safety.value]
        assert f"| [{rule.code}]({rule.code}.md) | {rule.name} | {rule.summary} | {fix} |\n" in index
    assert (PAGES / "BNF204.md").read_text(encoding="utf-8").count("Report only: there is no automatic fix.") == 1


def test_the_generator_writes_updates_and_prunes_pages(tmp_path, capsys):
    pages = tmp_path / "rules"
    assert rule_docs.main(["--check", str(pages)]) == 1  # nothing there yet
    assert f"{pages / 'BNF101.md'}: out of date; run `{rule_docs.COMMAND}`" in capsys.readouterr().err
    assert rule_docs.main([str(pages)]) == 0
    assert rule_docs.main(["--check", str(pages)]) == 0
    assert {path.name: path.read_text(encoding="utf-8") for path in pages.iterdir()} == rule_docs.expected_pages()
    # A hand edit and the page of a rule that no longer exists: --check names both, a run repairs both.
    (pages / "BNF102.md").write_text("edited\n", encoding="utf-8")
    (pages / "BNF999.md").write_text("# gone\n", encoding="utf-8")
    capsys.readouterr()
    assert rule_docs.main(["--check", str(pages)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{pages / name}: out of date; run `{rule_docs.COMMAND}`" for name in ("BNF102.md", "BNF999.md")
    ]
    assert (pages / "BNF102.md").read_text(encoding="utf-8") == "edited\n"  # --check writes nothing
    assert rule_docs.main([str(pages)]) == 0
    assert rule_docs.stale_pages(pages) == [] and not (pages / "BNF999.md").exists()


def test_the_generator_is_one_command():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    checked = subprocess.run(
        [sys.executable, "-m", "bnfix.report.rule_docs", "--check", "docs/rules"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (checked.returncode, checked.stderr) == (0, "")


# -- the links ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_by_default_a_rule_links_to_its_installed_page(rule):
    url = rule_url(rule.code)
    assert url == rule_page_path(rule.code).as_uri()
    page = _path_of(url)
    assert page == (PAGES / f"{rule.code}.md").resolve()  # a source checkout: the package's pages are docs/rules
    assert f"\n# {rule.code} ({rule.name})\n" in page.read_text(encoding="utf-8")


def test_a_docs_url_template_names_the_code_and_optionally_the_name():
    assert rule_url("BNF203", "https://example.org/rules/{code}") == "https://example.org/rules/BNF203"
    assert rule_url("bnf203", "https://example.org/{name}.html?c={code}") == (
        "https://example.org/unconverged-moving-stats.html?c=BNF203"
    )
    assert rule_url("BNF999") is None


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ('"https://example.org/rules/"', "docs-url 'https://example.org/rules/' must contain {code}, where each rule's code goes"),
        ('"https://example.org/{rule}"', "docs-url 'https://example.org/{rule}' names {rule}; a template may name only {code} and {name}"),
        ('"https://example.org/{code"', "docs-url 'https://example.org/{code' is not a valid template"),
        ('"docs/rules/{code}.md"', "docs-url 'docs/rules/{code}.md' must be an absolute URL (https://..., file://...)"),
        ("3", "docs-url: must be a string, not 3"),
    ],
)
def test_docs_url_is_checked_like_every_key(tmp_path, value, error):
    (tmp_path / "pyproject.toml").write_text(f"[tool.bnfix]\ndocs-url = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings([tmp_path], {})
    assert str(raised.value).startswith(f"{tmp_path / 'pyproject.toml'}: [tool.bnfix] {error}")


def test_client_docs_url_is_checked_like_the_file_key():
    from bnfix.server.client_settings import ClientSettingsError, parse_client_settings

    assert parse_client_settings({"bnfix": {"docsUrl": "https://example.org/{code}"}}) == {
        "docs_url": "https://example.org/{code}"
    }
    with pytest.raises(ClientSettingsError, match=r"^bnfix setting docsUrl: docs-url 'https://x/' must contain \{code\}"):
        parse_client_settings({"docsUrl": "https://x/"})
    with pytest.raises(ClientSettingsError, match=r"^bnfix setting docsUrl must be a URL template naming \{code\}, not 3$"):
        parse_client_settings({"docsUrl": 3})


def _sarif_rules(project: Path) -> dict[str, dict]:
    result = CliRunner().invoke(app, ["check", "--format", "sarif", "--no-cache", str(project / "model.py")])
    assert result.exit_code == 1
    return {rule["id"]: rule for rule in json.loads(result.stdout)["runs"][0]["tool"]["driver"]["rules"]}


def test_sarif_gives_each_rule_its_page_as_help_uri(tmp_path):
    # ruff's SARIF carries each rule's documentation URL as helpUri; its text formats print none, nor do bnfix's.
    (tmp_path / "model.py").write_text(BROKEN_PLACEMENT, encoding="utf-8")
    rules = _sarif_rules(tmp_path)
    assert {code: rule["helpUri"] for code, rule in rules.items()} == {
        rule.code: (PAGES / f"{rule.code}.md").resolve().as_uri() for rule in ALL_RULES
    }
    (tmp_path / "pyproject.toml").write_text('[tool.bnfix]\ndocs-url = "https://example.org/r/{code}"\n', encoding="utf-8")
    assert _sarif_rules(tmp_path)["BNF101"]["helpUri"] == "https://example.org/r/BNF101"
    concise = CliRunner().invoke(app, ["check", "--format", "concise", "--no-cache", str(tmp_path / "model.py")])
    assert concise.exit_code == 1 and "example.org" not in concise.stdout and "file://" not in concise.stdout


def test_json_rows_carry_their_rule_page_as_url_like_ruffs(tmp_path):
    (tmp_path / "model.py").write_text(BROKEN_PLACEMENT, encoding="utf-8")
    (tmp_path / "broken.py").write_text("import keras\nprint 'BatchNormalization'\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--format", "json", "--no-cache", str(tmp_path)])
    rows = {(row["code"], row["url"]) for row in json.loads(result.stdout)}
    assert rows == {(None, None), ("BNF101", (PAGES / "BNF101.md").resolve().as_uri())}  # a syntax error has no page
    (tmp_path / "pyproject.toml").write_text('[tool.bnfix]\ndocs-url = "https://example.org/r/{code}"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--format", "json", "--no-cache", str(tmp_path / "model.py")])
    assert [row["url"] for row in json.loads(result.stdout)] == ["https://example.org/r/BNF101"]


# -- installed: a wheel and an editable install ----------------------------------------------------------------------

needs_setuptools = pytest.mark.skipif(
    importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("wheel") is None,
    reason="building offline (--no-build-isolation) needs setuptools and wheel installed",
)


def _source_copy(tmp_path: Path) -> Path:
    """What a checkout holds for building: the package (rule_pages still a link to docs/rules) and the pages."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "bnfix", source / "bnfix", symlinks=True, ignore=ignore)
    shutil.copytree(PAGES, source / "docs" / "rules")
    assert (source / "bnfix" / "rule_pages").is_symlink()
    return source


def _linked_page(flags: list[str], setup: str, tmp_path: Path, env: dict) -> Path:
    """The page an installation links BNF302 to, asked of that installation in a fresh interpreter."""
    probe = setup + "from bnfix.report.rule_links import rule_url; print(rule_url('BNF302'))"
    command = [sys.executable, *flags, "-c", probe]
    run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    return _path_of(run.stdout.strip())


@needs_setuptools
def test_a_wheel_ships_the_pages_and_links_to_its_own_copy(tmp_path):
    source = _source_copy(tmp_path)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source), "-w", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("bnfix-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist() if name.startswith("bnfix/rule_pages/")}
        assert shipped == {f"bnfix/rule_pages/{page.name}": page.read_bytes() for page in PAGES.iterdir()}
        installed = tmp_path / "site-packages"
        archive.extractall(installed)  # what pip puts in site-packages
    assert not (installed / "bnfix" / "rule_pages").is_symlink()
    page = _linked_page([], "", tmp_path, {**os.environ, "PYTHONPATH": str(installed)})
    assert page == installed / "bnfix" / "rule_pages" / "BNF302.md"
    assert page.read_bytes() == (PAGES / "BNF302.md").read_bytes()


@needs_setuptools
def test_an_editable_install_links_to_the_pages_of_its_source_tree(tmp_path):
    source = _source_copy(tmp_path)
    build = "import sys; from setuptools import build_meta; build_meta.build_editable(sys.argv[1])"
    command = [sys.executable, "-c", build, str(tmp_path)]
    built = subprocess.run(command, capture_output=True, text=True, cwd=source, check=False)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("bnfix-*.editable-*.whl")
    installed = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    # Only this editable install provides bnfix: the environment's site-packages (where bnfix may be installed,
    # editable, from another checkout, with a finder module of the same name) come after it, as plain paths.
    setup = f"import site, sys; site.addsitedir({str(installed)!r}); sys.path.extend(site.getsitepackages()); "
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    page = _linked_page(["-S"], setup, tmp_path, env)
    assert page == source / "docs" / "rules" / "BNF302.md"
