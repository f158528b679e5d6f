"""`bnfix server` end to end: a real LSP client (pytest-lsp) spawns `python -m bnfix server` and talks over stdio.

Edits the server returns are applied here as an editor would (LSP positions in UTF-16 code units), and the result
is compared with what the `bnfix apply` command writes for the same file.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")
import pytest_asyncio  # noqa: E402  (installed with pytest-lsp)

from lsprotocol import types  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import LanguageClient  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

from bnfix.report.rule_docs import GENERATED_NOTE as RULE_PAGE_NOTE  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVER_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SERVER_COMMAND = [sys.executable, "-m", "bnfix", "server"]

# One server for the module (each start imports pygls and bnfix: seconds on a busy machine); tests use their own
# files, and those that change settings put them back. Tests of start-up options start their own server.
over_stdio = pytest.mark.asyncio(loop_scope="module")

MODEL = textwrap.dedent(
    """\
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.BatchNormalization(eps=1e-3),
        layers.Dense(10),
        layers.BatchNormalization(momentum=0.1),
    ])
    """
)
# BNF201 (safe) on line 6, BNF103 (unsafe) on line 7, BNF202 (unsafe) on line 8.
SAFE_ONLY = MODEL.replace("layers.Dense(10)", "layers.Dense(10, use_bias=False)").replace("momentum=0.1", "momentum=0.9")


def _make_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publishDiagnostics with its version (its own keeps the last list)."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []

    def record(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        ls.published.append(params)

    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: record})
    return client


CAPABILITIES = types.ClientCapabilities(
    workspace=types.WorkspaceClientCapabilities(configuration=True),
    text_document=types.TextDocumentClientCapabilities(
        code_action=types.CodeActionClientCapabilities(
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                code_action_kind=types.ClientCodeActionKindOptions(value_set=["quickfix", "source", "source.fixAll"])
            )
        ),
        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
    ),
    notebook_document=types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities()
    ),
)


async def _start(
    root: Path, options: dict | None = None, capabilities: types.ClientCapabilities = CAPABILITIES, folders: list[Path] | None = None
) -> LanguageClient:
    client = _make_client()
    await client.start_io(*SERVER_COMMAND, env=SERVER_ENV, cwd=str(root))
    workspace_folders = None if folders is None else [types.WorkspaceFolder(folder.as_uri(), folder.name) for folder in folders]
    client.initialize_result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities, root_uri=root.as_uri(), initialization_options=options, workspace_folders=workspace_folders
        )
    )
    return client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory):
    """A server started in an empty project directory (no pyproject.toml above it has [tool.bnfix])."""
    client = await _start(tmp_path_factory.mktemp("workspace"))
    yield client
    await client.shutdown_session()
    await client.stop()


def _reset_settings(client: LanguageClient) -> None:
    client.set_configuration({}, section="bnfix")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnfix": {}}))


async def _diagnostics(client: LanguageClient, uri: str, version: int | None = None, timeout: float = 30.0) -> list:
    """The diagnostics published for `uri` (at `version`, when given), waiting for them."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for params in reversed(client.published):
            if params.uri == uri and (version is None or params.version == version):
                return list(params.diagnostics)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics for {uri} version {version}; published: {client.published}")


async def _until(condition, timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (the server answers notifications with notifications, in its own time)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the server")
        await asyncio.sleep(0.02)


async def _next_publish(client: LanguageClient, uri: str, after: int) -> list:
    """The diagnostics of the first publishDiagnostics for `uri` after the first `after` notifications."""
    await _until(lambda: any(params.uri == uri for params in client.published[after:]))
    return list(next(params for params in client.published[after:] if params.uri == uri).diagnostics)


def _open(client: LanguageClient, path: Path, text: str, version: int = 1, language: str = "python") -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, version, text)))
    return uri


