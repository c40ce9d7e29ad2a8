"""sync against the real kernel: converge, idempotence (a second run sends only dumps, counted
through a recording transport), ownership, the safe order, races (a deterministic one and a
concurrent ``ip``), and the state read back with ``ip -j``."""

from __future__ import annotations

import struct
from typing import Any, Callable

import pytest

from nlcore.codec import consts as C
from nlcore.codec.errors import SpecError
from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import Conn
from nlcore.net.transport import NetlinkSocket
from nlcore.ops.sync import Ownership, sync

GETS = (C.RTM_GETLINK, C.RTM_GETADDR, C.RTM_GETROUTE, 30)  # 30: RTM_GETNEIGH


class Recording:
    """A real socket that records the type of every message sent (and may act on a send)."""

    def __init__(self, sock: NetlinkSocket,
                 on_send: Callable[[int], None] | None = None) -> None:
        self.inner = sock
        self.types: list[int] = []
        self.sends = 0
        self.on_send = on_send

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def pid(self) -> int:
        return self.inner.pid

    def send(self, data: bytes | bytearray | memoryview) -> None:
        raw = bytes(data)
        pos = 0
        while pos + 16 <= len(raw):
            n, t = struct.unpack_from("=IH", raw, pos)
            self.types.append(t)
            pos += (n + 3) & ~3
        self.sends += 1
        self.inner.send(data)
        if self.on_send is not None:
            self.on_send(self.types[-1])

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        return self.inner.recv(buf, block)

    def close(self) -> None:
        self.inner.close()

    def changes(self) -> list[int]:
        """Types of every message that was not a dump request."""
        return [t for t in self.types if t not in GETS]


def recording(kns: Any, on_send: Callable[[int], None] | None = None) -> tuple[Conn, Recording]:
    from nlcore.net.netns import open_socket

    rec = Recording(NetlinkSocket(open_socket(kns.ns)), on_send)
    return Conn(rec), rec


def ip(kns: Any, *args: str) -> None:
    kns.ns.run(["ip", *args], check=True)


def v4(kns: Any, dev: str = "v0") -> dict[str, dict[str, Any]]:
    """{local/plen: addr_info} of the IPv4 addresses on ``dev`` (``ip -j``)."""
    return {f"{a['local']}/{a['prefixlen']}": a
            for link in kns.ip_json("-4", "addr", "show", "dev", dev) for a in link["addr_info"]}


DESIRED = [AddrSpec("198.51.100.1/24", dev="v0"), AddrSpec("198.51.100.2/24", dev="v0",
                                                           metric=5),
           AddrSpec("2001:db8::1/64", dev="v0", flags="nodad"),
           AddrSpec("203.0.113.5/24", dev="v0")]


@pytest.mark.kernel
def test_converges_then_second_run_sends_only_dumps(kns: Any) -> None:
    ip(kns, "addr", "add", "198.51.100.9/24", "dev", "v0")
    ip(kns, "addr", "add", "203.0.113.5/24", "dev", "v0", "label", "v0:x")
    ip(kns, "addr", "add", "192.0.2.1/24", "dev", "v1")  # not in scope: v1 is not named
    conn, rec = recording(kns)
    with conn:
        r = sync(DESIRED, conn)
        assert r.ok and r.verified and not r.drift, r.lines()
        assert r.counts() == {"added": 3, "removed": 1, "changed": 1, "unchanged": 0,
                              "failed": 0}
        assert {c.text() for c in r.changes if c.action == "change"} == {
            "change addr 203.0.113.5/24 dev v0 (label)"}
        assert set(v4(kns)) == {"198.51.100.1/24", "198.51.100.2/24", "203.0.113.5/24"}
        assert v4(kns)["203.0.113.5/24"]["label"] == "v0"
        assert v4(kns)["198.51.100.2/24"]["metric"] == 5
        assert ("2001:db8::1", 64) in kns.addrs()
        assert set(v4(kns, "v1")) == {"192.0.2.1/24"}
        assert any(a.get("scope") == "link" for link in kns.ip_json("-6", "addr", "show", "dev",
                                                                    "v0")
                   for a in link["addr_info"])  # the link-local address stayed
        rec.types.clear()
        again = sync(DESIRED, conn)
    assert again.counts() == {"added": 0, "removed": 0, "changed": 0, "unchanged": 4,
                              "failed": 0}
    assert rec.changes() == [] and rec.types == [C.RTM_GETLINK, C.RTM_GETADDR, C.RTM_GETROUTE]
    assert again.dumps == 3 and not again.verified


