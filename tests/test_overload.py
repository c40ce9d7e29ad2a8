"""Overload against the real kernel, in a throwaway namespace: a 1 kHz signal storm during
20,000-address applies and a 20,000-entry dump (EINTR everywhere), and sequence numbers
wrapping at 2^32 (alone, inside one batch, and together with ENOBUFS). Every result is
checked, and the kernel's state is read back with ``ip -j addr`` and compared exactly.

``Lab`` (a namespace with veth devices and spec/readback helpers) is shared with
tests/test_leaks.py and tests/test_threads.py.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import signal
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from _util import throwaway

from nlcore.codec import consts as C
from nlcore.codec.decode import AddrMsg
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_getaddr
from nlcore.net.conn import Conn
from nlcore.net.netns import ThrowawayNetns
from nlcore.ops.engine import Report, apply
from nlcore.ops.link import add_veth

pytestmark = pytest.mark.kernel
V4_BASE = int(ipaddress.IPv4Address("198.18.0.0"))  # 198.18.0.0/15, split among devices
Addr = tuple[str, str, int]  # (device, address, prefixlen)


class Lab:
    """A throwaway namespace with ``ndev`` veth ends (down: no link-local addresses)."""

    def __init__(self, ns: ThrowawayNetns, ndev: int = 8, **conn_options: Any) -> None:
        self.ns = ns
        self.conn = Conn(ns=ns, **conn_options)
        self.devs: list[tuple[str, int]] = []
        for i in range(0, ndev, 2):
            a, b = add_veth(self.conn, f"h{i}", f"h{i + 1}")
            self.devs += [(f"h{i}", a), (f"h{i + 1}", b)]

    def specs(self, per_dev: int, start: int = 0, v6: bool = False, op: str = "add",
              devs: range | None = None) -> list[AddrSpec]:
        """``per_dev`` addresses on each device (k-th device: its own block), interleaved
        across devices; IPv6 ones are ``nodad``."""
        block = 131072 // len(self.devs)  # 198.18.0.0/15 split evenly
        assert start + per_dev <= block
        out = []
        for i in range(start, start + per_dev):
            for k in devs if devs is not None else range(len(self.devs)):
                name, idx = self.devs[k]
                if v6:
                    out.append(AddrSpec(f"2001:db8:{k:x}::{i:x}/128", index=idx, op=op,  # type: ignore[arg-type]
                                        flags="nodad", dev=name))
                else:
                    ip = ipaddress.IPv4Address(V4_BASE + k * block + i)
                    out.append(AddrSpec(f"{ip}/32", index=idx, op=op, dev=name))  # type: ignore[arg-type]
        return out

    def kernel(self) -> set[Addr]:
        """Every address in the namespace, as ``ip -j addr show`` reports it."""
        res = self.ns.run(["ip", "-j", "addr", "show"], check=True)
        return {(link["ifname"], a["local"], a["prefixlen"])
                for link in json.loads(res.stdout or "[]") for a in link.get("addr_info", [])
                if link["ifname"] != "lo"}

    def close(self) -> None:
        """Close the Conn and the namespace."""
        self.conn.close()
        self.ns.close()


def expected(specs: list[AddrSpec]) -> set[Addr]:
    """What ``ip -j`` shows for ``specs`` (canonical address text)."""
    return {(str(s.dev), str(ipaddress.ip_address(s.address.partition("/")[0])), s.prefixlen)
            for s in specs}


def all_ok(report: Report, n: int) -> None:
    """Exactly ``n`` results, all "ok", none read back from state (no ack was lost)."""
    assert len(report) == n
    assert report.counts() == {"ok": n}, report.failures()[:3]
    assert not report.resolved


def deleting(specs: list[AddrSpec]) -> list[AddrSpec]:
    """The same addresses, ``op="del"``."""
    return [dataclasses.replace(s, op="del") for s in specs]


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh namespace with 8 veth ends."""
    env = Lab(throwaway())
    try:
        yield env
    finally:
        env.close()


class Storm:
    """SIGALRM at 1 kHz (setitimer) with a handler that only counts (``hits``: the Python
    handler's runs) and a wakeup fd that counts every delivery (:meth:`delivered`). Python
    runs its handler only between bytecodes, so deliveries that land during one native call
    (the engine's window loop retries EINTR inside C for up to 4,096 requests) are one hit;
    ``delivered`` counts each of them, as the syscalls they interrupted saw them."""

    def __init__(self) -> None:
        self.hits = 0
        self._seen = 0

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        self.hits += 1

    def delivered(self) -> int:
        """Signals delivered to this process since the storm began."""
        while True:
            try:
                chunk = os.read(self._r, 65536)
            except BlockingIOError:
                return self._seen
            self._seen += len(chunk)

    def __enter__(self) -> Storm:
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        self._old = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, self._old)
        signal.set_wakeup_fd(self._old_fd)
        os.close(self._r)
        os.close(self._w)