def _apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """What an editor does with TextEdits: positions are (line, UTF-16 offset); edits apply from the end."""

    def offset(position: types.Position) -> int:
        lines = re.split(r"(?<=\r\n)|(?<=\n)(?<!\r\n)|(?<=\r)(?!\n)", text)
        before = "".join(lines[: position.line])
        line = lines[position.line] if position.line < len(lines) else ""
        units = line.encode("utf-16-le")[: position.character * 2].decode("utf-16-le")
        return len(before) + len(units)

    spans = sorted(((offset(e.range.start), offset(e.range.end), e.new_text) for e in edits), reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def _bnfix_apply(path: Path, text: str, *flags: str) -> str:
    """What the command line writes for the same file."""
    path.write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bnfix", "apply", "--no-progress", "-q", *flags, str(path)], env=SERVER_ENV, cwd=ROOT, check=False)
    return path.read_text(encoding="utf-8")


async def _code_actions(
    client: LanguageClient, uri: str, line: int, only: list[str] | None = None, diagnostics: list | None = None
) -> list[types.CodeAction]:
    """The actions offered with the whole of `line` selected (and `diagnostics` named, as VS Code does)."""
    where = types.Range(types.Position(line, 0), types.Position(line + 1, 0))
    context = types.CodeActionContext(diagnostics=diagnostics or [], only=only)
    params = types.CodeActionParams(types.TextDocumentIdentifier(uri), where, context)
    return await client.text_document_code_action_async(params) or []


# -- session --------------------------------------------------------------------------------------------------


@over_stdio
async def test_initialize_announces_diagnostics_code_actions_and_notebooks(server: LanguageClient) -> None:
    result = server.initialize_result
    assert result.server_info.name == "bnfix"
    capabilities = result.capabilities
    assert list(capabilities.code_action_provider.code_action_kinds) == ["quickfix", "source.fixAll.bnfix"]
    assert capabilities.notebook_document_sync.notebook_selector[0].cells[0].language == "python"
    assert capabilities.hover_provider
    sync = capabilities.text_document_sync
    assert (sync.open_close, sync.change, sync.save) == (True, types.TextDocumentSyncKind.Incremental, True)


@over_stdio
async def test_shutdown_and_exit_end_the_process_cleanly(tmp_path: Path) -> None:
    client = await _start(tmp_path)
    await client.shutdown_session()
    assert client._server.returncode == 0
    await client.stop()


# -- diagnostics ----------------------------------------------------------------------------------------------


@over_stdio
async def test_did_open_publishes_a_diagnostic_per_finding(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    diagnostics = await _diagnostics(server, uri, 1)
    assert [(d.code, d.range.start.line, d.range.start.character) for d in diagnostics] == [
        ("BNF201", 5, 30),
        ("BNF103", 6, 4),
        ("BNF202", 7, 30),
    ]
    first = diagnostics[0]
    assert first.source == "bnfix"
    assert first.severity == types.DiagnosticSeverity.Warning  # fixable
    assert first.message.startswith("BatchNormalization has no `eps`")
    assert first.range.end == types.Position(5, 38)  # the `eps=1e-3` argument
    # Each code links to its own rule's page, the one installed with bnfix (no docs-url configured here).
    assert [d.code_description.href for d in diagnostics] == [
        (ROOT / "docs" / "rules" / f"{code}.md").resolve().as_uri() for code in ("BNF201", "BNF103", "BNF202")
    ]
    page = Path(url2pathname(urlsplit(first.code_description.href).path))
    assert page.read_text(encoding="utf-8").startswith(RULE_PAGE_NOTE + "\n# BNF201 (unknown-bn-argument)\n")


@over_stdio
async def test_open_shows_the_projects_cached_result_at_once_then_checks_and_stores(server: LanguageClient, tmp_path: Path) -> None:
    from bnfix.cache import CachedOutcome, ResultCache, content_hash
    from bnfix.config import load_settings
    from bnfix.diagnostics import Diagnostic
    from bnfix.process import DEFAULT_MAX_CODE_MB

    project = tmp_path / "cached"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.bnfix]\n", encoding="utf-8")
    path, other = project / "model.py", project / "other.py"
    path.write_text(MODEL, encoding="utf-8")
    other.write_text(SAFE_ONLY, encoding="utf-8")
    # What `bnfix check` stores for the file, under the key the server computes: made recognisable here.
    cache = ResultCache.for_run(load_settings([path], {}), ("check", DEFAULT_MAX_CODE_MB))
    stored = Diagnostic("BNF201", "as stored in the cache", 1, 1, 1, 5)
    assert cache.store(path, content_hash(MODEL.encode()), CachedOutcome(None, [stored], [], None, None))
    uri = _open(server, path, MODEL)
    await _until(lambda: len([params for params in server.published if params.uri == uri]) == 2)
    cached, checked = [params for params in server.published if params.uri == uri]
    assert [(d.code, d.message) for d in cached.diagnostics] == [("BNF201", "as stored in the cache")]
    assert [d.code for d in checked.diagnostics] == ["BNF201", "BNF103", "BNF202"]  # the document, parsed for its fixes
    # A file the cache does not know: checked, and what was found is stored for the next open or `bnfix check`.
    assert [d.code for d in await _diagnostics(server, _open(server, other, SAFE_ONLY), 1)] == ["BNF201"]
    assert [d.code for d in cache.load(other, SAFE_ONLY.encode()).diagnostics] == ["BNF201"]
    # The command line reads both entries: one key for the server and for it.
    check = subprocess.run(
        [sys.executable, "-m", "bnfix", "check", "--format", "json", "model.py", "other.py"],
        cwd=project, env=SERVER_ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert [(row["code"], row["message"]) for row in json.loads(check.stdout)] == [
        ("BNF201", "as stored in the cache"),
        ("BNF201", [d.message for d in checked.diagnostics][0]),
    ]


PROGRESS_CAPABILITIES = types.ClientCapabilities(
    workspace=CAPABILITIES.workspace,
    text_document=CAPABILITIES.text_document,
    notebook_document=CAPABILITIES.notebook_document,
    window=types.WindowClientCapabilities(work_done_progress=True),
)


def _priming_runs_ended(client: LanguageClient) -> int:
    return sum(1 for reports in client.progress_reports.values() if reports and isinstance(reports[-1], types.WorkDoneProgressEnd))


def _primed(path: Path, overrides: dict | None = None) -> list[str] | None:
    """The codes the project's result cache holds for the file as it is (None: no entry)."""
    from bnfix.cache import ResultCache
    from bnfix.config import load_settings
    from bnfix.process import DEFAULT_MAX_CODE_MB

    outcome = ResultCache.for_run(load_settings([path], overrides or {}), ("check", DEFAULT_MAX_CODE_MB)).load(path, path.read_bytes())
    return None if outcome is None else [d.code for d in outcome.diagnostics]


def _priming_processes(folder: Path) -> list[int]:
    """The pids of priming children working on `folder` (Linux: read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bnfix.server.cache_priming" in arguments and str(folder).encode() in arguments:
            found.append(int(entry.name))
    return found


def _cached_project(root: Path) -> tuple[Path, Path]:
    (root / "pyproject.toml").write_text("[tool.bnfix]\n", encoding="utf-8")
    model, other = root / "model.py", root / "other.py"
    model.write_text(MODEL, encoding="utf-8")
    other.write_text(SAFE_ONLY, encoding="utf-8")
    return model, other


@over_stdio
async def test_cache_priming_checks_the_saved_files_so_that_opening_one_shows_its_findings_at_once(tmp_path: Path) -> None:
    model, other = _cached_project(tmp_path)
    client = await _start(tmp_path, capabilities=PROGRESS_CAPABILITIES)
    try:
        await _until(lambda: _priming_runs_ended(client) == 1)
        [reports] = client.progress_reports.values()
        begin, *middle, end = reports
        assert begin.title == "bnfix: priming the cache" and end.message == "done"
        assert middle[-1].message == "2/2 files" and middle[-1].percentage == 100
        assert (_primed(model), _primed(other)) == (["BNF201", "BNF103", "BNF202"], ["BNF201"])
        # Never opened before, yet published twice for its first version: at once from the cache, then checked.
        uri = _open(client, model, MODEL)
        await _until(lambda: len([params for params in client.published if params.uri == uri]) == 2)
        cached, checked = [params for params in client.published if params.uri == uri]
        assert cached.version == checked.version == 1
        assert [(d.code, d.range) for d in cached.diagnostics] == [(d.code, d.range) for d in checked.diagnostics]
        # New settings are a new key: the workspace is primed again for them.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnfix": {"select": ["BNF2"]}}))
        await _until(lambda: _priming_runs_ended(client) == 2)
        assert _primed(other, {"select": ("BNF2",)}) == ["BNF201"]
    finally:
        await client.shutdown_session()
        await client.stop()


@over_stdio
async def test_a_workspace_folder_added_later_is_primed_and_a_removed_one_is_not(tmp_path: Path) -> None:
    first, added, removed = (tmp_path / name for name in ("first", "added", "removed"))
    projects = {folder: _cached_project(folder) for folder in (first, added, removed) if folder.mkdir() is None}
    client = await _start(first, capabilities=PROGRESS_CAPABILITIES, folders=[first, removed])
    try:
        await _until(lambda: _priming_runs_ended(client) == 1)
        (removed / "new.py").write_text(SAFE_ONLY, encoding="utf-8")  # saved after that run: only a new run sees it
        assert _primed(projects[added][0]) is None
        event = types.WorkspaceFoldersChangeEvent(
            added=[types.WorkspaceFolder(added.as_uri(), "added")], removed=[types.WorkspaceFolder(removed.as_uri(), "removed")]
        )
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(event))
        await _until(lambda: _priming_runs_ended(client) == 2)
        assert [_primed(path) for path in projects[added]] == [["BNF201", "BNF103", "BNF202"], ["BNF201"]]
        assert _primed(removed / "new.py") is None
        assert list(client.progress_reports.values())[-1][-2].message == "4/4 files"  # first's two again, and added's
    finally:
        await client.shutdown_session()
        await client.stop()


@over_stdio
async def test_with_cache_priming_off_a_file_is_checked_only_once_opened(tmp_path: Path) -> None:
    model, other = _cached_project(tmp_path)
    client = await _start(tmp_path, options={"cachePriming": False}, capabilities=PROGRESS_CAPABILITIES)
    try:
        uri = _open(client, model, MODEL)
        assert [d.code for d in await _diagnostics(client, uri, 1)] == ["BNF201", "BNF103", "BNF202"]
        await asyncio.sleep(1.0)
        assert len([params for params in client.published if params.uri == uri]) == 1  # no cached result to show
        assert client.progress_reports == {} and _primed(other) is None
        assert _primed(model) == ["BNF201", "BNF103", "BNF202"]  # what the open found is stored, as always
    finally:
        await client.shutdown_session()
        await client.stop()


_NEEDS_PROC = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the priming process through /proc (Linux)")


async def _priming_a_large_workspace(root: Path) -> LanguageClient:
    """A server started on a workspace of 600 files, once its priming child has begun on them."""
    _cached_project(root)
    for index in range(600):
        (root / f"copy_{index}.py").write_text(MODEL.replace("64", str(index + 1)), encoding="utf-8")
    client = await _start(root, capabilities=PROGRESS_CAPABILITIES)
    await _until(lambda: any(len(reports) > 1 for reports in client.progress_reports.values()))
    assert _priming_processes(root)
    return client


def _primed_files(root: Path) -> int:
    return len([entry for entry in (root / ".bnfix_cache").rglob("*") if entry.is_file()])


@over_stdio
@_NEEDS_PROC
async def test_shutdown_stops_cache_priming(tmp_path: Path) -> None:
    client = await _priming_a_large_workspace(tmp_path)
    try:
        await client.shutdown_async(None)  # the request alone: the server process is still there
        await _until(lambda: not _priming_processes(tmp_path), timeout=10)
        assert _primed_files(tmp_path) < 600  # stopped half way, not run to the end
        assert client._server.returncode is None
    finally:
        client.exit(None)
        await client.stop()


@over_stdio
@_NEEDS_PROC
async def test_a_server_killed_without_shutdown_leaves_no_process_behind(tmp_path: Path) -> None:
    client = await _priming_a_large_workspace(tmp_path)
    client._server.kill()
    await _until(lambda: not _priming_processes(tmp_path), timeout=10)
    assert _primed_files(tmp_path) < 600
    # The analysis worker ends too (bnfix.server.parent_watch): it shares the server's stdout, and while it lived
    # the client never saw that pipe close.
    await asyncio.wait_for(client.stop(), 20)


@over_stdio
async def test_report_only_findings_are_information(server: LanguageClient, tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        from tensorflow import keras
        from tensorflow.keras import layers
        model = keras.Sequential([layers.Dense(8), layers.Activation("relu"), layers.BatchNormalization()])
        model.fit(x, y, batch_size=4)
        """
    )
    uri = _open(server, tmp_path / "tiny.py", text)
    diagnostics = await _diagnostics(server, uri, 1)
    assert [(d.code, d.severity) for d in diagnostics] == [("BNF204", types.DiagnosticSeverity.Information)]


@over_stdio
async def test_columns_are_utf16_code_units(server: LanguageClient, tmp_path: Path) -> None:
    text = 'from tensorflow.keras import layers\nbn = (layers.Dense(1), "\U0001f600", layers.BatchNormalization(eps=1e-3))\n'
    uri = _open(server, tmp_path / "emoji.py", text)
    (diagnostic,) = await _diagnostics(server, uri, 1)
    prefix = text.splitlines()[1].split("eps")[0]
    assert diagnostic.range.start == types.Position(1, len(prefix.encode("utf-16-le")) // 2)
    assert len(prefix) + 1 == diagnostic.range.start.character  # the emoji is two UTF-16 units, one code point


@over_stdio
async def test_did_change_publishes_updated_diagnostics(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    assert len(await _diagnostics(server, uri, 1)) == 3
    # An incremental edit, as editors send: `momentum=0.1` -> `momentum=0.9` on line 8.
    column = MODEL.splitlines()[7].index("0.1")
    change = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(7, column), types.Position(7, column + 3)), text="0.9"
    )
    server.text_document_did_change(types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=2), [change]))
    assert [d.code for d in await _diagnostics(server, uri, 2)] == ["BNF201", "BNF103"]


