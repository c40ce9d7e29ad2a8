"""A stateful fake kernel for engine tests: it holds addresses, answers RTM_NEWADDR /
RTM_DELADDR as rtnetlink does (EEXIST, EADDRNOTAVAIL; an ack only when NLM_F_ACK is set, an
error always), dumps RTM_GETADDR, and names devices by RTM_GETLINK (ENODEV otherwise)."""

from __future__ import annotations

import errno
import socket
import struct
from typing import Iterator

from nlcore.codec import consts as C
from nlcore.codec import wire
from nlcore.codec.spec import AddrSpec
from nlcore.net.fake import Reply

HDR = struct.Struct("=IHHII")


def _addr_of(req: bytes) -> tuple[int, int, str, int]:
    family, plen, _fl, _sc, index = struct.unpack_from("=BBBBI", req, 16)
    pos = 24
    found: dict[int, bytes] = {}
    while pos + 4 <= len(req):
        alen, atype = struct.unpack_from("=HH", req, pos)
        if alen < 4:
            break
        found.setdefault(atype, req[pos + 4:pos + alen])
        pos += (alen + 3) & ~3
    raw = found.get(C.IFA_LOCAL, found.get(C.IFA_ADDRESS))
    assert raw is not None
    fam = socket.AF_INET if family == C.AF_INET else socket.AF_INET6
    return index, family, socket.inet_ntop(fam, raw), plen


class StateKernel:
    """FakeTransport handler with state. ``devices`` maps name -> index."""

    def __init__(self, devices: dict[str, int] | None = None, stamps: bool = False) -> None:
        self.addrs: set[tuple[int, int, str, int]] = set()
        self.stamps: dict[tuple[int, int, str, int], int] | None = {} if stamps else None
        self.clock = 100  # addresses put in self.addrs directly are older (stamp 0)
        self.devices = devices if devices is not None else {"v0": 2}
        self.acks_asked = 0
        self.requests = 0

    def __call__(self, req: bytes) -> Iterator[Reply]:
        _n, tp, flags, seq, _p = HDR.unpack_from(req)
        if tp == C.RTM_GETADDR:
            yield self._dump(seq)
            return
        if tp == C.RTM_GETLINK:
            yield from self._link(req, seq)
            return
        self.requests += 1
        err = 0
        key = _addr_of(req)
        if tp == C.RTM_NEWADDR:
            if key in self.addrs and flags & C.NLM_F_EXCL:
                err = -errno.EEXIST
            elif key not in self.addrs and self.stamps is not None:
                self.clock += 1
                self.stamps[key] = self.clock
            self.addrs.add(key)
        elif tp == C.RTM_DELADDR:
            if key not in self.addrs:
                err = -errno.EADDRNOTAVAIL
            self.addrs.discard(key)
        else:
            err = -errno.EOPNOTSUPP
        if flags & C.NLM_F_ACK:
            self.acks_asked += 1
        if err or flags & C.NLM_F_ACK:
            yield wire.encode_error_reply(req, err, 0)

    def _dump(self, seq: int) -> bytes:
        out = b""
        for key in sorted(self.addrs):
            index, _family, local, plen = key
            m = bytearray(wire.encode_addr(AddrSpec(f"{local}/{plen}", index=index), seq=seq))
            if self.stamps is not None:  # IFA_CACHEINFO: preferred, valid, cstamp, tstamp
                stamp = self.stamps.get(key, 0)
                m += struct.pack("=HHIIII", 20, C.IFA_CACHEINFO, 0, 0, stamp, stamp)
                struct.pack_into("=I", m, 0, len(m))
            struct.pack_into("=HH", m, 4, C.RTM_NEWADDR, C.NLM_F_MULTI)
            out += bytes(m)
        return out + HDR.pack(20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, 0) + bytes(4)

    def _link(self, req: bytes, seq: int) -> Iterator[Reply]:
        name = None
        pos = 32
        while pos + 4 <= len(req):
            alen, atype = struct.unpack_from("=HH", req, pos)
            if alen < 4:
                break
            if atype == C.IFLA_IFNAME:
                name = req[pos + 4:pos + alen].split(b"\0")[0].decode()
            pos += (alen + 3) & ~3
        if name not in self.devices:
            yield wire.encode_error_reply(req, -errno.ENODEV, 0)
            return
        raw = name.encode() + b"\0"
        body = C.IFINFOMSG.pack(0, 1, self.devices[name], 0, 0)
        body += C.NLATTR.pack(4 + len(raw), C.IFLA_IFNAME) + raw + bytes(-len(raw) % 4)
        yield HDR.pack(16 + len(body), C.RTM_NEWLINK, 0, seq, 0) + body
