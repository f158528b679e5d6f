"""The pygls language server: document events in, diagnostics and code actions out.

Handlers only take snapshots and hand work to the scheduler; the engine never runs on the event loop. Every
result is tied to the version it was computed for and dropped when the document has moved on.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from bnfix import __version__
from bnfix.fixes.safety import FixSafety
from bnfix.rules import rule_by_code
from bnfix.server import documents
from bnfix.server.analysis import Analysis, Finding, FixError, Place, Problem, analyse_with_client_settings, fix_all, fix_finding
from bnfix.server.cache_priming import PrimingRun
from bnfix.server.client_settings import CACHE_PRIMING, SECTION, ClientSettingsError, parse_client_settings
from bnfix.server.lsp_types import (
    FIX_ALL_KIND,
    SOURCE,
    finding_diagnostic,
    fix_all_action,
    minimal_edit,
    problem_diagnostic,
    quick_fix,
)
from bnfix.server.scheduler import CHANGE_DELAY, Scheduler, WorkerCrashed
from bnfix.server.targets import Target, split_lines
from bnfix.settings import Settings

logger = logging.getLogger(__name__)
FIX_ALL = "all"  # which fix an action applies: this, or the index of a finding

NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language=documents.PYTHON)]
        )
    ],
    save=True,
)


class BnfixLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "bnfix",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=NOTEBOOK_SYNC,
        )
        self.scheduler = Scheduler()
        self.overrides: dict[str, Any] = {}  # the client's settings, validated
        self.raw_settings: Any = None  # as the client sent them (the priming child validates them again)
        self.cache_priming = True
        self.priming: PrimingRun | None = None
        self.analyses: dict[str, tuple[documents.Version, Analysis]] = {}
        # (target key, id of the analysis, which fix) -> (that analysis, kept so its id stays unique; new texts)
        self.fix_cache: dict[tuple, tuple[Analysis, dict[str, str]]] = {}
        self.shown_config_errors: set[str] = set()

    # -- analysis --------------------------------------------------------------------------------------------

    def request_check(self, key: str, delay: float = 0.0, use_cache: bool = False) -> None:
        self.scheduler.schedule(key, delay, lambda: self.check(key, use_cache))

    async def check(self, key: str, use_cache: bool = False) -> Analysis | None:
        """Analyse the target's current texts in the worker; publish unless the target changed meanwhile.

        `use_cache` (a document just opened or saved): what the project's result cache holds for this very text is
        published at once, and a real check follows, so that the worker has the document parsed for its fixes and
        edits; a new result is stored there.
        """
        built = documents.build_target(self.workspace, key)
        if built is None:
            return None
        target, version = built
        try:
            analysis, config_error = await self.scheduler.run(analyse_with_client_settings, target, self.overrides, use_cache)
        except WorkerCrashed as error:
            uri = next(iter(target.texts), key)
            analysis, config_error = Analysis(target, Settings(), problem=Problem(uri, (0, 0), (0, 0), str(error))), None
        if config_error is not None and config_error not in self.shown_config_errors:
            self.shown_config_errors.add(config_error)
            self.show_error(f"bnfix: {config_error}")
        if documents.current_version(self.workspace, key) != version:
            return None  # stale: a newer check is scheduled
        self.analyses[key] = (version, analysis)
        self.publish(key, analysis)
        if analysis.from_cache and self.scheduler.pending(key) in (None, asyncio.current_task()):
            # Once this task is done (scheduling now would cancel it): nothing newer is pending for the document.
            asyncio.get_running_loop().call_soon(self.request_check, key)
        return analysis

    async def current_analysis(self, key: str) -> Analysis | None:
        """The analysis of exactly what the editor shows now; None if the document changes before it is ready.

        A request that comes in while a check is pending waits for that check (it does not start its own, which
        would defeat the debounce: editors ask for code actions after every keystroke).
        """
        if self.scheduler.pending(key) is None and not self._is_current(key):
            self.request_check(key)
        task = self.scheduler.pending(key)
        if task is not None:
            await asyncio.wait({task})  # if this request is cancelled, the check itself goes on
        return self.analyses[key][1] if self._is_current(key) else None

    def _is_current(self, key: str) -> bool:
        cached = self.analyses.get(key)
        return cached is not None and cached[0] == documents.current_version(self.workspace, key)

    def publish(self, key: str, analysis: Analysis) -> None:
        by_uri: dict[str, list[types.Diagnostic]] = {uri: [] for uri in documents.document_uris(self.workspace, key)}
        for finding in analysis.findings:
            by_uri.setdefault(finding.uri, []).append(self.finding_diagnostic(analysis, finding))
        if analysis.problem is not None:
            problem = analysis.problem
            by_uri.setdefault(problem.uri, []).append(problem_diagnostic(problem, self.client_range(analysis.target, problem)))
        for uri, diagnostics in by_uri.items():
            version = self.workspace.text_documents[uri].version if uri in self.workspace.text_documents else None
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, diagnostics, version))

    def clear(self, key: str, uris: list[str]) -> None:
        self.scheduler.cancel(key)
        self.analyses.pop(key, None)
        for uri in uris:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))

    def recheck_all(self) -> None:
        self.analyses.clear()
        self.fix_cache.clear()
        for key in documents.open_keys(self.workspace):
            self.request_check(key)

    # -- code actions ----------------------------------------------------------------------------------------

    async def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        key = documents.target_key(self.workspace, uri)
        analysis = None if key is None else await self.current_analysis(key)
        if analysis is None:
            return None
        only = params.context.only
        wanted: list[tuple[object, Finding | None]] = []
        if _wanted(only, types.CodeActionKind.QuickFix):
            wanted += self.findings_asked_for(analysis, uri, params)
        if _wanted(only, FIX_ALL_KIND) and any(_applies(finding, analysis) for finding in analysis.findings):
            wanted.append((FIX_ALL, None))
        if self.client_resolves_edits():
            # Computing a fix costs about as much as a check: leave it to codeAction/resolve, for the one picked.
            version = documents.current_version(self.workspace, key)
            return [self.action(analysis, which, finding, None, [key, list(version), which]) for which, finding in wanted]
        actions = []
        for which, finding in wanted:
            edit = await self.fix_edit(key, analysis, which)
            if edit is not None:
                actions.append(self.action(analysis, which, finding, edit))
        return actions

    async def resolve_code_action(self, action: types.CodeAction) -> types.CodeAction:
        """Fill in the edit of an action listed without one; an action for an older version stays without edit."""
        key, version, which = action.data
        analysis = await self.current_analysis(key)
        if analysis is not None and list(documents.current_version(self.workspace, key)) == version:
            action.edit = await self.fix_edit(key, analysis, which)
        return action

    def action(self, analysis: Analysis, which: object, finding: Finding | None, edit, data=None) -> types.CodeAction:
        if finding is None:
            return fix_all_action(edit, analysis.settings.unsafe_fixes, data)
        return quick_fix(finding, self.finding_diagnostic(analysis, finding), edit, data)

    async def fix_edit(self, key: str, analysis: Analysis, which: object) -> types.WorkspaceEdit | None:
        """The edit of "fix all" (`which` is FIX_ALL) or of one finding's fix (`which` is its index)."""
        target, settings = analysis.target, analysis.settings
        if which == FIX_ALL:
            texts = await self.fixed_texts(key, analysis, which, fix_all, target, settings)
        else:
            texts = await self.fixed_texts(key, analysis, which, fix_finding, target, settings, analysis.findings[which])
        return self.workspace_edit(target, texts) if texts else None

    def client_resolves_edits(self) -> bool:
        text_document = self.client_capabilities.text_document
        code_action = text_document.code_action if text_document else None
        support = code_action.resolve_support if code_action else None
        return support is not None and "edit" in support.properties

    def findings_asked_for(self, analysis: Analysis, uri: str, params: types.CodeActionParams) -> list[tuple[object, Finding | None]]:
        """The fixable findings the request is about: those the client names (VS Code sends the diagnostics under
        the cursor) and those in the requested range (for clients that name none)."""
        wanted_range = self.server_range(analysis.target, uri, params.range)
        named = {(d.code, d.range.start.line, d.range.start.character) for d in params.context.diagnostics if d.source == SOURCE}
        asked = []
        for index, finding in enumerate(analysis.findings):
            if finding.uri != uri or not finding.diagnostic.fixable:
                continue
            start = self.client_range(analysis.target, finding).start
            if (finding.diagnostic.code, start.line, start.character) in named or _overlaps((finding.start, finding.end), wanted_range):
                asked.append((index, finding))
        return asked

    async def fixed_texts(self, key: str, analysis: Analysis, which: object, fix: Callable[..., dict[str, str]], *args) -> dict[str, str]:
        """A fix's new texts, computed once per analysed version (editors ask for code actions at every cursor move)."""
        cache_key = (key, id(analysis), which)
        if cache_key not in self.fix_cache:
            if len(self.fix_cache) > 256:
                self.fix_cache.clear()
            try:
                texts = await self.scheduler.run(fix, *args)
            except (FixError, WorkerCrashed) as error:
                self.show_error(f"bnfix: {error}")
                texts = {}
            self.fix_cache[cache_key] = (analysis, texts)
        return self.fix_cache[cache_key][1]

    def workspace_edit(self, target: Target, texts: dict[str, str]) -> types.WorkspaceEdit:
        changes = {}
        for uri, new_text in texts.items():
            start, end, replacement = minimal_edit(target.lines(uri), split_lines(new_text))
            changes[uri] = [types.TextEdit(self._to_client(target.lines(uri), start, end), replacement)]
        return types.WorkspaceEdit(changes=changes)

    # -- hover: a finding's rule documentation, as `bnfix explain` prints it ------------------------------------

    async def hover(self, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        key = documents.target_key(self.workspace, uri)
        analysis = None if key is None else await self.current_analysis(key)
        if analysis is None:
            return None
        point = self.server_range(analysis.target, uri, types.Range(params.position, params.position))
        for finding in analysis.findings:
            rule = rule_by_code(finding.diagnostic.code)
            if finding.uri == uri and rule is not None and _overlaps((finding.start, finding.end), point):
                text = f"**{rule.code}** ({rule.name}): {rule.summary}.\n\n{rule.documentation()}"
                return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text))
        return None

    # -- settings --------------------------------------------------------------------------------------------

    def use_client_settings(self, raw: Any) -> bool:
        """Validate and adopt the client's settings; a bad value is shown and the previous settings are kept."""
        try:
            overrides = parse_client_settings(raw)
        except ClientSettingsError as error:
            self.show_error(f"bnfix: {error} (settings not changed)")
            return False
        self.cache_priming = overrides.pop(CACHE_PRIMING, True)
        self.overrides, self.raw_settings = overrides, raw
        self.shown_config_errors.clear()
        return True

    # -- cache priming: the workspace's saved files checked in the background (bnfix.server.cache_priming) --

    def start_priming(self) -> None:
        """Prime the workspace's project caches with the current settings (a run under older settings stops)."""
        self.stop_priming()
        folders = self.workspace_folders()
        if not self.cache_priming or not folders:
            return
        run = self.priming = PrimingRun(folders, self.raw_settings)
        asyncio.ensure_future(self._prime(run))

    def stop_priming(self) -> None:
        if self.priming is not None:
            self.priming.stop()
            self.priming = None

    def workspace_folders(self) -> list[Path]:
        """The workspace's folders on disk (the root, for a client that names no folders)."""
        from pygls.uris import to_fs_path

        uris = [folder.uri for folder in self.workspace.folders.values()]
        if not uris and self.workspace.root_uri:
            uris = [self.workspace.root_uri]
        paths = [Path(path) for path in map(to_fs_path, uris) if path]
        return [path for path in paths if path.is_dir()]

    async def _prime(self, run: PrimingRun) -> None:
        """Run the priming child, shown as work-done progress where the client supports it."""
        progress = _PrimingProgress(self) if self._client_shows_progress() else None
        if progress is not None:
            run.on_progress = progress.report
            await progress.begin()
        try:
            status = await run.run()
        except OSError as error:
            logger.error("bnfix: cache priming could not start: %s", error)
            status = None
        if progress is not None:
            progress.end("stopped" if run.stopped else "done" if status == 0 else "failed")
        if status not in (0, None) and not run.stopped:
            logger.error("bnfix: cache priming ended with status %s", status)

    def _client_shows_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window is not None and window.work_done_progress)

    async def pull_client_settings(self) -> Any:
        """workspace/configuration, for clients that announce a change without sending the settings."""
        capabilities = self.client_capabilities.workspace
        if capabilities is None or not capabilities.configuration:
            return None
        result = await self.workspace_configuration_async(types.ConfigurationParams([types.ConfigurationItem(section=SECTION)]))
        return result[0] if result else None

    def show_error(self, message: str) -> None:
        logger.error(message)
        self.window_show_message(types.ShowMessageParams(types.MessageType.Error, message))

    # -- positions: code points inside, the client's encoding outside ---------------------------------------

    def finding_diagnostic(self, analysis: Analysis, finding: Finding) -> types.Diagnostic:
        where = self.client_range(analysis.target, finding)
        return finding_diagnostic(finding, where, analysis.settings.docs_url)

    def client_range(self, target: Target, located: Finding | Problem) -> types.Range:
        return self._to_client(target.lines(located.uri), located.start, located.end)

    def _to_client(self, lines: list[str], start: Place, end: Place) -> types.Range:
        server_range = types.Range(types.Position(*start), types.Position(*end))
        return self.workspace.position_codec.range_to_client_units(lines, server_range)

    def server_range(self, target: Target, uri: str, client_range: types.Range) -> tuple[Place, Place]:
        converted = self.workspace.position_codec.range_from_client_units(target.lines(uri), client_range)
        return (converted.start.line, converted.start.character), (converted.end.line, converted.end.character)


