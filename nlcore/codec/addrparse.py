"""The values of an address request, checked one by one: addresses and prefixes, flag words,
scopes, lifetimes, interface names and labels. Each check raises a
:class:`~nlcore.codec.errors.SpecError` naming the value; :mod:`nlcore.codec.spec` builds
AddrSpec from them (and re-exports them, their historical home).
"""

from __future__ import annotations

import socket
from typing import Iterable, Literal, Union

from .consts import (
    AF_INET,
    AF_INET6,
    IFA_F_HOMEADDRESS,
    IFA_F_MANAGETEMPADDR,
    IFA_F_MCAUTOJOIN,
    IFA_F_NODAD,
    IFA_F_NOPREFIXROUTE,
    IFA_F_OPTIMISTIC,
    IFNAMSIZ,
    INFINITY_LIFE_TIME,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_SITE,
    RT_SCOPE_UNIVERSE,
    RTM_DELADDR,
    RTM_NEWADDR,
)
from .errors import SpecError

Op = Literal["add", "replace", "del"]
FlagsArg = Union[int, str, Iterable[str]]

#: nlmsg_type and nlmsg_flags of each operation, as iproute2 sends them.
OPS: dict[str, tuple[int, int]] = {
    "add": (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL),
    "replace": (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE),
    "del": (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
}
#: iproute2's flag words for IFA_F_* (the settable ones).
FLAG_WORDS: dict[str, int] = {
    "nodad": IFA_F_NODAD, "optimistic": IFA_F_OPTIMISTIC, "home": IFA_F_HOMEADDRESS,
    "mngtmpaddr": IFA_F_MANAGETEMPADDR, "noprefixroute": IFA_F_NOPREFIXROUTE,
    "autojoin": IFA_F_MCAUTOJOIN,
}
SETTABLE_FLAGS = 0
for _v in FLAG_WORDS.values():
    SETTABLE_FLAGS |= _v
SCOPE_WORDS: dict[str, int] = {"global": RT_SCOPE_UNIVERSE, "universe": RT_SCOPE_UNIVERSE,
                               "site": RT_SCOPE_SITE, "link": RT_SCOPE_LINK,
                               "host": RT_SCOPE_HOST, "nowhere": RT_SCOPE_NOWHERE}
_ZERO16 = bytes(16)


def parse_ip(text: str, what: str = "address") -> tuple[int, bytes]:
    """``"2001:db8::1"`` -> ``(AF_INET6, 16 bytes)``; SpecError naming ``what`` otherwise."""
    if not isinstance(text, str):
        raise SpecError(f"{what} must be text, not {type(text).__name__}: {text!r}")
    try:
        return AF_INET, socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    try:
        return AF_INET6, socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        raise SpecError(f"invalid {what} {text!r}: not an IPv4 or IPv6 address") from None


def parse_prefix(text: str, what: str = "address") -> tuple[int, bytes, int | None]:
    """``"198.51.100.1/24"`` -> ``(AF_INET, 4 bytes, 24)``; the prefix length may be absent."""
    if not isinstance(text, str):
        raise SpecError(f"{what} must be text, not {type(text).__name__}: {text!r}")
    addr, sep, plen_s = text.partition("/")
    family, raw = parse_ip(addr, what)
    if not sep:
        return family, raw, None
    maxlen = 32 if family == AF_INET else 128
    if not plen_s.isdigit() or not plen_s.isascii() or int(plen_s) > maxlen:
        raise SpecError(f"invalid prefix length {plen_s!r} in {what} {text!r}: "
                        f"expected 0..{maxlen}")
    return family, raw, int(plen_s)


def parse_flags(flags: FlagsArg) -> int:
    """IFA_F_* flags from an int or iproute2 words (``"nodad noprefixroute"``)."""
    if isinstance(flags, bool):
        raise SpecError(f"invalid address flags {flags!r}")
    if isinstance(flags, int):
        if flags < 0 or flags & ~SETTABLE_FLAGS:
            raise SpecError(f"invalid address flags {flags:#x}: settable flags are "
                            f"{SETTABLE_FLAGS:#x} ({', '.join(FLAG_WORDS)})")
        return flags
    words = flags.split() if isinstance(flags, str) else list(flags)
    value = 0
    for word in words:
        bit = FLAG_WORDS.get(word) if isinstance(word, str) else None
        if bit is None:
            raise SpecError(f"unknown address flag {word!r}: expected one of "
                            f"{', '.join(FLAG_WORDS)}")
        value |= bit
    return value


def _u32(value: int | None, what: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise SpecError(f"invalid {what} {value!r}: expected an integer 0..4294967295")
    return value


def parse_lifetime(value: int | str | None, what: str) -> int | None:
    """A lifetime in seconds, ``"forever"`` (2^32-1) or None (not given)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value == "forever":
            return INFINITY_LIFE_TIME
        if not value.isdigit() or not value.isascii():
            raise SpecError(f"invalid {what} {value!r}: expected seconds or 'forever'")
        value = int(value)
    return _u32(value, what, 0)


def _scope(scope: int | str | None, default: int) -> int:
    if scope is None:
        return default
    if isinstance(scope, str):
        if scope in SCOPE_WORDS:
            return SCOPE_WORDS[scope]
        if not scope.isdigit():
            raise SpecError(f"invalid scope {scope!r}: expected 0..255 or one of "
                            f"{', '.join(SCOPE_WORDS)}")
        scope = int(scope)
    if isinstance(scope, bool) or not isinstance(scope, int) or not 0 <= scope <= 255:
        raise SpecError(f"invalid scope {scope!r}: expected 0..255")
    return scope


def check_ifname(name: str, what: str = "interface name") -> bytes:
    """Validate an interface name or address label -> its bytes.

    Both are 1..15 bytes with no '/', NUL or white space. An interface name may not be '.'
    or '..' (the kernel's ``dev_valid_name``); a label may (the kernel stores it as given).
    """
    raw = name.encode() if isinstance(name, str) else b""
    dots = what != "label" and name in (".", "..")
    if (not isinstance(name, str) or not 0 < len(raw) < IFNAMSIZ or dots
            or any(c in name for c in "/\0") or any(c.isspace() for c in name)):
        rule = "" if what == "label" else ", not '.' or '..'"
        raise SpecError(f"invalid {what} {name!r}: 1..{IFNAMSIZ - 1} bytes, "
                        f"no '/', NUL or white space{rule}")
    return raw


