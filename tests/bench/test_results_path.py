"""Results files are named by the minute; a second run within it must not overwrite the first's."""

from __future__ import annotations

from pathlib import Path

from bench.common import results_path


def test_a_second_run_within_the_minute_gets_a_name_of_its_own(tmp_path: Path) -> None:
    first = results_path(tmp_path, "api")
    first.write_text("{}")
    second = results_path(tmp_path, "api")
    if second.name[:15] == first.name[:15]:  # still the same minute: seconds added
        assert second != first and second.name.endswith("-api.json")
        assert len(second.name) == len(first.name) + 2
    assert not second.exists()