@over_stdio
async def test_fast_typing_is_debounced_and_only_the_last_version_is_published(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    for version in range(2, 12):  # ten keystrokes, each a full-text change
        text = MODEL.replace("momentum=0.1", f"momentum=0.1{version}")
        params = types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version), [types.TextDocumentContentChangeWholeDocument(text)]
        )
        server.text_document_did_change(params)
    final = await _diagnostics(server, uri, 11)
    assert [d.code for d in final] == ["BNF201", "BNF103", "BNF202"]
    assert "momentum=0.111" in final[2].message
    versions = [params.version for params in server.published if params.uri == uri]
    assert versions[0] == 1 and versions[-1] == 11
    assert len(versions) < 6, versions  # not one analysis per keystroke


@over_stdio
async def test_save_rechecks(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    before = len(server.published)
    server.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert [d.code for d in await _next_publish(server, uri, before)] == ["BNF201", "BNF103", "BNF202"]


@over_stdio
async def test_a_file_that_does_not_parse_gives_exactly_one_error(server: LanguageClient, tmp_path: Path) -> None:
    text = MODEL + "def broken(:\n    pass\n"
    uri = _open(server, tmp_path / "broken.py", text)
    (diagnostic,) = await _diagnostics(server, uri, 1)
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.source == "bnfix"
    assert (diagnostic.range.start.line, diagnostic.message) == (9, "syntax error: invalid syntax")
    # The server lives on: fixing the typo brings the findings back.
    params = types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2), [types.TextDocumentContentChangeWholeDocument(MODEL)]
    )
    server.text_document_did_change(params)
    assert [d.code for d in await _diagnostics(server, uri, 2)] == ["BNF201", "BNF103", "BNF202"]


