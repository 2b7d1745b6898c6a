"""Runs mypy over the whole imgproc package, as it is installed.

Why a tree of links: pyproject.toml's ``package-dir`` installs ``app/`` as ``imgproc``
and ``core/``, ``adapters/``, ``tui/`` as ``imgproc.core``, ``imgproc.adapters`` and
``imgproc.tui``. No folder in the repository is named ``imgproc``, and the editable
install maps the names with an import hook that mypy cannot follow, so mypy alone
says "Can't find package 'imgproc'". This script builds ``build/typecheck/imgproc/``
from that same mapping (a real folder holding a link to every entry of ``app/``, and
one link per mapped sub-package), runs ``mypy -p imgproc`` from ``build/typecheck``,
and prints every finding with the path of the file in the repository, so an editor
can jump to it. mypy's settings are pyproject.toml's ``[tool.mypy]``.

    python scripts/typecheck.py [MYPY_ARGS...]     # exit status: mypy's
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"
PACKAGE = "imgproc"


def package_dirs() -> dict[str, str]:
    """pyproject.toml's package-dir: dotted package name to folder in the repository."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["setuptools"]["package-dir"]


def link(target: Path, at: Path) -> None:
    at.symlink_to(os.path.relpath(target, at.parent), target_is_directory=target.is_dir())


def build_tree(mapping: dict[str, str]) -> dict[str, str]:
    """Make the link tree; return each tree prefix (``imgproc/core/``) with its folder."""
    shutil.rmtree(TREE, ignore_errors=True)
    top = TREE / PACKAGE
    top.mkdir(parents=True)
    subpackages = {name.split(".")[1]: folder for name, folder in mapping.items()
                   if name.count(".") == 1}
    for entry in sorted((ROOT / mapping[PACKAGE]).iterdir()):
        if entry.name not in subpackages:
            link(entry, top / entry.name)
    for name, folder in subpackages.items():
        link(ROOT / folder, top / name)
    for name, folder in mapping.items():  # deeper mappings must be the folders the links show
        parent, _, last = name.rpartition(".")
        if name.count(".") > 1 and Path(folder) != Path(mapping[parent]) / last:
            sys.exit(f"typecheck: {name} -> {folder} is not inside {mapping[parent]}; "
                     "extend scripts/typecheck.py")
    prefixes = {f"{name.replace('.', '/')}/": f"{folder}/" for name, folder in mapping.items()}
    return dict(sorted(prefixes.items(), key=lambda item: -len(item[0])))


def to_repository_path(line: str, prefixes: dict[str, str]) -> str:
    for prefix, folder in prefixes.items():
        if line.startswith(prefix):
            return folder + line[len(prefix):]
    return line


def main(args: list[str]) -> int:
    prefixes = build_tree(package_dirs())
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--cache-dir", str(ROOT / ".mypy_cache"), "-p", PACKAGE, *args]
    done = subprocess.run(command, cwd=TREE, capture_output=True, text=True, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        print(to_repository_path(re.sub(r"^\./", "", line), prefixes))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
