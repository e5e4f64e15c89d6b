"""Code, docs and tests cite only what a reader can open: no issue numbers (an issue
tracker's history is not the system), no documents the repository does not have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Text files under version control (the suffixes the repository has text in).
TEXT_SUFFIXES = frozenset({".py", ".md", ".toml", ".sql", ".js", ".service", ".json", ".txt", ".cfg"})
TEXT_NAMES = frozenset({"dev", "run", "system-packages", ".gitignore"})

# "issue 16", "issues 3 and 4", "issue #16", "#16" as a tracker reference (a CSS
# colour, ``color:#222``, follows a colon and is not one).
ISSUE_NUMBER = re.compile(r"\bissues?\s*#?\s*\d+|(?<![\w&/#:])#\d+\b", re.IGNORECASE)
# A document that was never in the repository.
MISSING_DOCUMENT = re.compile(r"CARRIER_API(\.md)?")
# The team's design card lives outside the repository; docs/design.md is the
# project's own. Only the migrations may still name the card: they are
# checksummed once applied and cannot change.
OUTSIDE_DOCUMENT = re.compile(r"\bDESIGN\.md\b")
FROZEN = re.compile(r"bridge/store/migrations/[^/]+\.sql")
# Pages of docs/ cited by path: each must exist.
DOCS_PAGE = re.compile(r"\bdocs/[A-Za-z0-9_.-]+\.md\b")


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], check=True, capture_output=True, cwd=REPO
    ).stdout.decode().split("\0")
    paths = [REPO / n for n in names if n]
    return [p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES)]


def _offences(files: list[Path], root: Path) -> list[str]:
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(root)}:{number}"
            for pattern in (ISSUE_NUMBER, MISSING_DOCUMENT):
                found += [f"{where}: {m.group(0)!r}" for m in pattern.finditer(line)]
            if not FROZEN.fullmatch(path.relative_to(root).as_posix()):
                found += [f"{where}: {m.group(0)!r}" for m in OUTSIDE_DOCUMENT.finditer(line)]
            found += [
                f"{where}: {m.group(0)!r} does not exist"
                for m in DOCS_PAGE.finditer(line)
                if not (root / m.group(0)).is_file()
            ]
    return found


@pytest.fixture(scope="module")
def files() -> list[Path]:
    if not (REPO / ".git").exists():
        pytest.fail("not a git checkout: the citation check reads `git ls-files`")
    return _tracked_text_files()


def test_the_check_sees_the_sources(files: list[Path]) -> None:
    names = {str(p.relative_to(REPO)) for p in files}
    assert {"README.md", "CHANGELOG.md", "bridge/dispatch/daemon.py", "docs/pipeline.md"} <= names
    assert "bridge/store/migrations/0001_initial.sql" in names


def test_no_issue_numbers_and_no_missing_documents(files: list[Path]) -> None:
    # This file names the patterns it looks for; everything else must be clean.
    assert _offences([p for p in files if p != Path(__file__).resolve()], REPO) == []


def test_the_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("fine\n")
    bad = tmp_path / "bad.py"
    bad.write_text(
        "# fixed in issue 16\n# see CARRIER_API.md\n# closes #12\n"
        "# docs/here.md is fine, docs/gone.md is not\n# color:#222, colour #fff and part 2 are fine\n"
    )
    offences = _offences([bad], tmp_path)
    assert [o.split(": ", 1)[1] for o in offences] == [
        "'issue 16'",
        "'CARRIER_API.md'",
        "'#12'",
        "'docs/gone.md' does not exist",
    ]


def test_the_design_card_is_cited_only_by_the_migrations(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "design.md").write_text("# Design principles\n")
    migrations = tmp_path / "bridge" / "store" / "migrations"
    migrations.mkdir(parents=True)
    frozen = migrations / "0001_initial.sql"
    frozen.write_text("-- Final states never go back (DESIGN.md: monotonic).\n")
    code = tmp_path / "bridge" / "store" / "lifecycle.py"
    code.write_text('"""States (DESIGN.md "Message lifecycle"), as docs/design.md says."""\n')
    doc = tmp_path / "docs" / "store.md"
    doc.write_text("Batching (docs/design.md) and `../shared/DESIGN.md`, the card.\n")
    offences = _offences([frozen, code, doc], tmp_path)
    assert offences == [
        "bridge/store/lifecycle.py:1: 'DESIGN.md'",
        "docs/store.md:1: 'DESIGN.md'",
    ]
