"""Dependencies point inward, as docs and the README's layout promise.

* ``core/`` imports nothing outward and does no I/O, not even reading the clock;
* ``adapters/`` import the core and other adapters, never the application, the
  console or the composition root;
* ``tui/`` imports the core, the composition root, the use cases and the settings:
  never the live processes (``imgproc.live``), the CLI, or an adapter;
* the live processes (``imgproc.live``) are wired by the composition root: they import
  no adapter;
* providers are named only by their registry and the composition root.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
OUTWARD = ("imgproc.adapters", "imgproc.tui", "imgproc.cli", "imgproc.settings",
           "imgproc.bootstrap", "imgproc.live", "imgproc.options", "imgproc.replay",
           "imgproc.compare")
IO_MODULES = ("socket", "subprocess", "pika", "kazoo", "textual", "rich", "requests", "time",
              "matplotlib", "multiprocessing", "asyncio", "signal", "shutil", "os", "psutil",
              "vagrant", "PIL")
#: What the console may import of the application.
TUI_MAY_IMPORT = ("imgproc.core", "imgproc.tui", "imgproc.bootstrap", "imgproc.replay",
                  "imgproc.compare", "imgproc.summary_view", "imgproc.settings",
                  "imgproc.options", "imgproc.progress")
PROVIDER_MODULES = ("imgproc.adapters.providers.local", "imgproc.adapters.providers.vagrant",
                    "imgproc.adapters.providers.memory")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def imgproc_imports(path: Path) -> list[str]:
    return [m for m in imported_modules(path) if m.startswith("imgproc.")]


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


CORE_FILES = files("core")
ADAPTER_FILES = files("adapters")
TUI_FILES = files("tui")
LIVE_FILES = files("app/live")


def test_every_ring_has_modules_to_check():
    assert len(CORE_FILES) > 10 and len(ADAPTER_FILES) > 10 and len(TUI_FILES) > 5
    assert len(LIVE_FILES) > 3


@pytest.mark.parametrize("path", CORE_FILES, ids=ids)
def test_core_module_imports_nothing_from_the_outer_rings(path):
    outward = [m for m in imported_modules(path) if m.startswith(OUTWARD)]
    assert outward == [], f"{path} imports {outward}"


@pytest.mark.parametrize("path", CORE_FILES, ids=ids)
def test_core_module_does_no_network_process_terminal_or_clock_io(path):
    io = [m for m in imported_modules(path) if m.split(".")[0] in IO_MODULES]
    assert io == [], f"{path} imports {io}"


@pytest.mark.parametrize("path", CORE_FILES, ids=ids)
def test_core_module_never_reads_the_wall_clock(path):
    text = path.read_text()
    for needle in ("datetime.now(", "datetime.utcnow(", "time.time(", "time.monotonic("):
        assert needle not in text, f"{path} reads the clock with {needle}"


@pytest.mark.parametrize("path", ADAPTER_FILES, ids=ids)
def test_adapters_import_only_the_core_and_adapters(path):
    outward = [m for m in imgproc_imports(path)
               if not m.startswith(("imgproc.core", "imgproc.adapters"))]
    assert outward == [], f"{path} imports {outward}"


@pytest.mark.parametrize("path", TUI_FILES, ids=ids)
def test_the_console_imports_no_adapter_no_live_process_and_no_cli(path):
    outward = [m for m in imgproc_imports(path) if not m.startswith(TUI_MAY_IMPORT)]
    assert outward == [], f"{path} imports {outward}"


@pytest.mark.parametrize("path", LIVE_FILES, ids=ids)
def test_the_live_processes_are_wired_by_the_composition_root(path):
    outward = [m for m in imgproc_imports(path)
               if m.startswith(("imgproc.adapters", "imgproc.bootstrap", "imgproc.tui",
                                "imgproc.cli"))]
    assert outward == [], f"{path} imports {outward}"


def test_providers_are_named_only_by_their_registry_and_the_composition_root():
    allowed = (ROOT / "adapters" / "providers", ROOT / "app" / "bootstrap", ROOT / "app" / "cli")
    naming = [ids(p) for p in files("app") + files("adapters") + files("tui") + files("core")
              if not p.is_relative_to(allowed[0]) and not p.is_relative_to(allowed[1])
              and not p.is_relative_to(allowed[2])
              and any(m.startswith(PROVIDER_MODULES) for m in imported_modules(p))]
    assert naming == []


@pytest.mark.parametrize("path", files("app") + ADAPTER_FILES + CORE_FILES + TUI_FILES
                         + files("benchmarks") + files("tests") + files("scripts"), ids=ids)
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400


def test_every_package_of_the_tree_is_in_the_wheel():
    """pyproject.toml lists the packages by hand (the user's layout maps folders to
    imgproc.*): a new folder left out installs in development and is missing from the
    wheels that worker VMs install."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = set()
    for top, prefix in (("app", "imgproc"), ("core", "imgproc.core"),
                        ("adapters", "imgproc.adapters"), ("tui", "imgproc.tui")):
        for init in (ROOT / top).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / top).parts
            on_disk.add(".".join((prefix, *relative)))
    assert on_disk - set(project["packages"]) == set()
