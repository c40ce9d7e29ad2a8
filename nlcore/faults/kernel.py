"""Kernel-true faults: the real kernel, in a throwaway namespace, set up to refuse.

:class:`KernelLab` is a throwaway network namespace (root, or unprivileged through a user
namespace) holding a veth pair made with nlcore's own RTM_NEWLINK, arranged so that the
device under test is interface index 2 (``lo`` is 1), as in kata-containers#11200.
:data:`SCENARIOS` are the refusals measured on Linux 6.18:

* ``kata-11200``: ``net.ipv6.conf.all.disable_ipv6=1`` (GKE) -> RTM_NEWADDR AF_INET6 gets
  -13 EACCES, extack "ipv6: IPv6 is disabled on this device" (kernels >= 6.6).
* ``ipv6-disabled-dev``: the same with only the device's own ``disable_ipv6``.
* ``ipv6-all-then-default0``: ``all=1`` then ``default=0``; ``default`` only affects devices
  created later, the existing one stays disabled -> EACCES.
* ``mtu-below-1280``: MTU 1279 removes the device's IPv6 state -> -22 EINVAL, no message.
* ``eperm-cap-drop``: CAP_NET_ADMIN dropped (see :mod:`nlcore.faults.caps`) -> -1 EPERM.
* the route and neighbour scenarios of :mod:`nlcore.faults.route_faults`.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
from typing import Any

from ..codec.decode import ErrorMsg, decode
from ..codec.spec import AddrSpec
from ..codec.wire import encode_addr
from ..net.conn import Conn
from ..net.netns import ThrowawayNetns
from ..net.transport import NetlinkSocket
from ..ops.link import add_veth, set_link
from .route_faults import (
    DEV_INDEX,
    ROUTE_MSG,
    ROUTE_SCENARIOS,
    encode_neigh,
    encode_route,
    encode_route6,
    route_request,
)
from .scenario import Scenario

KATA_SEQ = 19
KATA_ADDRESS = "fe80::c44c:1cff:fe84:f6b7/64"
#: The request echoed in kata-containers#11200, verbatim from its log.
KATA_REQUEST = bytes([
    64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0,
    20, 0, 1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183,
    20, 0, 2, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183])
KATA_MSG = "ipv6: IPv6 is disabled on this device"
CLONE_NEWUSER = 0x10000000


def kata_spec(index: int = DEV_INDEX) -> AddrSpec:
    """The Kata agent's request: ``replace`` with IFA_ADDRESS before IFA_LOCAL (flags 0x505)."""
    return AddrSpec(KATA_ADDRESS, index=index, op="replace", peer=KATA_ADDRESS,
                    address_first=True)


def kata_request(seq: int = KATA_SEQ, index: int = DEV_INDEX) -> bytes:
    """The Kata RTM_NEWADDR; with the defaults, exactly :data:`KATA_REQUEST`."""
    return encode_addr(kata_spec(index), seq, 0)


