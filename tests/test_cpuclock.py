"""nlcore/bench/cpuclock.py: the bench's CPU clock counts this process's and its children's
time on a CPU (perf task-clock), and falls back to getrusage, labelled, when refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator

import pytest

from nlcore.bench import cpuclock

# a child that spins for S seconds of its own CPU time and prints what it spent
BUSY = ("import time\nc = time.process_time()\n"
        "while time.process_time() - c < {s}: pass\nprint(time.process_time())\n")


def _spin(seconds: float) -> float:
    """Spin for ``seconds`` of this process's CPU time (a busy loop: the clock that
    getrusage reads is right for those); returns what it spent by that clock."""
    c = time.process_time()
    while time.process_time() - c < seconds:
        pass
    return time.process_time() - c


def _child(seconds: float) -> float:
    """A child that spins; the CPU seconds it says it spent (start-up included)."""
    out = subprocess.run([sys.executable, "-c", BUSY.format(s=seconds)], check=True,
                         capture_output=True, text=True)
    return float(out.stdout)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The module's clocks opened anew in the test (and closed after)."""
    monkeypatch.setattr(cpuclock, "_SELF", None)
    monkeypatch.setattr(cpuclock, "_TREE", None)
    yield
    for c in (cpuclock._SELF, cpuclock._TREE):
        if c is not None:
            c.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="perf_event_paranoid may refuse a non-root")
def test_root_gets_the_task_clock(fresh: None) -> None:
    assert cpuclock.source() == ("task-clock", "")


def test_self_counts_a_busy_loop_and_not_a_sleep(fresh: None) -> None:
    c0 = cpuclock.cpu_self()
    spent = _spin(0.1)
    busy = cpuclock.cpu_self() - c0
    c0 = cpuclock.cpu_self()
    time.sleep(0.1)
    idle = cpuclock.cpu_self() - c0
    assert spent * 0.8 <= busy <= spent * 1.2 + 0.01, (busy, spent)  # however busy the box
    assert idle < 0.05


def test_children_count_a_child_and_self_does_not(fresh: None) -> None:
    own0, ch0 = cpuclock.cpu_self(), cpuclock.cpu_children()
    spent = _child(0.2)
    own, ch = cpuclock.cpu_self() - own0, cpuclock.cpu_children() - ch0
    assert ch >= spent * 0.8, (ch, spent)  # the child's loop (and its start-up)
    assert own < 0.1, own  # the parent only waited


def test_a_refused_perf_falls_back_to_rusage_for_both(fresh: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = cpuclock._open

    def inherit_refused(inherit: bool) -> int:
        if inherit:
            raise OSError(13, "perf_event_open(task-clock): Permission denied")
        return real(inherit)

    monkeypatch.setattr(cpuclock, "_open", inherit_refused)
    src, why = cpuclock.source()
    assert src == "rusage" and "Permission denied" in why  # never one of each
    assert cpuclock._SELF is not None and cpuclock._SELF.fd is None
    c0 = cpuclock.cpu_self()
    _spin(0.05)
    assert cpuclock.cpu_self() > c0
    ch0 = cpuclock.cpu_children()
    spent = _child(0.1)
    assert cpuclock.cpu_children() - ch0 >= spent * 0.8


def test_an_unknown_machine_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpuclock.platform, "machine", lambda: "vax")
    clock = cpuclock.CpuClock()
    assert clock.source == "rusage" and "vax" in clock.why
    assert clock.read() > 0
