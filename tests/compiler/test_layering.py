"""The dependency direction of DESIGN.md, enforced by walking every import in the packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("compiler", "passes", "backends")
DRIVER = {
    "compiler/cli.py", "compiler/cli_run.py", "compiler/driver.py", "compiler/demo.py",
    "compiler/__init__.py", "compiler/cli_optimize.py", "compiler/optimizer.py",
    "compiler/cli_quantize.py", "compiler/quantize/driver.py",
    "compiler/passmanager/registry.py", "compiler/cli_compare.py", "compiler/bisect.py",
    "compiler/cli_build.py", "compiler/demo_steps.py", "compiler/cli_viz.py",
    "compiler/opstable.py",
}  # fmt: skip
HEAVY = ("torch", "onnxruntime", "tensorrt", "tensorrt_rtx", "cuda", "cupy", "onnxscript")
FORBIDDEN = {"compiler": ("passes", "backends"), "passes": ("backends",), "backends": ("passes",)}


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(module, is_top_level) for every import in a module."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, top))
            visit(child, inner)

    visit(tree, True)
    return found


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layering(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    package = rel.split("/")[0]
    for module, top in _imports(ast.parse(path.read_text())):
        root = module.split(".")[0]
        if root in FORBIDDEN[package]:
            assert rel in DRIVER and not top, f"{rel} imports {module} (layering)"
        if root in HEAVY:
            assert not top, f"{rel} imports heavy dependency {module} at module level"


def test_checker_sees_violations() -> None:
    bad = ast.parse("import backends.onnx\ndef f():\n    import torch\n")
    assert _imports(bad) == [("backends.onnx", True), ("torch", False)]