class KernelLab:
    """A throwaway namespace with veth ``v0`` <-> ``v1``; :attr:`dev` is the one at index 2.

    ``userns``: as :class:`~nlcore.net.netns.ThrowawayNetns` (None picks root or user namespace;
    OSError/PermissionError when neither works). :attr:`conn` is a Conn inside it.
    """

    def __init__(self, userns: bool | None = None, names: tuple[str, str] = ("v0", "v1")) -> None:
        self.ns = ThrowawayNetns(userns=userns)
        try:
            self.conn = Conn(ns=self.ns)
            a, b = add_veth(self.conn, *names)
            if DEV_INDEX not in (a, b):
                raise RuntimeError(f"veth got indexes {a}, {b}: the namespace was not fresh")
            # the kernel registers the peer first; whichever got index 2 is the device
            self.dev, self.peer = (names[0], names[1]) if a == DEV_INDEX else (names[1], names[0])
            self.index, self.peer_index = DEV_INDEX, b if a == DEV_INDEX else a
            for idx in (self.index, self.peer_index):
                set_link(self.conn, idx, up=True)
        except BaseException:
            self.ns.close()
            raise

    @property
    def userns(self) -> bool:
        """True when the namespace lives in a user namespace (unprivileged mode)."""
        return self.ns.userns

    def sysctl(self, path: str, value: str | int) -> None:
        """Write ``/proc/sys/<path>`` inside the namespace (``net/...``)."""
        self.ns.write_sysctl(path, str(value))

    def read_sysctl(self, path: str) -> str:
        """Read ``/proc/sys/<path>`` inside the namespace."""
        return self.ns.read_sysctl(path)

    def disable_ipv6(self, target: str = "all", value: bool = True) -> None:
        """``net.ipv6.conf.<target>.disable_ipv6`` (target ``all``, ``default`` or a device)."""
        self.sysctl(f"net/ipv6/conf/{target}/disable_ipv6", int(value))

    def set_mtu(self, mtu: int, index: int | None = None) -> None:
        """Set the MTU of the device (or of ``index``)."""
        set_link(self.conn, self.index if index is None else index, mtu=mtu)

    def reset(self) -> None:
        """Undo every scenario: IPv6 on everywhere, MTU 1500."""
        self.set_mtu(1500)
        self.disable_ipv6("all", False)  # also writes default and every device
        self.disable_ipv6(self.dev, False)

    def ip(self, *args: str) -> Any:
        """``ip -j ARGS`` inside the namespace, parsed (None when it prints nothing)."""
        res = self.ns.run(["ip", "-j", *args])
        if res.returncode != 0:
            raise OSError(errno.EINVAL, f"ip {' '.join(args)}: {res.stderr.strip()}")
        return json.loads(res.stdout) if res.stdout.strip() else None

    def socket(self, *, ext_ack: bool = True, cap_ack: bool = False) -> NetlinkSocket:
        """A new NETLINK_ROUTE socket in the namespace (no NETLINK_CAP_ACK by default, so an
        error echoes the whole request, as in the Kata log)."""
        return NetlinkSocket(self.ns.socket(), ext_ack=ext_ack, cap_ack=cap_ack, timeout=5.0)

    def exchange(self, request: bytes, sock: NetlinkSocket | None = None, *,
                 ext_ack: bool = True, cap_ack: bool = False) -> bytes:
        """Send ``request`` as is and return the kernel's reply datagram, unparsed."""
        own = sock is None
        s = self.socket(ext_ack=ext_ack, cap_ack=cap_ack) if sock is None else sock
        try:
            s.send(request)
            buf = bytearray(1 << 16)
            n, _sender = s.recv(buf)
            return bytes(buf[:n])
        finally:
            if own:
                s.close()

    def close(self) -> None:
        """Close the Conn and release the namespace."""
        self.conn.close()
        self.ns.close()

    def __enter__(self) -> KernelLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reply_error(reply: bytes) -> tuple[int, str | None]:
    """``(error, extack message)`` of an NLMSG_ERROR datagram."""
    for m in decode(reply):
        if isinstance(m, ErrorMsg):
            return m.error, m.extack.msg if m.extack else None
    raise ValueError("no NLMSG_ERROR in the reply")


def echoed(reply: bytes) -> bytes:
    """The request an NLMSG_ERROR echoes (the 16-byte header only when capped)."""
    for m in decode(reply):
        if isinstance(m, ErrorMsg):
            return m.request
    raise ValueError("no NLMSG_ERROR in the reply")


def _all(lab: KernelLab) -> None:
    lab.disable_ipv6("all")


def _dev(lab: KernelLab) -> None:
    lab.disable_ipv6(lab.dev)


def _all_then_default0(lab: KernelLab) -> None:
    lab.disable_ipv6("all")
    lab.disable_ipv6("default", False)


def _mtu(lab: KernelLab) -> None:
    lab.set_mtu(1279)


def _nothing(lab: KernelLab) -> None:
    return None


def _kata(seq: int) -> bytes:
    return kata_request(seq)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("kata-11200", "IPv6 address on index 2 with net.ipv6.conf.all.disable_ipv6=1 "
             "(GKE): the Kata failure", _all, _kata, -errno.EACCES, KATA_MSG, kata_spec(),
             ("kernel", "synthetic", "caps", "seccomp")),
    Scenario("ipv6-disabled-dev", "IPv6 address on a device whose own disable_ipv6=1",
             _dev, _kata, -errno.EACCES, KATA_MSG, kata_spec()),
    Scenario("ipv6-all-then-default0", "all.disable_ipv6=1 then default.disable_ipv6=0: "
             "the existing device stays disabled", _all_then_default0, _kata,
             -errno.EACCES, KATA_MSG, kata_spec()),
    Scenario("mtu-below-1280", "IPv6 address on a device with MTU 1279 (< IPv6 minimum "
             "1280)", _mtu, _kata, -errno.EINVAL, None, kata_spec()),
    Scenario("eperm-cap-drop", "IPv6 address sent by a thread without CAP_NET_ADMIN: "
             "EPERM, not EACCES", _nothing, _kata, -errno.EPERM, None, kata_spec(),
             ("caps", "synthetic")),
    *ROUTE_SCENARIOS,
)}


def become_userns_root() -> None:
    """Move this (single-threaded) process into a new user namespace, as uid 0 there.

    Afterwards the process holds every capability over namespaces it creates, so root-mode
    :class:`KernelLab` works and dropping a capability from a thread really takes it away
    (a thread outside the owning user namespace keeps it through the owner rule).
    """
    uid, gid = os.geteuid(), os.getegid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUSER): {os.strerror(err)}")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                       ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


__all__ = ["DEV_INDEX", "KATA_ADDRESS", "KATA_MSG", "KATA_REQUEST", "KATA_SEQ", "ROUTE_MSG",
           "SCENARIOS", "KernelLab", "Scenario", "become_userns_root", "echoed",
           "encode_neigh", "encode_route", "encode_route6", "kata_request", "kata_spec",
           "reply_error", "route_request"]
