"""Per-kind behaviour of the engine, as data: one :class:`Kind` per spec kind.

The engine itself knows no family. For each kind ("addr" here; "route", "neigh", "link" are
registered by their modules with :func:`register`) the table says how to read the kernel's
state after a lost ack (``dump``: the identity keys present, kernel-side filtered where the
family allows), how to name a spec's object (``key``), which errnos mean "already there" and
"not there", and whether the IPv6-disabled policy applies.

A spec offers ``kind`` (ClassVar), ``op``, ``family``, ``index``, ``dev``, ``text()``, and
either ``record`` (addresses: the fixed record for ``codec.addr_emit``) or ``message`` (the
complete request, seq 0, pid 0); ``names()`` / ``resolved(idx)`` when it holds interface names
(FAMILIES_API.md). AddrSpec predates ``names()``: its ``dev`` without an index is the name.
"""

from __future__ import annotations

import errno as E
import socket
import struct
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Mapping, Protocol, Sequence

from ..codec import consts as C
from ..codec.decode import AddrMsg
from ..codec.errors import SpecError
from ..codec.spec import AddrSpec
from ..codec.wire import encode_getaddr
from ..net.conn import Conn


class Spec(Protocol):
    """What the engine needs of any spec (see FAMILIES_API.md)."""

    @property
    def op(self) -> str: ...
    @property
    def family(self) -> int: ...
    @property
    def index(self) -> int: ...
    @property
    def dev(self) -> str | None: ...
    def text(self) -> str: ...


Dump = Callable[[Conn, Sequence[Any]], "set[Hashable] | dict[Hashable, int]"]


@dataclass(frozen=True)
class Kind:
    """How the engine treats one kind of spec.

    ``dump(conn, specs)``: identity keys present in the kernel, for resolving lost acks of
    ``specs`` (None: the state cannot be read back; such a lost ack is "unknown").
    ``key(spec)``: the identity key of a spec's object. ``exists_errno``: the errno of a
    create that meets an existing object (``exist_ok`` turns it into "exists") for ops in
    ``create_ops``; ``absent_errnos`` the same for deletes (``missing_ok``, ``delete_ops``).
    ``ipv6_policy``: the ``ipv6_disabled`` policy applies to its AF_INET6 non-deletes.
    ``stamped``: ``dump`` maps each key to the object's creation stamp (the kernel's
    jiffies clock in 1/100 s, IFA_CACHEINFO's cstamp for addresses), so a lost create whose
    object is newer than one this run's acked creates made is proven (see resolve_lost).
    """

    name: str
    dump: Dump | None
    key: Callable[[Any], Hashable]
    exists_errno: int = E.EEXIST
    absent_errnos: tuple[int, ...] = ()
    create_ops: tuple[str, ...] = ("add",)
    delete_ops: tuple[str, ...] = ("del",)
    ipv6_policy: bool = True
    stamped: bool = False
    #: the devices whose own disable_ipv6 decides the request (None: the spec's own index
    #: for an AF_INET6 non-delete); routes add nexthop devices and IPv6 gateways of IPv4 routes
    ipv6_devices: Callable[[Any], tuple[int, ...]] | None = None
    #: ``same(conn, specs)``: for creates that met ``exists_errno``, what differs between each
    #: spec and the object that exists (None: identical, so ``exist_ok`` makes it "exists");
    #: None here: any such create is "exists" (addresses: the kernel's key is all there is)
    same: Callable[[Conn, Sequence[Any]], list[str | None]] | None = None


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    """Add (or replace) the behaviour of one kind."""
    KINDS[kind.name] = kind


def kind_name(spec: object) -> str:
    """The kind of a spec: its ``kind`` ClassVar ("addr" for an AddrSpec)."""
    name = getattr(spec, "kind", None)
    if name is None:
        return "addr" if isinstance(spec, AddrSpec) else type(spec).__name__
    return str(name)


def kind_of(spec: object) -> Kind:
    """The :class:`Kind` of a spec (SpecError naming it if none is registered)."""
    name = kind_name(spec)
    kind = KINDS.get(name)
    if kind is None:
        _load(name)
        kind = KINDS.get(name)
    if kind is None:
        raise SpecError(f"no engine kind registered for {name!r} specs "
                        f"({type(spec).__name__}): see nlcore.ops.kinds.register")
    return kind


def _load(name: str) -> None:
    """Import the module that registers a kind (families add theirs as ops/kind_NAME.py)."""
    from importlib import import_module

    try:
        import_module(f"{__package__}.kind_{name}")
    except ImportError:
        pass


def ipv6_devices(spec: Any) -> tuple[int, ...]:
    """The interface indexes whose IPv6 state the IPv6-disabled policy checks for ``spec``
    (empty: the policy does not apply)."""
    kind = kind_of(spec)
    if not kind.ipv6_policy:
        return ()
    if kind.ipv6_devices is not None:
        return kind.ipv6_devices(spec)
    return (spec.index,) if spec.family == C.AF_INET6 and spec.op != "del" else ()


def names_of(spec: Any) -> tuple[str, ...]:
    """The interface names of ``spec`` still to resolve to indexes."""
    names = getattr(spec, "names", None)
    if names is not None:
        return tuple(names())
    if isinstance(spec, AddrSpec) and spec.dev is not None and not spec.index:
        return (spec.dev,)
    return ()


def resolved(spec: Any, idx: Mapping[str, int]) -> Any:
    """``spec`` with its names replaced by indexes from ``idx``."""
    if hasattr(spec, "resolved"):
        return spec.resolved(idx)
    assert isinstance(spec, AddrSpec) and spec.dev is not None
    return spec.with_index(idx[spec.dev])


# ---------------------------------------------------------------------------- addresses
def _canon(family: int, text: str) -> str:
    fam = socket.AF_INET if family == C.AF_INET else socket.AF_INET6
    return socket.inet_ntop(fam, socket.inet_pton(fam, text.partition("/")[0]))


def addr_key(s: AddrSpec) -> Hashable:
    """(index, family, canonical local address, prefix length): what the kernel keys on."""
    return (s.index, s.family, _canon(s.family, s.address), s.prefixlen)


def addr_dump(conn: Conn, specs: Iterable[AddrSpec]) -> dict[Hashable, int]:
    """Addresses present -> creation stamp, one RTM_GETADDR dump per family asked about."""
    present: dict[Hashable, int] = {}
    for fam in sorted({s.family for s in specs}):
        for m in conn.request(encode_getaddr(fam)):
            if isinstance(m, AddrMsg) and m.local:
                present[(m.index, m.family, m.local, m.prefixlen)] = _cstamp(m.raw)
    return present


def _cstamp(raw: bytes) -> int:
    """IFA_CACHEINFO's cstamp of an RTM_NEWADDR (-1 when absent or short)."""
    pos = 24
    while len(raw) - pos >= 4:
        alen, atype = struct.unpack_from("=HH", raw, pos)
        if alen < 4 or alen > len(raw) - pos:
            break
        if atype & C.NLA_TYPE_MASK == C.IFA_CACHEINFO and alen >= 20:
            return int(struct.unpack_from("=I", raw, pos + 12)[0])
        pos += (alen + 3) & ~3
    return -1


register(Kind("addr", addr_dump, addr_key, E.EEXIST, (E.EADDRNOTAVAIL,), ("add",),
              ("del",), True, stamped=True))
