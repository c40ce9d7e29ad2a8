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

BUSY = "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < {s}: pass\n"


def _spin(seconds: float) -> None:
    t = time.perf_counter()
    while time.perf_counter() - t < seconds:
        pass


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
    _spin(0.1)
    busy = cpuclock.cpu_self() - c0
    c0 = cpuclock.cpu_self()
    time.sleep(0.1)
    idle = cpuclock.cpu_self() - c0
    assert 0.05 <= busy <= 0.2  # on a CPU at most the wall time, and most of it
    assert idle < 0.05


def test_children_count_a_child_and_self_does_not(fresh: None) -> None:
    own0, ch0 = cpuclock.cpu_self(), cpuclock.cpu_children()
    subprocess.run([sys.executable, "-c", BUSY.format(s=0.2)], check=True)
    own, ch = cpuclock.cpu_self() - own0, cpuclock.cpu_children() - ch0
    assert ch >= 0.15, ch  # the child's 0.2 s loop (and its start-up)
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
    subprocess.run([sys.executable, "-c", BUSY.format(s=0.1)], check=True)
    assert cpuclock.cpu_children() - ch0 >= 0.05


def test_an_unknown_machine_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpuclock.platform, "machine", lambda: "vax")
    clock = cpuclock.CpuClock()
    assert clock.source == "rusage" and "vax" in clock.why
    assert clock.read() > 0
