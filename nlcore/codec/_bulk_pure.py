"""The pure twin of csrc/bulk.c (many address texts, or a range -> ``struct nlc_addr``
records) and of csrc/route_bulk.c (records -> route requests stamped from a sample).

Same signatures and results as the native functions wrapped in :mod:`nlcore.codec.bulk`:
records for every item, or :class:`BadItem` carrying the index of the first invalid one
(the caller words the error). Validation is AddrSpec's: ``socket.inet_pton`` (libc's, as the
C calls it; IPv6 when the text has a ':'), PLEN all ASCII digits up to 32 / 128.
"""

from __future__ import annotations

import socket
import struct
from array import array

from ._pure_addr import ADDR_REC

NAME = "pure"
AUTOSCOPE = 0x80000000  # NLC_BULK_AUTOSCOPE
_ITEM_MAX = 63
_ZERO16 = bytes(16)
_DIGITS = frozenset(b"0123456789")


class BadItem(Exception):
    """Item ``index`` is invalid (or, for a range, past the family's last address)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def parse_item(item: bytes) -> tuple[int, int, bytes] | None:
    """``b"198.51.100.1/24"`` -> (family, prefixlen, local padded to 16); None if invalid."""
    addr, sep, plen_b = item.partition(b"/")
    if len(addr) > _ITEM_MAX or b"\0" in item:
        return None
    v6 = b":" in addr
    try:
        local = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, addr.decode())
    except (OSError, UnicodeDecodeError):
        return None
    top = 128 if v6 else 32
    plen = top
    if sep:
        if not plen_b or not _DIGITS.issuperset(plen_b) or int(plen_b) > top:
            return None
        plen = int(plen_b)
    return (10 if v6 else 2), plen, local.ljust(16, b"\0")


def _record(t: tuple[int, ...], family: int, plen: int, local: bytes, index: int) -> bytes:
    scope = t[4]
    if t[8] & AUTOSCOPE and family == 2 and local[0] == 127:
        scope = 254
    return ADDR_REC.pack(t[0], t[1], family, plen, scope, t[5], index, t[7], t[8] & ~AUTOSCOPE,
                         t[9], t[10], t[11], local, _ZERO16, _ZERO16, t[15])


def addr_bulk(text: bytes, n: int, tmpls: bytes, kind: bytes | None, index: array[int],
              marks: bytearray | None = None) -> bytearray:
    """Records of the ``n`` newline-separated items of ``text`` (nlc_addr_bulk): BadItem for
    the first bad one, or with ``marks`` (n bytes) 1 for each bad item and the good records
    back to back."""
    ts = [tuple(x) for x in ADDR_REC.iter_unpack(tmpls)]
    items = text.split(b"\n") if n else []
    if not index:
        raise BadItem(0)
    out = bytearray()
    for i in range(n):
        k = kind[i] if kind is not None else 0
        got = None
        # the C's order: item count and template before the text
        if i < len(items) and (i + 1 < n) == (i + 1 < len(items)) and k < len(ts):
            got = parse_item(items[i])
        if marks is not None:
            marks[i] = got is None
        if got is None:
            if marks is None:
                raise BadItem(i)
            continue
        out += _record(ts[k], got[0], got[1], got[2], index[i % len(index)])
    return out


def addr_bulk_range(base: bytes, family: int, prefixlen: int, n: int, tmpl: bytes,
                    index: array[int]) -> bytearray:
    """Records of ``n`` consecutive addresses from ``base`` (nlc_addr_bulk_range)."""
    size = 16 if family == 10 else 4
    if family not in (2, 10) or prefixlen > size * 8 or not index:
        raise BadItem(0)
    t = tuple(ADDR_REC.unpack(tmpl))
    start, top = int.from_bytes(base[:size], "big"), 1 << (8 * size)
    out = bytearray()
    for i in range(n):
        if start + i >= top:
            raise BadItem(i)
        local = (start + i).to_bytes(size, "big").ljust(16, b"\0")
        out += _record(t, family, prefixlen, local, index[i % len(index)])
    return out


# ---------------------------------------------------------------------------- batch scan
_SPACE = b" \t\r\x0b\x0c"
_SPECIAL_BYTES = frozenset(b"#\\\"'\x1c\x1d\x1e\x1f\x00") | frozenset(range(0x80, 0x100))
_FLAG_BITS = {b"nodad": 0x02, b"optimistic": 0x04, b"home": 0x10, b"mngtmpaddr": 0x100,
              b"noprefixroute": 0x200, b"autojoin": 0x400}
_WORDS_MAX = 16


def _prefix_of(word: bytes, kw: bytes) -> bool:
    return 0 < len(word) <= len(kw) and kw.startswith(word)


def _op_of(word: bytes) -> int:
    for k, kw in enumerate((b"add", b"delete", b"replace")):
        if _prefix_of(word, kw):
            return k
    return -1


def _fast_line(w: list[bytes], ts: list[tuple[int, ...]], names: dict[bytes, int],
               family: int) -> bytes | int:
    """The record of a fast line, -1 (slow) or -2 (its name is unknown)."""
    if (len(w) < 5 or not _prefix_of(w[0], b"address") or _op_of(w[1]) < 0
            or w[3] != b"dev" or (b"." not in w[2] and b":" not in w[2])):
        return -1
    flags = 0
    for word in w[5:]:
        bit = _FLAG_BITS.get(word, 0)
        if not bit:
            return -1
        flags |= bit
    got = parse_item(w[2])
    if got is None or (family and got[0] != family):
        return -1
    index = names.get(w[4]) if 0 < len(w[4]) < 16 else None
    if index is None:
        return -2
    t = list(ts[_op_of(w[1])])
    t[7] |= flags
    return _record(tuple(t), got[0], got[1], got[2], index)


def batch_scan(text: bytes, tmpls: bytes, names: list[bytes], nindex: array[int],
               family: int) -> tuple[bytearray, array[int], array[int], int]:
    """(records, their lines, slow lines, how many of those only name an unknown device) of
    one window (nlc_batch_scan)."""
    ts = [tuple(x) for x in ADDR_REC.iter_unpack(tmpls)]
    table = {n: nindex[k] for k, n in reversed(list(enumerate(names)))}
    out, lines, slow, nname = bytearray(), array("I"), array("I"), 0
    after_backslash = False
    for i, raw in enumerate(text.split(b"\n")):
        special = any(c in _SPECIAL_BYTES for c in raw)
        w = raw.split() if not special else []
        if not special and not w and not after_backslash:
            pass
        elif special or after_backslash or len(w) > _WORDS_MAX:
            slow.append(i)
        else:
            got = _fast_line(w, ts, table, family)
            if got == -1:
                slow.append(i)
            elif got == -2:
                slow.append(i | 0x80000000)
                nname += 1
            else:
                assert isinstance(got, bytes)
                out += got
                lines.append(i)
        after_backslash = b"\\" in raw
    return out, lines, slow, nname


_U32 = struct.Struct("=I")
_OIF = 8  # RTA_OIF: a route sample's last attribute


def route_bulk(recs: bytes, s4: bytes, s6: bytes) -> tuple[bytes, array[int]]:
    """One route request per record (see nlc_route_bulk): the family's sample with the
    record's prefix length, destination and index (no RTA_OIF for index 0), back to back,
    and the offsets (n + 1); BadItem for a record of a family without a sample."""
    n = len(recs) // ADDR_REC.size
    out = bytearray()
    offs = array("Q", bytes(8 * (n + 1)))
    for i in range(n):
        f = ADDR_REC.unpack_from(recs, i * ADDR_REC.size)
        family, plen, index, local = f[2], f[3], f[6], f[12]
        sample = s4 if family == socket.AF_INET else s6 if family == socket.AF_INET6 else b""
        alen = 4 if family == socket.AF_INET else 16
        if not sample or plen > 8 * alen:
            raise BadItem(i)
        msg = bytearray(sample if index else sample[:-_OIF])
        _U32.pack_into(msg, 0, len(msg))
        msg[17] = plen
        msg[32:32 + alen] = local[:alen]
        if index:
            _U32.pack_into(msg, len(msg) - 4, index)
        offs[i] = len(out)
        out += msg
    offs[n] = len(out)
    return bytes(out), offs
