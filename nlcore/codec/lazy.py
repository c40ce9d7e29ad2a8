"""The attributes of a message the dump scan built (:mod:`.dumpscan`), decoded when read.

Such a message holds ``_lazy`` = (attribute set name, offset of the attributes in ``raw``,
offset of ``raw`` in the decoded buffer) in its ``__dict__`` instead of ``attrs``. The scan
checked every attribute's length and left the messages with a nest to the reference decoder,
so these decodes cannot fail; they give what ``decode_attrs`` gives over the whole buffer.
"""

from __future__ import annotations

from typing import Any

from .attrs import AttrSet, _value, decode_attrs, iter_attrs
from .consts import NLA_TYPE_MASK
from .values import Attr, Value


def lazy_attrs(d: dict[str, Any]) -> tuple[Attr, ...]:
    """Decode, store (as ``attrs``) and return the attributes of the message of ``d``."""
    lazy, raw = d.get("_lazy"), d["raw"]
    if lazy is None:  # another thread decoded them between the caller's test and here
        return d["attrs"]  # type: ignore[no-any-return]
    v = d["attrs"] = decode_attrs(AttrSet.registry[lazy[0]], raw, lazy[1], len(raw), lazy[2])
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


