"""The package layout's one-way imports, checked on the source: a back-edge is a test failure, not a review comment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bnfix"
# What each layer may not import: lower layers never reach up.
FORBIDDEN = {
    "sources": ("bnfix.analysis", "bnfix.fixes", "bnfix.rules", "bnfix.report", "bnfix.cli", "bnfix.engine", "bnfix.verify", "bnfix.server"),
    "analysis": ("bnfix.rules", "bnfix.report", "bnfix.cli", "bnfix.engine", "bnfix.verify", "bnfix.server"),
    "fixes": ("bnfix.rules", "bnfix.report", "bnfix.cli", "bnfix.engine", "bnfix.verify", "bnfix.server"),
    "rules": ("bnfix.report", "bnfix.cli", "bnfix.engine", "bnfix.verify", "bnfix.server"),
}
HEAVY = ("tensorflow", "keras", "tf_keras", "torch", "jax")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_never_import_upwards(layer: str) -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for module in sorted(_imports(path))
        if module.startswith(FORBIDDEN[layer])
    ]
    assert offenders == []


def test_only_verify_imports_tensorflow_or_keras() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "verify" not in path.relative_to(PACKAGE).parts
        for module in sorted(_imports(path))
        if module.split(".")[0] in HEAVY
    ]
    assert offenders == []
