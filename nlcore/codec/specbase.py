"""What the route, neighbour and link specs share: value checks and name resolution."""

from __future__ import annotations

from typing import Mapping

from .errors import SpecError
from .spec import check_ifname


def check_u32(value: object, what: str, lo: int = 0, hi: int = 0xFFFFFFFF) -> int:
    """``value`` if it is an int in lo..hi, else SpecError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SpecError(f"invalid {what} {value!r}: expected an integer {lo}..{hi}")
    return value


def check_index(value: object, what: str = "interface index") -> int:
    """An interface index 0..2^31-1 (0: not known yet)."""
    return check_u32(value, what, 0, 0x7FFFFFFF)


def check_dev(dev: str | None, what: str = "dev") -> None:
    """A device name, if given, is a valid interface name."""
    if dev is not None:
        check_ifname(dev, f"{what} name")


def parse_mac(text: object, what: str = "lladdr") -> bytes:
    """``"02:00:00:00:00:05"`` -> 6 bytes (1..32 bytes of hex pairs, ':' separated)."""
    if isinstance(text, (bytes, bytearray)) and 0 < len(text) <= 32:
        return bytes(text)
    parts = text.split(":") if isinstance(text, str) else []
    try:
        raw = bytes(int(p, 16) for p in parts if len(p) in (1, 2))
    except ValueError:
        raw = b""
    if not parts or len(raw) != len(parts) or len(raw) > 32:
        raise SpecError(f"invalid {what} {text!r}: expected hex bytes like 02:00:00:00:00:01")
    return raw


def word(value: int | str | None, words: Mapping[str, int], what: str, default: int,
         hi: int = 255) -> int:
    """An iproute2 word (``"static"``), a number as text or int, or ``default``."""
    if value is None:
        return default
    if isinstance(value, str):
        if value in words:
            return words[value]
        if not (value.isascii() and value.isdigit()):
            raise SpecError(f"invalid {what} {value!r}: expected 0..{hi} or one of "
                            f"{', '.join(words)}")
        value = int(value)
    return check_u32(value, what, 0, hi)


def lookup(idx: Mapping[str, int], name: str) -> int:
    """The index of ``name`` in ``idx``; SpecError naming the device if it is missing."""
    try:
        return check_index(idx[name])
    except KeyError:
        raise SpecError(f"cannot resolve device {name!r}: no such device") from None
