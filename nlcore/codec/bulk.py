"""Bulk address input: many addresses validated and packed into records in one backend call.

:class:`AddrBulk` takes a column of address texts (or ``ipaddress`` objects), or a range
(:meth:`AddrBulk.range`), plus the fields every item shares (op, flags, scope...) and an
index (one, or one per item, cycled), and holds the ``struct nlc_addr`` records that
``apply()`` sends as a whole. It is a ``Sequence[AddrSpec]``: item ``i`` is built as an
AddrSpec only when asked for (the engine does that for failures only), with the same record.

A bad item raises :class:`~nlcore.codec.errors.SpecError` naming its index and its text
(``item 17 '198.51.100.300/24': invalid address ...``), with the wording AddrSpec would use;
no record exists then, so nothing can be sent. Both backends give the same records and the
same errors (``tests/test_bulk.py``).
"""

from __future__ import annotations

import ipaddress
import socket
from array import array
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Sequence, Union

from . import _backend
from . import _bulk_pure as BP
from ._pure_addr import ADDR_REC
from .errors import SpecError
from .records import RecordSpecs
from .spec import AddrSpec, FlagsArg, Op

IPItem = Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface,
               ipaddress.IPv6Interface, ipaddress.IPv4Network, ipaddress.IPv6Network]
IndexArg = Union[int, Sequence[int]]
_SIZE = ADDR_REC.size
_IP_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface,
             ipaddress.IPv6Interface, ipaddress.IPv4Network, ipaddress.IPv6Network)


def _wrap_native(mod: Any) -> SimpleNamespace:
    ffi, lib = mod.ffi, mod.lib
    fb = ffi.from_buffer

    def addr_bulk(text: bytes, n: int, tmpls: bytes, kind: bytes | None,
                  index: array[int], marks: bytearray | None = None) -> bytearray:
        out = bytearray(n * _SIZE)
        bad = ffi.new("size_t *")
        rc = lib.nlc_addr_bulk(fb("uint8_t[]", text), len(text), n,
                               fb("struct nlc_addr[]", tmpls), len(tmpls) // _SIZE,
                               ffi.NULL if kind is None else fb("uint8_t[]", kind),
                               fb("uint32_t[]", index), len(index),
                               ffi.NULL if marks is None else fb("uint8_t[]", marks, True),
                               fb("struct nlc_addr[]", out, True), bad)
        if rc < 0:
            raise BP.BadItem(int(bad[0]))
        if rc < n:
            del out[rc * _SIZE:]
        return out

    def addr_bulk_range(base: bytes, family: int, prefixlen: int, n: int, tmpl: bytes,
                        index: array[int]) -> bytearray:
        out = bytearray(n * _SIZE)
        bad = ffi.new("size_t *")
        rc = lib.nlc_addr_bulk_range(fb("uint8_t[]", base), family, prefixlen, n,
                                     fb("struct nlc_addr[]", tmpl), fb("uint32_t[]", index),
                                     len(index), fb("struct nlc_addr[]", out, True), bad)
        if rc < 0:
            raise BP.BadItem(int(bad[0]))
        return out

    def batch_scan(text: bytes, tmpls: bytes, names: list[bytes], nindex: array[int],
                   family: int) -> tuple[bytearray, array[int], array[int], int]:
        nlines = text.count(b"\n") + 1
        out = bytearray(nlines * _SIZE)
        lines, slow = array("I", bytes(4 * nlines)), array("I", bytes(4 * nlines))
        table = b"".join(n.ljust(16, b"\0")[:16] for n in names) or bytes(16)
        counts = ffi.new("uint32_t[3]")
        lib.nlc_batch_scan(fb("uint8_t[]", text), len(text), fb("struct nlc_addr[]", tmpls),
                           fb("char[][16]", table), fb("uint32_t[]", nindex or array("I", [0])),
                           len(names), family, fb("struct nlc_addr[]", out, True),
                           fb("uint32_t[]", lines, True), nlines, fb("uint32_t[]", slow, True),
                           counts)
        nrec, nslow = int(counts[0]), int(counts[1])
        del out[nrec * _SIZE:], lines[nrec:], slow[nslow:]
        return out, lines, slow, int(counts[2])

    def route_bulk(recs: bytes, s4: bytes, s6: bytes) -> tuple[bytes, array[int]]:
        n = len(recs) // _SIZE
        cap = n * max(len(s4), len(s6), 1)
        out = bytearray(cap)
        offs = array("Q", bytes(8 * (n + 1)))
        bad = ffi.new("size_t *")
        rc = lib.nlc_route_bulk(fb("struct nlc_addr[]", recs), n, fb("uint8_t[]", s4),
                                len(s4), fb("uint8_t[]", s6), len(s6), fb("uint8_t[]", out, True),
                                cap, fb("uint64_t[]", offs), bad)
        if rc < 0:
            raise BP.BadItem(int(bad[0]))
        del out[rc:]
        return bytes(out), offs

    return SimpleNamespace(NAME="native", addr_bulk=addr_bulk, addr_bulk_range=addr_bulk_range,
                           batch_scan=batch_scan, route_bulk=route_bulk)