@over_stdio
async def test_documents_that_are_not_python_are_skipped(server: LanguageClient, tmp_path: Path) -> None:
    notebook_json = json.dumps({"cells": [{"cell_type": "code", "source": MODEL, "metadata": {}, "outputs": []}]})
    _open(server, tmp_path / "nb.ipynb", notebook_json, language="json")  # a client without notebook support
    _open(server, tmp_path / "notes.md", MODEL, language="markdown")
    uri = _open(server, tmp_path / "model.py", MODEL)
    assert len(await _diagnostics(server, uri, 1)) == 3  # answered after the two documents before it
    skipped = {(tmp_path / "nb.ipynb").as_uri(), (tmp_path / "notes.md").as_uri()}
    assert [params.uri for params in server.published if params.uri in skipped] == []


@over_stdio
async def test_close_clears_the_diagnostics(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    server.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    await _until(lambda: server.published[-1].uri == uri and not server.published[-1].diagnostics)


# -- code actions ---------------------------------------------------------------------------------------------


@over_stdio
async def test_safe_quick_fix_equals_bnfix_apply(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", SAFE_ONLY)
    (diagnostic,) = await _diagnostics(server, uri, 1)
    cursor_elsewhere = diagnostic.range.start.line + 2
    actions = await _code_actions(server, uri, cursor_elsewhere, diagnostics=[diagnostic])
    quick = [a for a in actions if a.kind == "quickfix"]
    assert [(a.title, a.is_preferred) for a in quick] == [("BNF201: Rename `eps=1e-3` to `epsilon=1e-3`", True)]
    assert quick[0].diagnostics[0].code == "BNF201"
    fixed = _apply_edits(SAFE_ONLY, quick[0].edit.changes[uri])
    assert fixed == _bnfix_apply(tmp_path / "copied_model.py", SAFE_ONLY)
    assert fixed == SAFE_ONLY.replace("eps=1e-3", "epsilon=1e-3")


@over_stdio
async def test_unsafe_quick_fixes_are_labelled_and_not_preferred(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    actions = [a for a in await _code_actions(server, uri, 7, only=["quickfix"])]
    assert [(a.title, a.is_preferred) for a in actions] == [("BNF202: Set momentum=0.9 (1 - 0.1) (unsafe)", False)]
    assert _apply_edits(MODEL, actions[0].edit.changes[uri]) == MODEL.replace("momentum=0.1", "momentum=0.9")


@over_stdio
async def test_fix_all_is_a_source_action_that_equals_bnfix_apply(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    (action,) = await _code_actions(server, uri, 0, only=["source.fixAll"])
    assert (action.title, action.kind) == ("bnfix: fix all", "source.fixAll.bnfix")
    fixed = _apply_edits(MODEL, action.edit.changes[uri])
    assert fixed == _bnfix_apply(tmp_path / "copied_model.py", MODEL)
    assert fixed == MODEL.replace("eps=1e-3", "epsilon=1e-3")  # safe fixes only, as `bnfix apply`


@over_stdio
async def test_fix_all_with_unsafe_fixes_setting_equals_apply_unsafe_fixes(tmp_path: Path) -> None:
    client = await _start(tmp_path, options={"unsafeFixes": True})
    try:
        uri = _open(client, tmp_path / "model.py", MODEL)
        await _diagnostics(client, uri, 1)
        (action,) = await _code_actions(client, uri, 0, only=["source"])
        assert action.title == "bnfix: fix all (including unsafe fixes)"
        fixed = _apply_edits(MODEL, action.edit.changes[uri])
        assert fixed == _bnfix_apply(tmp_path / "copied_model.py", MODEL, "--unsafe-fixes")
        assert "use_bias=False" in fixed and "momentum=0.9" in fixed
    finally:
        await client.shutdown_session()
        await client.stop()


@over_stdio
async def test_clients_that_resolve_get_the_edit_only_for_the_action_they_pick(tmp_path: Path) -> None:
    literal = CAPABILITIES.text_document.code_action.code_action_literal_support
    resolving = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=literal, resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"])
            )
        )
    )
    client = await _start(tmp_path, capabilities=resolving)
    try:
        assert client.initialize_result.capabilities.code_action_provider.resolve_provider is True
        uri = _open(client, tmp_path / "model.py", MODEL)
        await _diagnostics(client, uri, 1)
        listed = await _code_actions(client, uri, 5)
        assert [(a.title, a.edit) for a in listed] == [
            ("BNF201: Rename `eps=1e-3` to `epsilon=1e-3`", None),
            ("bnfix: fix all", None),
        ]
        resolved = await client.code_action_resolve_async(listed[1])
        assert _apply_edits(MODEL, resolved.edit.changes[uri]) == _bnfix_apply(tmp_path / "copied_model.py", MODEL)
        # Listed for version 1, picked after an edit: no edit rather than a stale one.
        params = types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=2), [types.TextDocumentContentChangeWholeDocument(SAFE_ONLY)]
        )
        client.text_document_did_change(params)
        assert (await client.code_action_resolve_async(listed[0])).edit is None
    finally:
        await client.shutdown_session()
        await client.stop()


