"""The apply engine against the real kernel in a throwaway namespace; kernel state is read
back with ``ip -j addr show`` (an independent tool) and compared with the specs exactly."""

from __future__ import annotations

import errno
import ipaddress

import pytest

from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import Conn
from nlcore.ops.engine import Ipv6DisabledError, apply

pytestmark = pytest.mark.kernel
DISABLED = "ipv6: IPv6 is disabled on this device"


def v4(n: int, index: int, op: str = "add") -> list[AddrSpec]:
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    return [AddrSpec(f"{ipaddress.IPv4Address(base + i)}/32", index=index, op=op)  # type: ignore
            for i in range(1, n + 1)]


def v6(n: int, index: int, op: str = "add") -> list[AddrSpec]:
    return [AddrSpec(f"2001:db8::{i:x}/64", index=index, op=op, flags="nodad")  # type: ignore
            for i in range(1, n + 1)]


def as_set(specs: list[AddrSpec]) -> set[tuple[str, int]]:
    return {(str(ipaddress.ip_address(s.address.split("/")[0])), s.prefixlen) for s in specs}


def test_10k_v4_and_10k_v6_in_one_call_then_delete_all(kns: object) -> None:
    env = kns
    add = v4(10_000, env.v0) + v6(10_000, env.v1)  # type: ignore[attr-defined]
    report = apply(add, env.conn)  # type: ignore[attr-defined]
    assert len(report) == 20_000 and report.counts() == {"ok": 20_000}
    assert env.addrs("v0", 4) == as_set(add[:10_000])  # type: ignore[attr-defined]
    six = {a for a in env.addrs("v1", 6) if not a[0].startswith("fe80")}  # type: ignore
    assert six == as_set(add[10_000:])
    dels = [AddrSpec(s.address, index=s.index, op="del") for s in add]
    assert apply(dels, env.conn).counts() == {"ok": 20_000}  # type: ignore[attr-defined]
    assert env.addrs("v0", 4) == set()  # type: ignore[attr-defined]
    assert {a for a in env.addrs("v1", 6) if not a[0].startswith("fe80")} == set()  # type: ignore


def test_mixed_batch_duplicates_bad_ifindex_partial_failure(kns: object) -> None:
    env = kns
    good = v4(50, env.v0)  # type: ignore[attr-defined]
    specs = good[:25] + [good[3], AddrSpec("203.0.113.9/24", index=999_999)] + good[25:] \
        + [good[49]]
    report = apply(specs, env.conn)  # type: ignore[attr-defined]
    statuses = [r.status for r in report]
    assert statuses == ["ok"] * 25 + ["failed", "failed"] + ["ok"] * 25 + ["failed"]
    assert report[25].error is not None and report[25].error.errno == errno.EEXIST
    assert report[26].error is not None and report[26].error.errno == errno.ENODEV
    assert isinstance(report[25].error, FileExistsError)
    # the kernel's state is exactly the ok results
    assert env.addrs("v0", 4) == as_set([s for s, r in zip(specs, report) if r.ok])  # type: ignore
    again = apply(specs, env.conn, exist_ok=True)  # type: ignore[attr-defined]
    assert [r.status for r in again].count("exists") == 52
    dels = [AddrSpec(s.address, index=s.index, op="del") for s in good] + \
        [AddrSpec("198.18.200.1/32", index=env.v0, op="del")]  # type: ignore[attr-defined]
    strict = apply(dels, env.conn)  # type: ignore[attr-defined]
    assert strict[-1].status == "failed" and strict[-1].error is not None
    assert strict[-1].error.errno == errno.EADDRNOTAVAIL
    lax = apply(dels, env.conn, missing_ok=True)  # type: ignore[attr-defined]
    assert [r.status for r in lax] == ["absent"] * 51 and lax.ok


def test_replace_is_idempotent(kns: object) -> None:
    env = kns
    specs = v4(20, env.v0, op="replace")  # type: ignore[attr-defined]
    assert apply(specs, env.conn).counts() == {"ok": 20}  # type: ignore[attr-defined]
    assert apply(specs, env.conn).counts() == {"ok": 20}  # type: ignore[attr-defined]
    assert env.addrs("v0", 4) == as_set(specs)  # type: ignore[attr-defined]


def kata(index: int) -> AddrSpec:
    return AddrSpec("fe80::c44c:1cff:fe84:f6b7/64", index=index, op="replace",
                    peer="fe80::c44c:1cff:fe84:f6b7/64", address_first=True, dev="v1")


