"""pcap and pcapng files captured on an ``nlmon`` device (link type 253, LINKTYPE_NETLINK).

libpcap captures netlink in "cooked" mode: each packet starts with a 16-byte header (packet
type, ARPHRD_NETLINK = 824, address length, 8 address bytes, and the netlink protocol, all
big-endian) and then the netlink messages. A packet without that header (other writers) is
taken as bare netlink. Only NETLINK_ROUTE (protocol 0) packets are returned; others are
named and skipped.
"""

from __future__ import annotations

import struct

LINKTYPE_NETLINK = 253
ARPHRD_NETLINK = 824
_PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
               b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}
_PCAPNG = b"\x0a\x0d\x0d\x0a"


class PcapError(ValueError):
    """A pcap file nlcore cannot read (truncated, or not netlink)."""


def is_pcap(raw: bytes) -> bool:
    """Whether ``raw`` starts like a pcap or pcapng file."""
    return raw[:4] in _PCAP_MAGIC or raw[:4] == _PCAPNG


def _payload(pkt: bytes, n: int) -> tuple[bytes, str] | None:
    """The netlink bytes of packet ``n``, or None when it is not NETLINK_ROUTE."""
    if len(pkt) >= 16 and struct.unpack_from(">H", pkt, 2)[0] == ARPHRD_NETLINK:
        proto = struct.unpack_from(">H", pkt, 14)[0]
        if proto != 0:
            return None
        return pkt[16:], f"pcap packet {n}"
    return pkt, f"pcap packet {n}"


def _classic(raw: bytes) -> list[tuple[bytes, str]]:
    e = _PCAP_MAGIC[raw[:4]]
    if len(raw) < 24:
        raise PcapError("pcap file shorter than its 24-byte header")
    linktype = struct.unpack_from(e + "I", raw, 20)[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_NETLINK:
        raise PcapError(f"pcap link type {linktype}, not netlink (253): capture on an nlmon "
                        f"device (ip link add nlmon0 type nlmon)")
    out, pos, n = [], 24, 0
    while pos < len(raw):
        if len(raw) - pos < 16:
            raise PcapError(f"pcap record header truncated at offset {pos}")
        incl = struct.unpack_from(e + "I", raw, pos + 8)[0]
        if incl > len(raw) - pos - 16:
            raise PcapError(f"pcap record at offset {pos} claims {incl} bytes, "
                            f"{len(raw) - pos - 16} left")
        n += 1
        got = _payload(raw[pos + 16:pos + 16 + incl], n)
        if got is not None:
            out.append(got)
        pos += 16 + incl
    return out


def _pcapng(raw: bytes) -> list[tuple[bytes, str]]:
    if len(raw) < 12:
        raise PcapError("pcapng file shorter than its section header")
    e = "<" if raw[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    out, pos, n, links = [], 0, 0, []
    while pos < len(raw):
        if len(raw) - pos < 12:
            raise PcapError(f"pcapng block truncated at offset {pos}")
        btype, blen = struct.unpack_from(e + "II", raw, pos)
        if blen < 12 or blen % 4 or blen > len(raw) - pos:
            raise PcapError(f"pcapng block at offset {pos} has length {blen}")
        body = raw[pos + 8:pos + blen - 4]
        if btype == 1:  # interface description
            links.append(struct.unpack_from(e + "H", body, 0)[0])
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            iface, _, _, cap = struct.unpack_from(e + "IIII", body, 0)
            if iface < len(links) and links[iface] != LINKTYPE_NETLINK:
                raise PcapError(f"pcapng interface {iface} has link type {links[iface]}, "
                                f"not netlink (253)")
            n += 1
            got = _payload(body[20:20 + cap], n)
            if got is not None:
                out.append(got)
        pos += blen
    return out


def read_pcap(raw: bytes) -> list[tuple[bytes, str]]:
    """``(netlink bytes, "pcap packet N")`` for each NETLINK_ROUTE packet."""
    return _pcapng(raw) if raw[:4] == _PCAPNG else _classic(raw)


def write_pcap(packets: list[bytes], protocol: int = 0) -> bytes:
    """A pcap file (link type 253) holding ``packets`` with libpcap's cooked header, as
    ``tcpdump -i nlmon0 -w`` writes one (timestamps zero)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_NETLINK)]
    for i, p in enumerate(packets):
        cooked = struct.pack(">HHH8sH", 4 if i % 2 == 0 else 0, ARPHRD_NETLINK, 0, b"",
                             protocol) + p
        out.append(struct.pack("<IIII", 0, 0, len(cooked), len(cooked)) + cooked)
    return b"".join(out)
