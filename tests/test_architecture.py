"""The import rules of ARCHITECTURE.md, checked on every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "chaosgate": {"injectors", "targets", "reports", "reference_impl"},
    "injectors": {"targets", "reports", "reference_impl"},
    "reports": {"injectors", "targets", "reference_impl"},
    "reference_impl": {"chaosgate", "injectors", "targets", "reports"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(layer: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(imported_packages(path) & FORBIDDEN[layer])}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        if imported_packages(path) & FORBIDDEN[layer]
    ]
    assert offenders == []


def test_package_arrows_point_one_way() -> None:
    """engine ← injectors ← targets, and nothing back: a cycle between two packages is a test failure."""
    packages = [*sorted(FORBIDDEN), "targets"]
    imports = {
        package: {
            other
            for path in (ROOT / package).rglob("*.py")
            for other in imported_packages(path)
            if other in packages and other != package
        }
        for package in packages
    }
    cycles = [(a, b) for a in packages for b in imports[a] if a < b and a in imports[b]]
    assert cycles == []
    assert "injectors" in imports["targets"]  # the allowed direction is used, so the check has teeth


def test_injectors_do_not_import_each_other() -> None:
    packages = [p.name for p in (ROOT / "injectors").iterdir() if p.is_dir() and not p.name.startswith("_")]
    offenders = []
    for package in packages:
        for path in (ROOT / "injectors" / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("injectors."):
                    other = node.module.split(".")[1]
                    if other != package:
                        offenders.append(f"{path.relative_to(ROOT)} imports injectors.{other}")
    assert offenders == []


PATH_WRITERS = {"write_text", "write_bytes", "chmod"}
OS_WRITERS = {"open", "replace", "rename", "chmod"}
"""How a file gets written or its permissions changed by hand; injectors use :mod:`chaosgate.undo`."""


def _writes_a_file(node: ast.AST) -> bool:
    if not isinstance(node, ast.Attribute):
        return False
    on_os = isinstance(node.value, ast.Name) and node.value.id == "os"
    return node.attr in PATH_WRITERS or (on_os and node.attr in OS_WRITERS)


def test_injectors_write_undo_records_only_through_chaosgate_undo() -> None:
    offenders = []
    for path in sorted((ROOT / "injectors").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if _writes_a_file(node):
                assert isinstance(node, ast.Attribute)
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls .{node.attr}")
    assert offenders == []


def test_the_state_directory_travels_as_a_typed_field_not_a_resource_key() -> None:
    """``InjectionContext.state_dir`` is the one way; a ``"state_dir"`` key would be a second one."""
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for layer in ("chaosgate", "injectors", "targets", "reports")
        for path in sorted((ROOT / layer).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value == "state_dir"
    ]
    assert offenders == []


BACKEND_AWARE = {"doctor.py", "cli.py"}
"""`doctor` checks that toxiproxy-server is installed; the CLI keeps `cleanup --toxiproxy` as a short form."""


def _names_and_strings(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.arg | ast.FunctionDef | ast.ClassDef):
            found.append((node.lineno, node.arg if isinstance(node, ast.arg) else node.name))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


def test_the_engine_names_no_fault_backend() -> None:
    """Toxiproxy is a resource a target publishes, like any other; the engine's code never names it."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {text!r}"
        for path in sorted((ROOT / "chaosgate").rglob("*.py"))
        if path.name not in BACKEND_AWARE
        for line, text in _names_and_strings(ast.parse(path.read_text()))
        if "toxiproxy" in text.lower()
    ]
    assert offenders == []