@pytest.mark.parametrize("where", ["all", "v1"])
def test_disable_ipv6_policies(kns: object, where: str) -> None:
    env = kns
    env.ns.write_sysctl(f"net/ipv6/conf/{where}/disable_ipv6", "1")  # type: ignore
    specs = [kata(env.v1), AddrSpec("198.51.100.7/24", index=env.v1, dev="v1")]  # type: ignore
    strict = apply(specs, env.conn)  # type: ignore[attr-defined]
    assert [r.status for r in strict] == ["failed", "ok"]
    err = strict[0].error
    assert isinstance(err, PermissionError) and err is not None and err.errno == errno.EACCES
    assert err.msg == DISABLED
    assert err.hint == "IPv6 is disabled on v1 (net.ipv6.conf.v1.disable_ipv6=1)"
    assert str(err).startswith("RTM_NEWADDR fe80::c44c:1cff:fe84:f6b7/64 dev v1: [Errno 13] "
                               f"Permission denied: {DISABLED}")
    skip = apply(specs, env.conn, exist_ok=True, ipv6_disabled="skip")  # type: ignore
    assert [r.status for r in skip] == ["skipped", "exists"]
    assert skip[0].reason == "skipped: IPv6 is disabled on v1 " \
        "(net.ipv6.conf.v1.disable_ipv6=1)"
    seq_before = env.conn.take_seqs(0)  # type: ignore[attr-defined]
    with pytest.raises(Ipv6DisabledError, match="nothing was sent"):
        apply(specs, env.conn, ipv6_disabled="preflight-error")  # type: ignore[attr-defined]
    assert env.conn.take_seqs(0) == seq_before + 1  # only the RTM_GETLINK went out
    assert env.addrs("v1", 6) == set()  # type: ignore[attr-defined]


def test_enobufs_resolved_from_kernel_state(kns: object) -> None:
    """A receive buffer far too small for 50,000 acks: the kernel drops acks (ENOBUFS);
    the engine re-reads the addresses and resolves every lost one; nothing lost or doubled."""
    from nlcore.ops.link import add_veth

    env = kns
    # 50,000 addresses over 10 devices (one device's address list makes inserts O(n))
    devs = [(f"e{i}", idx) for i in range(5)
            for idx in zip((f"e{i}", f"f{i}"), add_veth(env.conn, f"e{i}", f"f{i}"))]  # type: ignore
    small = Conn(ns=env.ns, rcvbuf=4096)  # type: ignore[attr-defined]
    try:
        specs = []
        for k, (_, (name, idx)) in enumerate(devs):
            specs += [AddrSpec(f"198.{18 + (k >> 3)}.{(k & 7) * 32 + (i >> 8)}.{i & 255}/32",
                               index=idx, dev=name) for i in range(5000)]
        report = apply(specs, small, batch=4096)
        assert small.stats.overruns >= 1
        # a lost add is "ok" when its address is newer than one this run's acked adds
        # created; one made within the same 10 ms of the kernel's clock cannot be told
        # from one that was there before: "unknown" (present), never a false "ok"
        counts = report.counts()
        assert len(report) == 50_000 and set(counts) <= {"ok", "unknown"}
        assert counts["ok"] >= 40_000
        assert 0 < len(report.resolved) < 50_000
        unknown = [r for r in report if r.status == "unknown"]
        assert len(unknown) == counts.get("unknown", 0)
        assert all(r.resolved and r.error is not None and r.error.state == "present"
                   for r in unknown)
        for _, (name, _idx) in devs:
            assert env.addrs(name, 4) == as_set([s for s in specs if s.dev == name])  # type: ignore
    finally:
        small.close()


@pytest.mark.parametrize("label", [".", "..", "v0:x"])
def test_label_dots_accepted_as_the_kernel_stores_them(kns: object, label: str) -> None:
    """'.' and '..' are valid labels (unlike interface names): the kernel keeps them as given."""
    env = kns
    spec = AddrSpec("192.0.2.7/24", index=env.v0, label=label)  # type: ignore[attr-defined]
    assert apply([spec], env.conn).counts() == {"ok": 1}  # type: ignore[attr-defined]
    info = [a for link in env.ip_json("-4", "addr", "show", "dev", "v0")  # type: ignore
            for a in link["addr_info"]]
    assert [(a["local"], a["label"]) for a in info] == [("192.0.2.7", label)]


@pytest.mark.parametrize("name", [".", ".."])
def test_interface_name_dots_rejected_before_any_byte(name: str) -> None:
    """An interface name may not be '.' or '..' (dev_valid_name); the error says so."""
    from nlcore.codec import wire
    from nlcore.codec.errors import SpecError

    with pytest.raises(SpecError, match=r"not '\.' or '\.\.'") as exc:
        wire.encode_getlink(name=name)
    assert repr(name) in str(exc.value)
