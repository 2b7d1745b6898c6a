"""The core stays pure: no imports of adapters, the console, or I/O libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
OUTWARD = ("imgproc.adapters", "imgproc.tui", "imgproc.cli", "imgproc.settings",
           "imgproc.bootstrap")
IO_MODULES = ("socket", "subprocess", "pika", "kazoo", "textual", "rich", "requests", "time",
              "matplotlib", "multiprocessing", "asyncio", "signal", "shutil")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


CORE_FILES = sorted(CORE.rglob("*.py"))


def test_the_core_has_modules_to_check():
    assert len(CORE_FILES) > 10


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_nothing_from_adapters_or_the_console(path):
    outward = [m for m in imported_modules(path) if m.startswith(OUTWARD)]
    assert outward == [], f"{path} imports {outward}"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_does_no_network_process_terminal_or_clock_io(path):
    io = [m for m in imported_modules(path) if m.split(".")[0] in IO_MODULES]
    assert io == [], f"{path} imports {io}"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_never_reads_the_wall_clock(path):
    text = path.read_text()
    for needle in ("datetime.now(", "datetime.utcnow(", "time.time(", "time.monotonic("):
        assert needle not in text, f"{path} reads the clock with {needle}"