@pytest.mark.kernel
def test_dry_run_returns_the_plan_and_sends_only_dumps(kns: Any) -> None:
    ip(kns, "addr", "add", "198.51.100.9/24", "dev", "v0")
    conn, rec = recording(kns)
    with conn:
        r = sync(DESIRED, conn, dry_run=True)
    assert rec.changes() == [] and r.dry_run
    assert [(c.action, c.status) for c in r.changes] == [("add", "planned")] * 4 + [
        ("remove", "planned")]
    assert set(v4(kns)) == {"198.51.100.9/24"}
    js = r.to_json()
    assert (js["added"], js["removed"], js["failed"]) == (4, 1, 0)
    assert js["changes"][-1]["requests"] == ["del 198.51.100.9/24 dev v0"]


@pytest.mark.kernel
def test_replace_fixes_metric_and_ipv6_flags_without_a_delete(kns: Any) -> None:
    ip(kns, "addr", "add", "198.51.100.2/24", "dev", "v0", "metric", "9")
    ip(kns, "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad", "noprefixroute")
    conn, rec = recording(kns)
    with conn:
        r = sync(DESIRED[1:3], conn)
        assert r.ok, r.lines()
        assert [c.why for c in r.changes] == [["metric"], ["flags"]]
        assert C.RTM_DELADDR not in rec.changes()  # one replace each
        assert v4(kns)["198.51.100.2/24"]["metric"] == 5
        (link,) = kns.ip_json("-6", "addr", "show", "dev", "v0")
        (a,) = [a for a in link["addr_info"] if a["local"] == "2001:db8::1"]
        assert a.get("nodad") and not a.get("noprefixroute")
        assert sync(DESIRED[1:3], conn).counts()["unchanged"] == 2


@pytest.mark.kernel
def test_primary_removed_secondary_kept(kns: Any) -> None:
    # deleting an IPv4 primary takes its secondaries with it (promote_secondaries=0): sync
    # re-reads the addresses after its deletions and puts the kept one back
    ip(kns, "addr", "add", "198.51.100.1/24", "dev", "v0")
    ip(kns, "addr", "add", "198.51.100.2/24", "dev", "v0")
    r = sync([AddrSpec("198.51.100.2/24", dev="v0")], kns.conn)
    assert r.ok and not r.drift, r.lines()
    assert set(v4(kns)) == {"198.51.100.2/24"}
    (back,) = [c for c in r.changes if c.note]
    assert back.action == "add" and back.ok and "removed by the kernel" in back.note
    assert r.counts() == {"added": 1, "removed": 1, "changed": 0, "unchanged": 0, "failed": 0}


@pytest.mark.kernel
def test_ownership_rules(kns: Any) -> None:
    ip(kns, "addr", "add", "198.51.100.8/24", "dev", "v0", "label", "v0:other")
    ip(kns, "addr", "add", "198.51.100.7/24", "dev", "v0", "label", "v0:sync1")
    ip(kns, "addr", "add", "203.0.113.7/24", "dev", "v0", "label", "v0:sync2")
    ip(kns, "addr", "add", "2001:db8::7/64", "dev", "v0", "nodad")
    want = [AddrSpec("198.51.100.1/24", dev="v0", label="v0:sync0")]
    r = sync(want, kns.conn, ownership=Ownership(labels={"v0:sync*"}))
    assert r.ok, r.lines()
    assert set(v4(kns)) == {"198.51.100.1/24", "198.51.100.8/24"}
    assert ("2001:db8::7", 64) in kns.addrs()  # IPv6 has no label: not owned
    # family rule: IPv4 only; IPv6 stays, link-local too
    r = sync([AddrSpec("198.51.100.1/24", dev="v0", label="v0:sync0")], kns.conn,
             ownership=Ownership(families={C.AF_INET}))
    assert set(v4(kns)) == {"198.51.100.1/24"} and ("2001:db8::7", 64) in kns.addrs()
    # a desired item the rules would not own is refused before anything is sent
    with pytest.raises(SpecError, match="label 'v0' matches none"):
        sync([AddrSpec("198.51.100.3/24", dev="v0")], kns.conn,
             ownership=Ownership(labels={"v0:sync*"}))
    with pytest.raises(SpecError, match="family inet6 is not owned"):
        sync([AddrSpec("2001:db8::3/64", dev="v0")], kns.conn,
             ownership=Ownership(families={C.AF_INET}))
    # link-local: kept unless asked; asked, it goes
    r = sync([], kns.conn, devices=["v0"], ownership=Ownership(link_local=True))
    assert r.ok, r.lines()
    assert kns.ip_json("addr", "show", "dev", "v0")[0]["addr_info"] == []