_NATIVE: SimpleNamespace | None = None


def load(name: str | None = None) -> Any:
    """The bulk backend ``name`` ("native", "pure"; None: the codec's default)."""
    global _NATIVE
    name = _backend.BACKEND if name is None else name
    if name == "pure":
        return BP
    if name != "native":
        raise ValueError(f"unknown backend {name!r} (expected 'native' or 'pure')")
    if _NATIVE is None:
        from .. import _native
        _NATIVE = _wrap_native(_native)
    return _NATIVE


def template(op: str = "add", **shared: Any) -> bytes:
    """The record every item starts from: AddrSpec's validation of the shared fields (its
    errors, as they are), scope left to each address when not given."""
    spec = AddrSpec("192.0.2.1", op=op, **shared)  # type: ignore[arg-type]
    rec = list(ADDR_REC.unpack(spec.record))
    if shared.get("scope") is None and op != "del":
        rec[8] |= BP.AUTOSCOPE
    return ADDR_REC.pack(*rec)


def index_column(index: IndexArg, texts: Callable[[int], str]) -> array[int]:
    """``index`` as an array of u32 (one, or one per item, cycled); SpecError naming the item."""
    if isinstance(index, array) and index.typecode == "I":
        return index
    items: Sequence[Any] = (index,) if isinstance(index, int) else index
    single = isinstance(index, int)
    try:
        if all(type(v) is int for v in items):
            col = array("I", items)
            if col:
                return col
    except OverflowError:
        pass
    for i, v in enumerate(items):
        try:
            AddrSpec("192.0.2.1", index=v)
        except SpecError as e:
            raise (e if single else SpecError(f"item {i} {texts(i)!r}: {e}")) from None
    raise SpecError("no interface index given: expected an index or a sequence of them")


