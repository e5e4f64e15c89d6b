"""The harness's CPU accounting (bench/procstat.py): what it counts is what a process used."""

from __future__ import annotations

import subprocess
import sys

from bench.procstat import Group, cpu_seconds

# Burns about 0.3 s of CPU, then waits for stdin to close (so it is still alive when sampled).
_BURN = "import sys, time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nprint(1, flush=True)\nsys.stdin.read()"


def _burner() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_a_process_born_after_the_first_sample_counts_all_its_cpu() -> None:
    pids: list[int] = []
    group = Group("born later", lambda: pids)
    group.sample()  # the run starts: nothing in the group yet
    child = _burner()
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "1"
        pids.append(child.pid)
        group.sample()  # its first sample comes after it did its work
        assert group.cpu_used() >= 0.25
    finally:
        child.communicate(timeout=10)


def test_a_process_there_at_the_first_sample_counts_from_there() -> None:
    child = _burner()
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "1"
        group = Group("there at the start", lambda: [child.pid])
        group.sample()
        used_before = cpu_seconds(child.pid)
        group.sample()
        assert used_before >= 0.25  # it did burn, before the run
        assert group.cpu_used() < 0.1  # and none of that is the run's
    finally:
        child.communicate(timeout=10)
