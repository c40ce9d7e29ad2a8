"""Per-thread capability drop: EPERM (not EACCES), restore, other threads untouched, and the
kernel's check of the socket opener's credentials."""

from __future__ import annotations

import errno
import json
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
from _util import run_unprivileged

from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addr
from nlcore.faults import caps
from nlcore.faults.kernel import KATA_REQUEST, KernelLab, reply_error
from nlcore.net import netns
from nlcore.net.conn import Conn

REPO = Path(__file__).resolve().parents[1]


NET_ADMIN = 1 << caps.CAP_NET_ADMIN
V4 = encode_addr(AddrSpec("192.0.2.1/24", index=2, op="replace"), 5, 0)  # idempotent


def _root_mode() -> bool:
    try:
        return netns.mode() == "root" and caps.capget().has("CAP_NET_ADMIN")
    except (PermissionError, OSError):
        return False


needs_root = pytest.mark.skipif(not _root_mode(), reason="in-process capability tests need "
                                "root with CAP_NET_ADMIN (the unprivileged path is covered by "
                                "test_eperm_unprivileged_through_own_userns)")


@pytest.fixture
def lab() -> Iterator[KernelLab]:
    with KernelLab(userns=False) as lab:
        yield lab


def test_cap_number() -> None:
    assert caps.cap_number("CAP_NET_ADMIN") == caps.cap_number("net_admin") == 12
    assert caps.cap_number(21) == 21
    for bad in ("CAP_NOPE", 64, -1, True):
        with pytest.raises(ValueError):
            caps.cap_number(bad)


def test_capget_matches_proc() -> None:
    assert caps.capget().effective == caps.thread_effective()


@needs_root
def test_dropped_gives_eperm_and_restores(lab: KernelLab) -> None:
    before = caps.capget()
    with caps.dropped() as cs:
        assert not cs.has("CAP_NET_ADMIN") and cs.permitted == before.permitted
        assert caps.thread_effective() == before.effective & ~NET_ADMIN
        assert reply_error(lab.exchange(KATA_REQUEST)) == (-errno.EPERM, None)
        with pytest.raises(PermissionError) as ei:
            lab.conn.request(V4)
        assert ei.value.errno == errno.EPERM
    assert caps.capget() == before
    assert reply_error(lab.exchange(V4)) == (0, None)


@needs_root
def test_other_capabilities_can_be_dropped(lab: KernelLab) -> None:
    sock = lab.socket()  # opening one needs setns(), i.e. CAP_SYS_ADMIN
    with caps.dropped("CAP_NET_RAW", "CAP_SYS_ADMIN") as cs:
        assert not cs.has("CAP_NET_RAW") and not cs.has(21) and cs.has("CAP_NET_ADMIN")
        assert reply_error(lab.exchange(V4, sock)) == (0, None)
        with pytest.raises(PermissionError):
            lab.socket()
    assert caps.capget().has("CAP_NET_RAW")
    sock.close()


@needs_root
def test_other_threads_keep_their_capabilities(lab: KernelLab) -> None:
    dropped, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def worker() -> None:
        with caps.dropped():
            seen["tid"] = threading.get_native_id()
            seen["reply"] = reply_error(lab.exchange(V4))
            dropped.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    assert dropped.wait(10)
    try:
        assert seen["reply"] == (-errno.EPERM, None)
        assert not caps.thread_effective(int(str(seen["tid"]))) & NET_ADMIN
        assert caps.thread_effective() & NET_ADMIN  # this thread: untouched
        assert reply_error(lab.exchange(V4)) == (0, None)
    finally:
        release.set()
        t.join()


@needs_root
def test_run_without(lab: KernelLab) -> None:
    before = caps.capget()
    assert caps.run_without(lambda: reply_error(lab.exchange(V4))) == (-errno.EPERM, None)
    assert caps.run_without(caps.thread_effective) == before.effective & ~NET_ADMIN
    with pytest.raises(PermissionError):
        caps.run_without(lab.conn.request, V4)
    assert caps.capget() == before
    assert reply_error(lab.exchange(V4)) == (0, None)


@needs_root
def test_opener_credentials_are_checked_without_destination(lab: KernelLab) -> None:
    """A socket opened while CAP_NET_ADMIN was dropped keeps failing for send() without a
    destination, even once the thread has it back; sendto() to the kernel succeeds."""
    with caps.dropped():
        weak = lab.ns.socket()
    strong = lab.ns.socket()
    for s in (weak, strong):
        s.bind((0, 0))
        s.settimeout(5)
    assert caps.capget().has("CAP_NET_ADMIN")
    weak.send(V4)
    assert reply_error(weak.recv(4096)) == (-errno.EPERM, None)
    weak.sendto(V4, (0, 0))
    assert reply_error(weak.recv(4096)) == (0, None)
    strong.send(V4)
    assert reply_error(strong.recv(4096)) == (0, None)
    # nlcore always names the kernel as destination, so Conn works on such a socket
    from nlcore.net.transport import NetlinkSocket

    c = Conn(NetlinkSocket(weak))
    c.request(V4)
    c.close()
    strong.close()


@needs_root
def test_userns_owner_keeps_capabilities() -> None:
    """Measured fact: a thread outside the owning user namespace whose euid owns it keeps
    every capability there, dropped or not (why the caps layer re-execs in its own userns)."""
    with KernelLab(userns=True) as lab, caps.dropped():
        assert reply_error(lab.exchange(V4)) == (0, None)


@needs_root
def test_drop_restore_100_times(lab: KernelLab) -> None:
    sock = lab.socket()
    before = caps.capget()
    for _ in range(100):
        with caps.dropped():
            assert reply_error(lab.exchange(V4, sock)) == (-errno.EPERM, None)
        assert reply_error(lab.exchange(V4, sock)) == (0, None)
    assert caps.capget() == before
    sock.close()


def _repro_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    return run_unprivileged("-m", "nlcore.faults.repro", *args)


def test_eperm_unprivileged_through_own_userns() -> None:
    """Unprivileged, the caps layer re-runs itself as root of its own user namespace."""
    res = _repro_unprivileged("eperm-cap-drop", "--layer", "caps", "-j")
    if res.returncode == 3:
        pytest.skip(f"user namespaces unavailable: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["reproduced"], out["error"], out["errno"], out["mode"]) == \
        (True, -1, "EPERM", "user namespace")
    assert bytes.fromhex(out["reply_hex"])[20:84] == KATA_REQUEST
