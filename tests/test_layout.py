"""The project's shape: packages resolve here, pure packages stay pure."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# docs/design.md house rule 1: the protocol core and the pure libraries do no I/O.
PURE_PACKAGES = ("segmenter", "dlr", "bridge/smpp")
FORBIDDEN = frozenset(
    {
        "trio",
        "trio_asyncio",
        "asyncio",
        "anyio",
        "socket",
        "ssl",
        "select",
        "selectors",
        "asyncpg",
        "httpx",
        "time",
        "subprocess",
        "urllib",
        "http",
    }
)


@pytest.mark.parametrize("name", ["segmenter", "dlr", "config", "bridge", "bridge.smpp"])
def test_package_resolves_into_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(REPO), module.__file__


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_package_sources_import_no_io(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"{package} has no sources"
    offenders = {
        str(f.relative_to(REPO)): sorted(_imported_roots(f) & FORBIDDEN) for f in files
    }
    assert not {k: v for k, v in offenders.items() if v}


_RUNTIME_PROBE = """
import importlib, json, pkgutil, sys
before = set(sys.modules)
name = sys.argv[1]
pkg = importlib.import_module(name)
if sys.argv[2] == "walk":
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _loaded_by(package: str, walk: bool = True) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", _RUNTIME_PROBE, package, "walk" if walk else "top"],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    return {name.split(".")[0] for name in json.loads(out)}


@pytest.mark.parametrize("package", [p.replace("/", ".") for p in PURE_PACKAGES])
def test_pure_package_pulls_in_no_io_at_runtime(package: str) -> None:
    # The static check above misses transitive imports; this one imports the
    # package and all its modules in a fresh interpreter and looks at what was
    # loaded beyond the interpreter's own start-up. `time` is exempt here
    # only: the standard library's datetime loads it.
    assert not (_loaded_by(package) & (FORBIDDEN - {"time"}))


def test_runtime_probe_can_fail() -> None:
    # The probe must see I/O modules when a package does pull them in.
    assert "socket" in _loaded_by("trio", walk=False)


# docs/design.md house rule 8: small modules. A module over this many lines is split
# along a seam of what it does (see carrier/submitting.py, smpp/invalid.py).
MAX_MODULE_LINES = 400
SIZED_PACKAGES = ("bridge", "config", "dlr", "segmenter")


def _long_modules(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): n
        for package in SIZED_PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }


def test_no_module_is_over_400_lines() -> None:
    assert _long_modules(REPO) == {}


def test_the_module_length_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "bridge").mkdir()
    (tmp_path / "bridge" / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "bridge" / "short.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    assert _long_modules(tmp_path) == {"bridge/long.py": MAX_MODULE_LINES + 1}
