"""The decoded values that the error tree carries too: an attribute and an extended ack.

They sit below both :mod:`.decode` (which builds them) and :mod:`.errors` (whose
``KernelError.extack`` holds one), so that neither imports the other's layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

#: an attribute's decoded value: a number, text, raw bytes, a struct as a dict (whose values
#: may themselves be values: RTA_VIA's address, a nexthop's attributes), or a nested set
Value = Union[int, str, bytes, dict[str, Any], tuple["Attr", ...]]


def value_json(v: Any) -> Any:
    """A value in JSON terms: bytes as hex, nested attributes as their JSON list."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, tuple):
        return [a.to_json() for a in v]
    if isinstance(v, dict):
        return {k: value_json(x) for k, x in v.items()}
    return v


@dataclass(frozen=True)
class Attr:
    """One attribute: its type (flags masked off), raw payload and decoded value."""

    type: int
    raw: bytes
    value: Value
    name: str | None = None
    offset: int = 0  # absolute offset of the nlattr header in the decoded buffer

    def to_json(self) -> dict[str, Any]:
        """``{"type": "IFA_LOCAL", "value": "198.51.100.1"}`` (raw bytes as hex)."""
        return {"type": self.name or self.type, "value": value_json(self.value)}


@dataclass(frozen=True)
class Extack:
    """Extended-ack TLVs of an NLMSG_ERROR or NLMSG_DONE."""

    msg: str | None = None
    offset: int | None = None
    attr: str | None = None  # what the offset points at in the request, e.g. "IFA_LOCAL"
    cookie: bytes | None = None
    policy: tuple[Attr, ...] | None = None
    miss_type: int | None = None
    miss_nest: int | None = None
    raw: tuple[Attr, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Present fields only."""
        out: dict[str, Any] = {}
        for key in ("msg", "offset", "miss_type", "miss_nest"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.attr is not None:  # "IFLA_LINKINFO/IFLA_INFO_KIND" -> innermost + path
            path = [int(p) if p.isdigit() else p for p in self.attr.split("/")]
            out["attr"] = {"type": path[-1], **({"path": path} if len(path) > 1 else {})}
        if self.cookie is not None:
            out["cookie"] = self.cookie.hex()
        if self.policy is not None:
            out["policy"] = [a.to_json() for a in self.policy]
        return out