@pytest.mark.kernel
def test_primary_with_a_secondary_not_owned_is_not_deleted(kns: Any) -> None:
    ip(kns, "addr", "add", "198.51.100.7/24", "dev", "v0", "label", "v0:sync1")
    ip(kns, "addr", "add", "198.51.100.8/24", "dev", "v0", "label", "v0:other")
    r = sync([AddrSpec("203.0.113.1/24", dev="v0", label="v0:sync0")], kns.conn,
             ownership=Ownership(labels={"v0:sync*"}))
    (refused,) = [c for c in r.changes if c.action == "remove"]
    assert refused.status == "failed" and refused.results == []
    assert "would make the kernel delete 198.51.100.8/24" in str(refused.reason)
    assert set(v4(kns)) == {"198.51.100.7/24", "198.51.100.8/24", "203.0.113.1/24"}


@pytest.mark.kernel
def test_not_owned_present_item_is_left_and_reported(kns: Any) -> None:
    ip(kns, "addr", "add", "198.51.100.1/24", "dev", "v0", "label", "v0:theirs")
    r = sync([AddrSpec("198.51.100.1/24", dev="v0", label="v0:mine")], kns.conn,
             ownership=Ownership(labels={"v0:mine"}))
    (c,) = r.changes
    assert c.status == "failed" and "not owned" in str(c.reason) and c.why == ["label"]
    assert v4(kns)["198.51.100.1/24"]["label"] == "v0:theirs"


@pytest.mark.kernel
def test_unknown_device_fails_that_item_only(kns: Any) -> None:
    r = sync([AddrSpec("198.51.100.1/24", dev="nosuch0"), AddrSpec("198.51.100.2/24", dev="v0")],
             kns.conn)
    assert [c.status for c in r.changes] == ["failed", "ok"]
    assert r.changes[0].reason == 'Cannot find device "nosuch0"'
    assert set(v4(kns)) == {"198.51.100.2/24"} and not r.ok


@pytest.mark.kernel
def test_race_during_sync_ends_with_a_second_dump_and_a_report(kns: Any) -> None:
    # another program adds an address on v0 right after sync's first change goes out
    done: list[int] = []

    def intruder(mtype: int) -> None:
        if mtype == C.RTM_NEWADDR and not done:
            done.append(mtype)
            ip(kns, "addr", "add", "198.51.100.99/24", "dev", "v0")

    conn, rec = recording(kns, intruder)
    with conn:
        r = sync(DESIRED[:2], conn)
    assert [c.text() for c in r.drift] == ["remove addr 198.51.100.99/24 dev v0"]
    assert r.verified and not r.ok and all(c.ok for c in r.changes)
    # no loop: the link dump, one address and one route dump, one apply of two adds, one
    # verify dump of each
    assert rec.types == [C.RTM_GETLINK, C.RTM_GETADDR, C.RTM_GETROUTE, C.RTM_NEWADDR,
                         C.RTM_NEWADDR, C.RTM_GETADDR, C.RTM_GETROUTE]
    assert "198.51.100.99/24" in v4(kns)  # left for the next sync, which removes it
    assert sync(DESIRED[:2], kns.conn).counts()["removed"] == 1


