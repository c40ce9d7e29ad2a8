"""Events: typed events from the kernel's multicast groups in a throwaway namespace; an
overrun (tiny receive buffer + a burst) is an explicit RESYNC event; ``nlcore monitor``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nlcore.codec import consts as C
from nlcore.codec.decode import AddrMsg, LinkMsg
from nlcore.codec.errors import SpecError
from nlcore.codec.spec import AddrSpec
from nlcore.net.events import Event, EventSocket, groups_of
from nlcore.ops.engine import apply

REPO = Path(__file__).resolve().parents[1]


def until(sock: EventSocket, pred: Any, limit: int = 200) -> Event:
    for _ in range(limit):
        for ev in sock.read():
            if pred(ev):
                return ev
    raise AssertionError("event not seen")


def test_groups_and_bad_kind() -> None:
    assert groups_of(["addr", "route"]) == [5, 9, 7, 11]
    assert groups_of(["link", "neigh", "link"]) == [1, 3]
    with pytest.raises(SpecError, match="unknown event kind 'bogus'"):
        groups_of(["bogus"])


@pytest.mark.kernel
def test_typed_events_for_addr_link_route_neigh(kns: Any) -> None:
    with EventSocket(ns=kns.ns) as sock:
        kns.ns.run(["ip", "addr", "add", "198.51.100.1/24", "dev", "v0"], check=True)
        ev = until(sock, lambda e: e.event == "RTM_NEWADDR")
        assert isinstance(ev.message, AddrMsg) and ev.kind == "addr" and not ev.deleted
        assert (ev.message.local, ev.message.prefixlen, ev.message.index) == (
            "198.51.100.1", 24, kns.v0)
        ev = until(sock, lambda e: e.event == "RTM_NEWROUTE")  # the prefix route
        assert ev.kind == "route"
        kns.ns.run(["ip", "neigh", "add", "198.51.100.5", "lladdr", "02:00:00:00:00:05", "dev",
                    "v0", "nud", "permanent"], check=True)
        ev = until(sock, lambda e: e.kind == "neigh")
        assert ev.event == "RTM_NEWNEIGH"
        kns.ns.run(["ip", "link", "set", "v0", "mtu", "1400"], check=True)
        ev = until(sock, lambda e: e.kind == "link" and isinstance(e.message, LinkMsg)
                   and e.message.mtu == 1400)
        assert ev.message is not None and ev.message.index == kns.v0
        kns.ns.run(["ip", "-6", "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad"],
                   check=True)
        kns.ns.run(["ip", "addr", "del", "2001:db8::1/64", "dev", "v0"], check=True)
        ev = until(sock, lambda e: e.event == "RTM_DELADDR")
        assert ev.deleted and isinstance(ev.message, AddrMsg)
        assert ev.message.family == C.AF_INET6 and ev.message.local == "2001:db8::1"


@pytest.mark.kernel
def test_overrun_is_an_explicit_resync_event(kns: Any) -> None:
    with EventSocket(["addr"], ns=kns.ns, rcvbuf=1) as sock:
        specs = [AddrSpec(f"198.18.{i // 250}.{i % 250 + 1}/32", index=kns.v0)
                 for i in range(1000)]
        assert apply(specs, kns.conn).ok
        seen: list[Event] = []
        while True:
            try:
                seen += sock.read(block=False)
            except BlockingIOError:
                break
    assert seen[0].resync and seen[0].message is None and seen[0].kind is None
    assert sock.overruns >= 1
    assert sum(e.event == "RTM_NEWADDR" for e in seen) < 1000  # some were really dropped


@pytest.mark.kernel
def test_monitor_cli_json_lines(kns: Any) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = kns.ns.popen([sys.executable, "-m", "nlcore", "-j", "monitor", "addr", "--count",
                         "2"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        i = 0
        while proc.poll() is None and time.monotonic() < deadline:  # until it has listened
            i += 1
            kns.ns.run(["ip", "addr", "add", f"198.51.100.{i}/24", "dev", "v0"])
            time.sleep(0.2)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all(x["event"] == "RTM_NEWADDR" for x in lines)
    msg = lines[0]["message"]
    assert msg["type"] == "RTM_NEWADDR" and msg["index"] == kns.v0
    local = next(a["value"] for a in msg["attrs"] if a["type"] == "IFA_LOCAL")
    assert local in {f"198.51.100.{j}" for j in range(1, i + 1)}