def test_signal_storm_during_20k_apply_dump_and_delete(lab: Lab) -> None:
    """EINTR on every syscall path (batched send/drain, dump receive, the one-call native
    path of a single address) changes nothing: all 20,000 ok, the dump exact, state exact."""
    v4 = lab.specs(2000, devs=range(6))
    v6 = lab.specs(4000, v6=True, devs=range(6, 8))
    specs = v4 + v6
    singles = lab.specs(100, start=7000, devs=range(6))
    with Storm() as storm:
        report = apply(specs, lab.conn)
        dumped = {(m.index, m.local, m.prefixlen)
                  for fam in (C.AF_INET, C.AF_INET6)
                  for m in lab.conn.request(encode_getaddr(fam)) if isinstance(m, AddrMsg)}
        one_by_one = [apply([s], lab.conn) for s in singles]
        hits_during_add = storm.delivered()
        removed = apply(deleting(v4), lab.conn, batch=32)
    all_ok(report, 20_000)
    assert [r.counts() for r in one_by_one] == [{"ok": 1}] * len(singles)
    assert hits_during_add >= 200, f"only {hits_during_add} signals delivered: no storm"
    names = dict((idx, name) for name, idx in lab.devs)
    assert {(names[idx], a, p) for idx, a, p in dumped} == expected(specs)
    all_ok(removed, 12_000)
    assert lab.kernel() == expected(v6 + singles)
    assert lab.conn.stats.unknown_seq == lab.conn.stats.duplicates == 0


def test_signal_storm_during_a_blocking_wait(lab: Lab) -> None:
    """The apply path never blocks (netlink answers within sendmsg; receives are
    non-blocking), so EINTR is forced here: a receive waiting on an idle socket is
    interrupted ~1,000 times a second and still times out on time, then the Conn works."""
    conn = Conn(ns=lab.ns, timeout=0.3)
    try:
        with Storm() as storm:
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                conn.recv(block=True)
            waited = time.monotonic() - t0
            hits = storm.hits
            all_ok(apply(lab.specs(10), conn), 80)
        assert 0.3 <= waited < 1.5
        assert hits >= 100, f"only {hits} signals during the wait"
        assert lab.kernel() == expected(lab.specs(10))
    finally:
        conn.close()


@pytest.mark.parametrize("first,batch", [(2**32 - 500, 128), (2**32 - 100, 512),
                                         (2**32 - 1, 7)])
def test_seq_wraps_against_the_kernel(first: int, batch: int) -> None:
    """2,000 adds then 2,000 deletes with seqs running through 2^32 -> 0 (across batches,
    inside one batch, at the very first request): all ok, no ack mismatched."""
    env = Lab(throwaway(), ndev=4, seq=first)
    try:
        specs = env.specs(500)
        all_ok(apply(specs, env.conn, batch=batch), 2000)
        assert env.kernel() == expected(specs)
        after_adds = env.conn.take_seqs(0)
        assert after_adds == (first + 6 + 2000) % 2**32  # 2 veth adds + 4 name lookups
        all_ok(apply(deleting(specs), env.conn, batch=batch), 2000)
        assert env.kernel() == set()
        assert env.conn.stats.unknown_seq == env.conn.stats.duplicates == 0
    finally:
        env.close()


def test_seq_wrap_with_enobufs_resolves_every_lost_ack() -> None:
    """A 4 KB receive buffer and 10,000 requests whose seqs wrap: acks are dropped
    (ENOBUFS), the lost ones are read back from the kernel, nothing is lost or doubled."""
    env = Lab(throwaway(), ndev=4)
    try:
        small = Conn(ns=env.ns, rcvbuf=4096, seq=2**32 - 3000)
        try:
            specs = env.specs(2500)
            report = apply(specs, small, batch=4096)
            assert small.stats.overruns >= 1
            all_resolved = report.resolved
            assert 0 < len(all_resolved) < 10_000
            # lost adds are proven by creation stamps newer than an acked add's; those in
            # the same 10 ms of the kernel's clock stay "unknown": never a false "ok"
            counts = report.counts()
            assert set(counts) <= {"ok", "unknown"} and counts["ok"] >= 5_000
        finally:
            small.close()
        assert env.kernel() == expected(specs)
    finally:
        env.close()