@over_stdio
async def test_no_actions_where_nothing_is_fixable(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", SAFE_ONLY.replace("eps=", "epsilon="))
    assert await _diagnostics(server, uri, 1) == []
    assert await _code_actions(server, uri, 5) == []


@over_stdio
async def test_hover_shows_the_rule_documentation(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    hover = await server.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(7, 32)))
    assert hover.contents.value.startswith("**BNF202**")
    assert "## Fix safety" in hover.contents.value


# -- settings -------------------------------------------------------------------------------------------------


@over_stdio
async def test_initialization_options_select_rules(tmp_path: Path) -> None:
    client = await _start(tmp_path, options={"select": ["BNF2"]})
    try:
        uri = _open(client, tmp_path / "model.py", MODEL)
        assert [d.code for d in await _diagnostics(client, uri, 1)] == ["BNF201", "BNF202"]
    finally:
        await client.shutdown_session()
        await client.stop()


@over_stdio
async def test_configuration_change_changes_the_diagnostics(server: LanguageClient, tmp_path: Path) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    before = len(server.published)
    server.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnfix": {"ignore": ["BNF1", "BNF202"]}}))
    try:
        assert [d.code for d in await _next_publish(server, uri, before)] == ["BNF201"]
    finally:
        _reset_settings(server)


