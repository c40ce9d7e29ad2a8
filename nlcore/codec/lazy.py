"""The attributes of a message the dump scan built (:mod:`.dumpscan`), decoded when read.

Such a message holds ``_lazy`` = (attribute set name, offset of the attributes in ``raw``,
offset of ``raw`` in the decoded buffer) in its ``__dict__`` instead of ``attrs``. The scan
checked every attribute's length and left the messages with a nest to the reference decoder,
so these decodes cannot fail; they give what ``decode_attrs`` gives over the whole buffer.
"""

from __future__ import annotations

from typing import Any, Callable

from .attrs import _INT, STRUCTS, AttrDef, AttrSet, _ip, _value, iter_attrs
from .consts import NLA_TYPE_MASK, NLATTR
from .values import Attr, Value

_NEW = object.__new__
_NLA = NLATTR.unpack_from


def _reader(d: AttrDef) -> Callable[[bytes], Any]:
    """payload -> the value attrs._value gives for ``d`` (not a nest), without its chain of
    tests; tests/test_dumpscan.py checks them equal."""
    k = d.kind
    if k in _INT:
        size, unpack = _INT[k].size, _INT[k].unpack
        return lambda raw: unpack(raw)[0] if len(raw) == size else raw
    if k == "string":
        return lambda raw: raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    if k == "ip":
        return _ip
    if k == "struct":
        layout, fields = STRUCTS[d.struct or ""]
        return lambda raw: dict(zip(fields, layout.unpack(raw))) if len(raw) == layout.size \
            else raw
    return lambda raw: _value(d, raw, 0, len(raw), 0)


_READERS: dict[str, dict[int, tuple[Callable[[bytes], Any], str]]] = {}


def _readers(aset: AttrSet) -> dict[int, tuple[Callable[[bytes], Any], str]]:
    got = _READERS.get(aset.name)
    if got is None:
        got = _READERS[aset.name] = {d.num: (_reader(d), d.name) for d in aset.defs
                                     if d.kind not in ("nest", "multipath")}
    return got


def _flat(aset: AttrSet, raw: bytes, at: int, base: int) -> tuple[Attr, ...]:
    """decode_attrs(aset, raw, at, len(raw), base) for attributes already checked well formed
    and free of nests, each Attr built without the frozen dataclass's __init__ (the same
    fields in its __dict__)."""
    out = []
    by_num, end = _readers(aset), len(raw)
    while at < end:
        n, tp = _NLA(raw, at)
        t = tp & NLA_TYPE_MASK
        d = by_num.get(t)
        a = _NEW(Attr)
        ad = a.__dict__
        ad["type"] = t
        ad["raw"] = payload = raw[at + 4:at + n]
        if d is None:
            full = aset.by_num.get(t)  # a nest (never here: the scan left those eager)
            ad["value"], ad["name"] = ((_value(full, raw, at + 4, at + n, base), full.name)
                                       if full is not None else (payload, None))
        else:
            ad["value"], ad["name"] = d[0](payload), d[1]
        ad["offset"] = base + at
        out.append(a)
        at += (n + 3) & ~3
    return tuple(out)


def lazy_attrs(d: dict[str, Any]) -> tuple[Attr, ...]:
    """Decode, store (as ``attrs``) and return the attributes of the message of ``d``."""
    lazy, raw = d.get("_lazy"), d["raw"]
    if lazy is None:  # another thread decoded them between the caller's test and here
        return d["attrs"]  # type: ignore[no-any-return]
    v = d["attrs"] = _flat(AttrSet.registry[lazy[0]], raw, lazy[1], lazy[2])
    d.pop("_lazy", None)  # (another thread may have decoded them meanwhile)
    return v


def lazy_get(raw: bytes, lazy: tuple[str, int, int], name: int | str) -> Value | None:
    """``get(name)`` over the undecoded attributes: the value decode_attrs would give the
    first attribute of that number or (known) name."""
    aset = AttrSet.registry[lazy[0]]
    if isinstance(name, str):
        d = aset.by_name.get(name)
        if d is None:
            return None
        num = d.num
    else:
        num, d = name, aset.by_num.get(name)
    for tp, a, b in iter_attrs(raw, lazy[1], len(raw), lazy[2]):
        if tp & NLA_TYPE_MASK == num:
            return _value(d, raw, a, b, lazy[2]) if d is not None else bytes(raw[a:b])
    return None


