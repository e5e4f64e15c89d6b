"""bridge.entropy: random bytes read a page at a time, handed out once, never shared with a fork."""

from __future__ import annotations

import os

from bridge.entropy import random_bytes


def test_random_bytes_are_handed_out_once_across_refills() -> None:
    taken = [random_bytes(10) for _ in range(1000)]  # 10,000 bytes: two refills of 4,096
    assert all(len(t) == 10 for t in taken)
    assert len(set(taken)) == len(taken)
    assert len(random_bytes(5000)) == 5000  # more than one read at once


def test_a_forked_child_does_not_hand_out_the_parents_bytes() -> None:
    random_bytes(1)  # the parent's buffer holds unread bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it would hand out next
        os.write(write, random_bytes(16))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 16)
    os.close(read)
    assert len(child) == 16
    assert child != random_bytes(16)  # without the reset at fork both take the same bytes