@over_stdio
async def test_configuration_is_pulled_when_the_notification_carries_none(server: LanguageClient, tmp_path: Path) -> None:
    server.set_configuration({"policy": "keep", "select": ["BNF202"]}, section="bnfix")
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    before = len(server.published)
    server.workspace_did_change_configuration(types.DidChangeConfigurationParams(None))
    try:
        assert [d.code for d in await _next_publish(server, uri, before)] == ["BNF202"]
    finally:
        _reset_settings(server)


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"policy": "sideways"}, "policy must be one of post, pre, keep, not 'sideways'"),
        ({"select": ["BNF999"]}, "bnfix setting select: unknown rule code or prefix 'BNF999'; valid codes: BNF101,"),
        ({"unsafeFixes": "no"}, "unsafeFixes must be true or false, not 'no'"),
        ({"colour": "red"}, "unknown bnfix setting(s): colour"),
        ({"docsUrl": "https://example.org/rules/"}, "docsUrl: docs-url 'https://example.org/rules/' must contain {code}"),
    ],
)
@over_stdio
async def test_bad_settings_are_shown_and_the_old_ones_kept(server: LanguageClient, tmp_path: Path, settings, error) -> None:
    uri = _open(server, tmp_path / "model.py", MODEL)
    await _diagnostics(server, uri, 1)
    shown = len(server.messages)
    server.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnfix": settings}))
    await _until(lambda: len(server.messages) > shown)
    (message,) = server.messages[shown:]
    assert message.type == types.MessageType.Error
    assert error in message.message and "settings not changed" in message.message
    # Still serving, with the settings it had.
    server.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    actions = await _code_actions(server, uri, 0, only=["source.fixAll"])
    assert [a.title for a in actions] == ["bnfix: fix all"]
    assert [d.code for d in server.diagnostics[uri]] == ["BNF201", "BNF103", "BNF202"]


@over_stdio
async def test_bad_initialization_options_do_not_stop_the_server(tmp_path: Path) -> None:
    client = await _start(tmp_path, options={"policy": 3})
    try:
        uri = _open(client, tmp_path / "model.py", MODEL)
        assert len(await _diagnostics(client, uri, 1)) == 3
        assert [m.type for m in client.messages] == [types.MessageType.Error]
        assert "policy must be a string" in client.messages[0].message
    finally:
        await client.shutdown_session()
        await client.stop()


@over_stdio
async def test_nearest_pyproject_applies_and_client_settings_override_it(server: LanguageClient, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.bnfix]\nignore = ["BNF103", "BNF202"]\n', encoding="utf-8")
    uri = _open(server, project / "src" / "model.py", MODEL)
    assert [d.code for d in await _diagnostics(server, uri, 1)] == ["BNF201"]
    before = len(server.published)
    # As on the command line: a select given over the file's starts over (the file's ignores go with it).
    server.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnfix": {"select": ["BNF2"]}}))
    try:
        assert [d.code for d in await _next_publish(server, uri, before)] == ["BNF201", "BNF202"]
    finally:
        _reset_settings(server)