class AddrBulk(RecordSpecs):
    """Many addresses sharing op, flags, scope, label, metric, proto and lifetimes.

    >>> b = AddrBulk(["198.51.100.1/24", "2001:db8::1/64"], index=2, flags="nodad")
    >>> len(b), b[1].family, len(b.records)
    (2, 10, 192)

    ``addresses``: texts ``ADDR[/PLEN]`` or ``ipaddress`` objects. ``index``: one interface
    index, or a sequence of them used in turn (item i on ``index[i % len(index)]``).
    ``dev`` names the device in error texts. ``records`` holds the packed records,
    ``indexes`` the index column. ``backend``: "native" or "pure" (default: the
    codec's). The shared keywords are AddrSpec's.
    """

    def __init__(self, addresses: Iterable[IPItem], *, index: IndexArg = 0, op: Op = "add",
                 dev: str | None = None, flags: FlagsArg = 0, scope: int | str | None = None,
                 label: str | None = None, metric: int | None = None,
                 proto: int | None = None, valid_lft: int | str | None = None,
                 preferred_lft: int | str | None = None, backend: str | None = None) -> None:
        items = addresses if isinstance(addresses, list) else list(addresses)
        self.shared: dict[str, Any] = {
            k: v for k, v in (("flags", flags), ("scope", scope), ("label", label),
                              ("metric", metric), ("proto", proto), ("valid_lft", valid_lft),
                              ("preferred_lft", preferred_lft)) if v is not None}
        self.op, self.dev = op, dev
        tmpl = template(op, **self.shared)
        texts = self._texts(items)
        self._items: list[str] | None = texts
        self.indexes = index_column(index, texts.__getitem__)
        data = "\n".join(texts).encode("utf-8", "replace")  # a lone surrogate: invalid
        be = load(backend)
        try:
            if len(texts) and data.count(b"\n") != len(texts) - 1:
                raise BP.BadItem(self._first_bad(texts))
            self.records = bytes(be.addr_bulk(data, len(texts), tmpl, None, self.indexes))
        except BP.BadItem as bad:
            raise self._error(bad.index, texts[bad.index]) from None
        self._range: tuple[int, int, int] | None = None

    @staticmethod
    def _texts(items: list[Any]) -> list[str]:
        if all(type(x) is str for x in items):
            return items
        out = []
        for i, x in enumerate(items):
            if isinstance(x, str):
                out.append(x)
            elif isinstance(x, _IP_TYPES):
                out.append(str(x))
            else:
                raise SpecError(f"item {i} {x!r}: address must be text or an ipaddress "
                                f"object, not {type(x).__name__}")
        return out

    @staticmethod
    def _first_bad(texts: list[str]) -> int:
        """The first item the pure validator rejects (an item with a newline is one)."""
        return next(i for i, t in enumerate(texts)
                    if "\n" in t or BP.parse_item(t.encode("utf-8", "replace")) is None)

    @staticmethod
    def _error(i: int, text: str) -> SpecError:
        try:
            AddrSpec(text)
        except ValueError as e:  # SpecError, or inet_pton's for a NUL
            return SpecError(f"item {i} {text!r}: {e}")
        return SpecError(f"item {i} {text!r}: invalid address")  # no text passes one only

    @classmethod
    def range(cls, start: str, count: int, *, prefixlen: int | None = None,
              index: IndexArg = 0, op: Op = "add", dev: str | None = None,
              flags: FlagsArg = 0, scope: int | str | None = None, label: str | None = None,
              metric: int | None = None, proto: int | None = None,
              valid_lft: int | str | None = None, preferred_lft: int | str | None = None,
              backend: str | None = None) -> AddrBulk:
        """``count`` consecutive addresses from ``start`` (``"198.18.0.1"``), each /``prefixlen``
        (default: a host prefix); SpecError naming the first item past the family's end."""
        first = AddrSpec(start if prefixlen is None else f"{start}/{prefixlen}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SpecError(f"invalid count {count!r}: expected an integer >= 0")
        self = cls.__new__(cls)
        self.shared = {k: v for k, v in (("flags", flags), ("scope", scope), ("label", label),
                                         ("metric", metric), ("proto", proto),
                                         ("valid_lft", valid_lft),
                                         ("preferred_lft", preferred_lft)) if v is not None}
        self.op, self.dev, self._items = op, dev, None
        tmpl = template(op, **self.shared)
        base = ADDR_REC.unpack(first.record)[12]
        self._range = (first.family, first.prefixlen, int.from_bytes(
            base[:4 if first.family == socket.AF_INET else 16], "big"))
        self.indexes = index_column(index, self._text)
        try:
            self.records = bytes(load(backend).addr_bulk_range(
                base, first.family, first.prefixlen, count, tmpl, self.indexes))
        except BP.BadItem as bad:
            fam = "IPv4" if first.family == socket.AF_INET else "IPv6"
            raise SpecError(f"item {bad.index} of the range from {start!r}: past the last "
                            f"{fam} address") from None
        return self

    def _text(self, i: int) -> str:
        if self._items is not None:
            return self._items[i]
        assert self._range is not None
        fam, plen, start = self._range
        if fam == socket.AF_INET:
            return f"{ipaddress.IPv4Address(start + i)}/{plen}"
        return f"{ipaddress.IPv6Address(start + i)}/{plen}"

    def spec(self, i: int) -> AddrSpec:
        """Item ``i`` as an AddrSpec: its text, its index, the shared fields."""
        idx = self.indexes[i % len(self.indexes)]
        return AddrSpec(self._text(i), index=idx, op=self.op, dev=self.dev, **self.shared)