class _PrimingProgress:
    """Cache priming as `$/progress` ("bnfix: priming the cache, 120/1009 files"), at most every 0.2 s."""

    def __init__(self, ls: BnfixLanguageServer) -> None:
        self.ls = ls
        self.token = f"bnfix/cachePriming/{id(self)}"
        self.created = False
        self.last = 0.0

    async def begin(self) -> None:
        try:
            await self.ls.work_done_progress.create_async(self.token)
        except Exception as error:  # noqa: BLE001 - a client may refuse; priming goes on without progress
            logger.info("bnfix: no progress for cache priming: %s", error)
            return
        self.created = True
        self.ls.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(title="bnfix: priming the cache", percentage=0))

    def report(self, done: int, total: int) -> None:
        now = asyncio.get_running_loop().time()
        if not self.created or (now - self.last < 0.2 and done != total):
            return
        self.last = now
        percentage = 100 * done // total if total else 100
        self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=f"{done}/{total} files", percentage=percentage))

    def end(self, how: str) -> None:
        if self.created:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=how))


def _wanted(only: list[str] | None, kind: str) -> bool:
    """LSP kinds are hierarchical: asking for `source` includes `source.fixAll.bnfix`."""
    return only is None or any(kind == wanted or kind.startswith(wanted + ".") for wanted in only)


