"""The editor's open documents (pygls's workspace) as targets: which documents bnfix analyses, and their versions.

A Python file is a target of its own; every code cell of an open notebook belongs to the notebook's target, so a
change in any cell re-checks the notebook as one module. Other documents (a notebook opened as JSON text by a
client without notebook support, a Markdown file) are skipped: no diagnostics, no error.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import Workspace

from bnfix.server.targets import CellText, DocumentTarget, NotebookTarget, Target

PYTHON_SUFFIXES = (".py", ".pyi")
PYTHON = "python"

Version = object  # a document's version, or a notebook's (it changes with every cell edit)


def target_key(workspace: Workspace, uri: str) -> str | None:
    """The uri of the target a document belongs to: its notebook's for a cell, its own for a Python file."""
    notebook = workspace.get_notebook_document(cell_uri=uri)
    if notebook is not None:
        return notebook.uri
    document = workspace.text_documents.get(uri)
    if document is not None and _is_python(uri, document.language_id):
        return uri
    return None


def current_version(workspace: Workspace, key: str) -> Version | None:
    notebook = workspace.get_notebook_document(notebook_uri=key)
    if notebook is not None:
        return ("notebook", notebook.version)
    document = workspace.text_documents.get(key)
    return None if document is None else ("document", document.version)


def build_target(workspace: Workspace, key: str) -> tuple[Target, Version] | None:
    """A snapshot of the target's texts (the worker process gets a copy while the editor keeps typing)."""
    notebook = workspace.get_notebook_document(notebook_uri=key)
    if notebook is not None:
        cells = [
            CellText(number, cell.document, workspace.get_text_document(cell.document).source)
            for number, cell in enumerate(notebook.cells, 1)
            if cell.kind == types.NotebookCellKind.Code and _is_code_cell(workspace, cell.document)
        ]
        return NotebookTarget(key, cells, _path(key)), ("notebook", notebook.version)
    document = workspace.text_documents.get(key)
    if document is None or not _is_python(key, document.language_id):
        return None
    return DocumentTarget(key, document.source, _path(key)), ("document", document.version)


def document_uris(workspace: Workspace, key: str) -> list[str]:
    """Every document a target may have published diagnostics to."""
    notebook = workspace.get_notebook_document(notebook_uri=key)
    if notebook is not None:
        return [cell.document for cell in notebook.cells]
    return [key]


def open_keys(workspace: Workspace) -> list[str]:
    keys = list(workspace.notebook_documents)
    keys += [uri for uri in workspace.text_documents if target_key(workspace, uri) == uri]
    return keys


def _is_code_cell(workspace: Workspace, uri: str) -> bool:
    language = workspace.get_text_document(uri).language_id
    return language in (None, PYTHON)


def _is_python(uri: str, language_id: str | None) -> bool:
    return language_id == PYTHON or uri.endswith(PYTHON_SUFFIXES)


def _path(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path) if path else None