@over_stdio
async def test_docs_url_from_pyproject_and_from_the_client_setting_the_links(server: LanguageClient, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.bnfix]\ndocs-url = "https://example.org/bnfix/{code}.html"\n')
    uri = _open(server, project / "model.py", MODEL)
    hrefs = [d.code_description.href for d in await _diagnostics(server, uri, 1)]
    assert hrefs == [f"https://example.org/bnfix/{code}.html" for code in ("BNF201", "BNF103", "BNF202")]
    before = len(server.published)
    template = "https://docs.example.com/rules/{code}-{name}"  # the editor's setting wins, as a flag does
    server.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnfix": {"docsUrl": template}}))
    try:
        hrefs = [d.code_description.href for d in await _next_publish(server, uri, before)]
        names = ("BNF201-unknown-bn-argument", "BNF103-redundant-bias", "BNF202-pytorch-momentum")
        assert hrefs == [f"https://docs.example.com/rules/{name}" for name in names]
    finally:
        _reset_settings(server)


@over_stdio
async def test_a_broken_pyproject_is_shown_and_the_file_still_checked(server: LanguageClient, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.bnfix]\npolicy = "sideways"\n', encoding="utf-8")
    shown = len(server.messages)
    uri = _open(server, project / "model.py", MODEL)
    assert len(await _diagnostics(server, uri, 1)) == 3
    await _until(lambda: len(server.messages) > shown)
    (message,) = server.messages[shown:]
    assert message.type == types.MessageType.Error
    assert message.message.startswith(f"bnfix: {project / 'pyproject.toml'}: [tool.bnfix]")
    assert "policy must be one of post, pre, keep, not 'sideways'" in message.message


# -- notebooks ------------------------------------------------------------------------------------------------

NOTEBOOK_CELLS = [
    ("code", "from tensorflow import keras\nfrom tensorflow.keras import layers"),
    ("markdown", "# The model"),
    ("code", 'model = keras.Sequential([\n    layers.Dense(64, activation="relu"),\n    layers.BatchNormalization(eps=1e-3),\n])'),
]


def _open_notebook(client: LanguageClient, path: Path) -> tuple[str, list[str]]:
    uri = path.as_uri()
    cells, documents, cell_uris = [], [], []
    for index, (kind, source) in enumerate(NOTEBOOK_CELLS):
        cell_uri = f"vscode-notebook-cell:{path}#cell{index}"
        cell_uris.append(cell_uri)
        is_code = kind == "code"
        cells.append(types.NotebookCell(types.NotebookCellKind.Code if is_code else types.NotebookCellKind.Markup, cell_uri))
        documents.append(types.TextDocumentItem(cell_uri, "python" if is_code else "markdown", 1, source))
    notebook = types.NotebookDocument(uri, "jupyter-notebook", 1, cells)
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(notebook, documents))
    return uri, cell_uris


def _notebook_file(path: Path) -> Path:
    cells = [
        {"cell_type": kind, "metadata": {}, "source": source, **({"outputs": [], "execution_count": None} if kind == "code" else {})}
        for kind, source in NOTEBOOK_CELLS
    ]
    document = {"cells": cells, "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


@over_stdio
async def test_notebook_cells_get_their_own_diagnostics(server: LanguageClient, tmp_path: Path) -> None:
    _, cell_uris = _open_notebook(server, tmp_path / "nb.ipynb")
    (diagnostic,) = await _diagnostics(server, cell_uris[2])
    assert (diagnostic.code, diagnostic.range.start.line, diagnostic.range.start.character) == ("BNF201", 2, 30)
    assert await _diagnostics(server, cell_uris[0]) == []


@over_stdio
async def test_notebook_fix_all_edits_the_cell_as_bnfix_apply_edits_the_file(server: LanguageClient, tmp_path: Path) -> None:
    _, cell_uris = _open_notebook(server, tmp_path / "nb.ipynb")
    await _diagnostics(server, cell_uris[2])
    (action,) = await _code_actions(server, cell_uris[2], 0, only=["source.fixAll.bnfix"])
    assert list(action.edit.changes) == [cell_uris[2]]
    fixed_cell = _apply_edits(NOTEBOOK_CELLS[2][1], action.edit.changes[cell_uris[2]])
    applied = _notebook_file(tmp_path / "copied.ipynb")
    subprocess.run([sys.executable, "-m", "bnfix", "apply", "-q", str(applied)], env=SERVER_ENV, cwd=ROOT, check=False)
    written = json.loads(applied.read_text(encoding="utf-8"))["cells"][2]["source"]
    assert fixed_cell == "".join(written)
    assert fixed_cell == NOTEBOOK_CELLS[2][1].replace("eps=", "epsilon=")


@over_stdio
async def test_notebook_quick_fix_and_cell_edit(server: LanguageClient, tmp_path: Path) -> None:
    uri, cell_uris = _open_notebook(server, tmp_path / "nb.ipynb")
    await _diagnostics(server, cell_uris[2])
    (action,) = await _code_actions(server, cell_uris[2], 2, only=["quickfix"])
    assert action.title == "BNF201: Rename `eps=1e-3` to `epsilon=1e-3`"
    # The user types the fix by hand in the cell instead: the notebook is re-checked and the finding goes.
    change = types.NotebookDocumentChangeEvent(
        cells=types.NotebookDocumentCellChanges(
            text_content=[
                types.NotebookDocumentCellContentChanges(
                    types.VersionedTextDocumentIdentifier(uri=cell_uris[2], version=2),
                    [types.TextDocumentContentChangePartial(types.Range(types.Position(2, 30), types.Position(2, 33)), "epsilon")],
                )
            ]
        )
    )
    server.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(types.VersionedNotebookDocumentIdentifier(uri=uri, version=2), change)
    )
    assert await _diagnostics(server, cell_uris[2], 2) == []