def _overlaps(span: tuple[Place, Place], other: tuple[Place, Place]) -> bool:
    return span[0] <= other[1] and other[0] <= span[1]


def _applies(finding: Finding, analysis: Analysis) -> bool:
    safety = finding.diagnostic.fix_safety
    return safety is FixSafety.SAFE or (safety is FixSafety.UNSAFE and analysis.settings.unsafe_fixes)


def create_server() -> BnfixLanguageServer:
    server = BnfixLanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: BnfixLanguageServer, params: types.InitializeParams) -> None:
        ls.use_client_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: BnfixLanguageServer, params: types.InitializedParams) -> None:
        ls.start_priming()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: BnfixLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        if documents.target_key(ls.workspace, params.text_document.uri) == params.text_document.uri:
            ls.request_check(params.text_document.uri, use_cache=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: BnfixLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        key = documents.target_key(ls.workspace, params.text_document.uri)
        if key is not None:
            ls.request_check(key, CHANGE_DELAY)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: BnfixLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        key = documents.target_key(ls.workspace, params.text_document.uri)
        if key is not None:
            ls.request_check(key, use_cache=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: BnfixLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        if documents.target_key(ls.workspace, params.text_document.uri) is None:
            ls.clear(params.text_document.uri, [params.text_document.uri])

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: BnfixLanguageServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.request_check(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: BnfixLanguageServer, params: types.DidChangeNotebookDocumentParams) -> None:
        closed = params.change.cells.structure.did_close if params.change.cells and params.change.cells.structure else None
        for cell in closed or []:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(cell.uri, []))
        ls.request_check(params.notebook_document.uri, CHANGE_DELAY)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: BnfixLanguageServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.request_check(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: BnfixLanguageServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.clear(params.notebook_document.uri, [cell.uri for cell in params.cell_text_documents])

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=True),
    )
    async def code_action(ls: BnfixLanguageServer, params: types.CodeActionParams):
        return await ls.code_actions(params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: BnfixLanguageServer, action: types.CodeAction):
        return await ls.resolve_code_action(action)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: BnfixLanguageServer, params: types.HoverParams):
        return await ls.hover(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: BnfixLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        raw = params.settings if params.settings not in (None, {}) else await ls.pull_client_settings()
        before = (ls.overrides, ls.cache_priming)
        if ls.use_client_settings(raw):
            ls.recheck_all()
            if (ls.overrides, ls.cache_priming) != before:
                ls.start_priming()  # the cache is keyed by the settings: prime it for the new ones

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(ls: BnfixLanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        # pygls has updated ls.workspace.folders. A new run over all of them: what is primed already is a cache hit.
        ls.start_priming()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: BnfixLanguageServer, params: None) -> None:
        ls.stop_priming()
        ls.scheduler.shutdown()

    return server


def serve() -> None:
    """Speak LSP on stdin/stdout until the client says exit."""
    create_server().start_io()