@pytest.mark.kernel
def test_concurrent_ip_never_makes_sync_loop(kns: Any, tmp_path: Any) -> None:
    stop = tmp_path / "stop"
    script = (f"while [ ! -e {stop} ]; do ip addr add 198.51.100.77/24 dev v0 2>/dev/null; "
              "ip addr del 198.51.100.1/24 dev v0 2>/dev/null; "
              "ip addr del 198.51.100.77/24 dev v0 2>/dev/null; done")
    proc = kns.ns.popen(["sh", "-c", script])
    try:
        conn, rec = recording(kns)
        with conn:
            for _ in range(20):
                rec.types.clear()
                r = sync(DESIRED[:2], conn)
                gets = [t for t in rec.types if t in GETS]
                assert len(gets) <= 7  # link, addr+route, re-reads after deletions, verify
                assert len(rec.changes()) <= 4  # at most: two adds, one delete, one re-add
                assert all(c.status in ("ok", "failed") for c in r.changes)
                for c in r.drift:  # what drifted is one of the two racing addresses
                    assert str(c.key).count("198.51.100.") == 1
    finally:
        stop.touch()  # the loop ends after its current ip command (a kill would leave it)
        proc.wait(timeout=60)
    r = sync(DESIRED[:2], kns.conn)
    assert r.ok and not r.drift
    assert set(v4(kns)) == {"198.51.100.1/24", "198.51.100.2/24"}


def test_refused_before_anything_is_sent() -> None:
    from nlcore.net.fake import FakeTransport

    class Rule:
        kind = "rule"
        op = "add"

        def text(self) -> str:
            return "from 198.51.100.0/24 table 7"

    fake = FakeTransport(lambda req: [])
    with pytest.raises(SpecError, match="sync cannot take rule items yet"):
        sync([Rule()], Conn(fake))
    with pytest.raises(SpecError, match=r"not del 198\.51\.100\.1/24"):
        sync([AddrSpec("198.51.100.1/24", index=2, op="del")], Conn(fake))
    assert fake.sent == []


@pytest.mark.kernel
def test_link_settings_first_and_only_what_differs(kns: Any) -> None:
    from nlcore.codec.link import LinkSpec

    kns.ns.run(["ip", "link", "set", "v0", "down"], check=True)
    want = [LinkSpec("v0", up=True, mtu=1400), AddrSpec("198.51.100.1/24", dev="v0")]
    conn, rec = recording(kns)
    with conn:
        r = sync(want, conn)
        assert r.ok, r.lines()
        (link,) = [c for c in r.changes if c.kind == "link"]
        assert link.action == "change" and link.why == ["up", "mtu"]
        assert rec.changes().index(C.RTM_NEWLINK) < rec.changes().index(C.RTM_NEWADDR)
        (shown,) = kns.ip_json("link", "show", "v0")
        assert shown["mtu"] == 1400 and "UP" in shown["flags"]
        again = sync(want, conn)
        assert again.sends == 0 and again.counts()["unchanged"] == 2
        kns.ns.run(["ip", "link", "set", "v0", "mtu", "1500"], check=True)
        third = sync(want, conn)
        assert [c.why for c in third.changes] == [["mtu"]]
    with pytest.raises(SpecError, match="does not rename"):
        sync([LinkSpec("v0", name="v9")], kns.conn)


@pytest.mark.kernel
def test_neighbours_static_owned_only_when_asked(kns: Any) -> None:
    from nlcore.codec.neigh import NeighSpec

    def neighs() -> dict[str, dict[str, Any]]:
        return {n["dst"]: n for n in kns.ip_json("neigh", "show", "dev", "v0")}

    for addr, state in (("198.51.100.6", "permanent"), ("198.51.100.7", "stale"),
                        ("198.51.100.5", "permanent")):
        kns.ns.run(["ip", "neigh", "add", addr, "lladdr", "02:00:00:00:00:01", "dev", "v0",
                    "nud", state], check=True)
    want = [AddrSpec("198.51.100.1/24", dev="v0"),
            NeighSpec("198.51.100.5", lladdr="02:00:00:00:00:05", dev="v0")]
    r = sync(want, kns.conn)  # neighbours not owned: the extra permanent one stays
    assert r.ok, r.lines()
    assert [(c.kind, c.action, c.why) for c in r.changes if c.kind == "neigh"] == [
        ("neigh", "change", ["lladdr"])]
    assert set(neighs()) == {"198.51.100.5", "198.51.100.6", "198.51.100.7"}
    assert neighs()["198.51.100.5"]["lladdr"] == "02:00:00:00:00:05"
    r = sync(want, kns.conn, ownership=Ownership(kinds={"addr", "route", "neigh"}))
    assert r.ok and [c.action for c in r.changes] == ["remove"], r.lines()
    assert set(neighs()) == {"198.51.100.5", "198.51.100.7"}  # the learned one is the kernel's
    assert sync(want, kns.conn, ownership=Ownership(kinds={"addr", "route", "neigh"})
                ).sends == 0