# -- the pieces under the protocol ----------------------------------------------------------------------------


def test_fix_one_applies_only_the_chosen_finding_unsafe_included() -> None:
    from bnfix.engine import check_source, fix_one
    from bnfix.settings import Settings

    findings = {d.code: d for d in check_source(MODEL, Settings()).diagnostics}
    momentum = findings["BNF202"]
    assert fix_one(MODEL, Settings(), "BNF202", momentum.line, momentum.column) == MODEL.replace("momentum=0.1", "momentum=0.9")
    assert fix_one(MODEL, Settings(), "BNF202", momentum.line, momentum.column + 1) is None  # no finding there


def test_minimal_edit_replaces_only_the_changed_lines() -> None:
    from bnfix.server.lsp_types import minimal_edit
    from bnfix.server.targets import split_lines

    assert minimal_edit(split_lines("a\r\nb\r\nc"), split_lines("a\r\nB\r\nc")) == ((1, 0), (2, 0), "B\r\n")
    assert minimal_edit(split_lines("a\nb"), split_lines("a\nbb")) == ((1, 0), (1, 1), "bb")  # no final newline
    assert minimal_edit(split_lines("x = 1\n"), split_lines("import y\nx = 1\n")) == ((0, 0), (0, 0), "import y\n")
    # LSP ends lines at \n, \r\n and \r only; str.splitlines would also split at \f and \u2028.
    assert split_lines("a\fb\u2028c\rd") == ["a\fb\u2028c\r", "d"]


@over_stdio
async def test_a_cell_added_to_a_notebook_is_checked_with_the_others(server: LanguageClient, tmp_path: Path) -> None:
    uri, cell_uris = _open_notebook(server, tmp_path / "nb.ipynb")
    await _diagnostics(server, cell_uris[2])
    new_cell = f"vscode-notebook-cell:{tmp_path / 'nb.ipynb'}#cell3"
    source = "bn = layers.BatchNormalization(momentum=0.1)"  # uses the import of cell 1
    change = types.NotebookDocumentChangeEvent(
        cells=types.NotebookDocumentCellChanges(
            structure=types.NotebookDocumentCellChangeStructure(
                array=types.NotebookCellArrayChange(
                    start=3, delete_count=0, cells=[types.NotebookCell(types.NotebookCellKind.Code, new_cell)]
                ),
                did_open=[types.TextDocumentItem(new_cell, "python", 1, source)],
            )
        )
    )
    server.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(types.VersionedNotebookDocumentIdentifier(uri=uri, version=2), change)
    )
    (diagnostic,) = await _diagnostics(server, new_cell)
    assert (diagnostic.code, diagnostic.range.start.line, diagnostic.range.start.character) == ("BNF202", 0, 31)
    # Deleting the cell takes its diagnostics with it.
    removal = types.NotebookDocumentChangeEvent(
        cells=types.NotebookDocumentCellChanges(
            structure=types.NotebookDocumentCellChangeStructure(
                array=types.NotebookCellArrayChange(start=3, delete_count=1),
                did_close=[types.TextDocumentIdentifier(new_cell)],
            )
        )
    )
    server.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(types.VersionedNotebookDocumentIdentifier(uri=uri, version=3), removal)
    )
    await _until(lambda: not [p for p in server.published if p.uri == new_cell][-1].diagnostics)


def test_a_crashed_worker_is_reported_and_replaced() -> None:
    """A crash in native code (libcst's parser) kills the analysis process, not the server."""
    import operator

    from bnfix.server.scheduler import Scheduler, WorkerCrashed

    async def crash_then_work() -> int:
        scheduler = Scheduler()
        try:
            with pytest.raises(WorkerCrashed, match="died on this file and was restarted"):
                await scheduler.run(os._exit, 3)
            return await scheduler.run(operator.add, 2, 3)
        finally:
            scheduler.shutdown()

    assert asyncio.run(crash_then_work()) == 5
