"""Record/replay against a hostile client (tests/replay_client.py): edge-triggered epoll on
a non-blocking socket, a receiver blocked in another thread, SO_RCVTIMEO, a signal that
interrupts a blocked receive, 300 rounds under a 1 kHz SIGALRM, a notification on a joined
group. Each mode is recorded in a throwaway namespace and replayed as nobody outside it;
the client prints the same lines and the signal storm loses and doubles nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_record_replay import PYTHON, _need, nobody_replay, ns_record, tree  # noqa: F401

from nlcore.faults.trace import read_trace
from nlcore.net.netns import ThrowawayNetns

CLIENT = Path(__file__).with_name("replay_client.py")


@pytest.mark.parametrize("mode, expect", [
    ("epoll", "epoll done"),
    ("threads", "threads receiver still waiting: True"),
    ("timeout", "timeout EAGAIN"),
    ("alarm", "alarm: the blocked receive was interrupted by SIGALRM"),
    ("monitor", "monitor note type 20"),
    ("signals", "signals rounds=300 replies=600 dup=0 lost=0"),
    ("many", "many sockets 600 notification type 20"),
])
def test_hostile_client_recorded_and_replayed(tree: Path, mode: str,  # noqa: F811
                                              expect: str) -> None:
    _need()
    client = tree / "replay_client.py"
    shutil.copy(CLIENT, client)
    client.chmod(0o644)
    trace = tree / f"{mode}.trace"
    with ThrowawayNetns() as ns:
        rec = ns_record(ns, trace, [PYTHON, str(client), mode])
    assert rec[0] == 0 and expect in rec[1], rec
    if mode == "signals":  # every round recorded once: no send doubled by a signal
        evs = read_trace(trace).events
        assert [e["ev"] for e in evs].count("send") == 300
        assert [e["ev"] for e in evs].count("recv") == 600
    res = nobody_replay(tree, trace, [PYTHON, str(client), mode])
    assert (res.returncode, res.stdout, res.stderr) == rec
