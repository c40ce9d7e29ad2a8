"""What iproute2's command parsers share: the abbreviation rule, its error sentences, and
the address and number readers, so that ``route``, ``neigh`` and ``link`` words fail with
the words ``ip`` prints (``Error: argument "x" is wrong: "metric" value is invalid``).
"""

from __future__ import annotations

import socket
from typing import Iterable, TypeVar

from .consts import AF_INET, AF_INET6
from .errors import SpecError


class CommandError(SpecError):
    """A command line (or batch line) that is not valid ``ip`` syntax; names the word.

    :attr:`line` is what ``ip`` prints (most sentences start with ``Error:``, some not) and
    :attr:`status` the exit status ``ip`` uses for it (255 for ``exit(-1)``, 1 for a bad
    address).
    """

    def __init__(self, msg: str, *, bare: bool = False, status: int = 255) -> None:
        super().__init__(msg)
        self.bare = bare
        self.status = status

    @property
    def line(self) -> str:
        """The one line ``ip`` prints on stderr for this error."""
        return str(self) if self.bare else f"Error: {self}"


def matches(word: str, keyword: str) -> bool:
    """iproute2's abbreviation rule: ``word`` is a non-empty prefix of ``keyword``."""
    return 0 < len(word) <= len(keyword) and keyword.startswith(word)


T = TypeVar("T")


def lookup(word: str, table: Iterable[tuple[str, bool, T]]) -> T | None:
    """The meaning of the first ``(name, abbreviable, meaning)`` of ``table`` that ``word``
    names: the name in full, or (``abbreviable``) a prefix of it; None for no entry."""
    for name, abbrev, meaning in table:
        if word == name or (abbrev and matches(word, name)):
            return meaning
    return None


def subcommand(obj: str, word: str, commands: Iterable[tuple[str, str | None]]) -> str:
    """The op of ``ip OBJ WORD``: the first ``(command, op)`` that ``word`` abbreviates
    (``chg`` only in full), in iproute2's order. CommandError with ``ip``'s sentence for an
    unknown word, or for a command nlcore does not run (op None)."""
    for cmd, op in commands:
        if matches(word, cmd) if cmd != "chg" else word == cmd:
            if op is None:
                raise CommandError(f'"ip {obj} {cmd}" is not supported by nlcore')
            return op
    raise CommandError(f'Command "{word}" is unknown, try "ip {obj} help".', bare=True)


def incomplete() -> CommandError:
    """What ``ip`` says when a keyword's value is missing (NEXT_ARG at the end)."""
    return CommandError('Command line is not complete. Try option "help"', bare=True)


def invarg(msg: str, arg: str) -> CommandError:
    """``Error: argument "ARG" is wrong: MSG`` (iproute2's invarg)."""
    return CommandError(f'argument "{arg}" is wrong: {msg}')


def duparg(key: str, arg: str) -> CommandError:
    """iproute2's duparg."""
    return CommandError(f'duplicate "{key}": "{arg}" is the second value.')


def duparg2(key: str, arg: str) -> CommandError:
    """iproute2's duparg2."""
    return CommandError(f'either "{key}" is duplicate, or "{arg}" is a garbage.')


def unsupported(obj: str, word: str) -> CommandError:
    """A word ``ip`` knows and nlcore does not send."""
    return CommandError(f'"{word}" is not supported by nlcore (ip {obj} ... {word})')


class Words:
    """A cursor over the words of one command: ``next()`` is iproute2's NEXT_ARG."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.i = -1

    def __iter__(self) -> Words:
        return self

    def __next__(self) -> str:
        self.i += 1
        if self.i >= len(self.words):
            raise StopIteration
        return self.words[self.i]

    def next(self) -> str:
        """The value after the current keyword; CommandError if the line ends."""
        self.i += 1
        if self.i >= len(self.words):
            raise incomplete()
        return self.words[self.i]

    def back(self) -> None:
        """Un-read one word (PREV_ARG)."""
        self.i -= 1

    def peek(self) -> str | None:
        """The next word, not consumed."""
        return self.words[self.i + 1] if self.i + 1 < len(self.words) else None


def family_word(family: int) -> str:
    """``inet``, ``inet6`` or ``any valid`` (iproute2's family_name_verbose)."""
    return {AF_INET: "inet", AF_INET6: "inet6"}.get(family, "any valid")


def _ipv4(text: str) -> str | None:
    """iproute2's get_addr_ipv4 (decimal parts, missing ones zero: ``198.51.100`` is
    198.51.100.0) -> dotted quad, or None."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    nums = [int(p) for p in parts]
    if any(n > 255 for n in nums):
        return None
    return ".".join(str(n) for n in nums + [0] * (4 - len(nums)))


def read_addr(text: str, family: int) -> tuple[int, str] | None:
    """``(family, canonical address)`` of an address word, ``default``/``all``/``any``
    (``(family, "default")``), or None if it is no address of ``family`` (0: any)."""
    if text in ("default", "all", "any"):
        return family, "default"
    if ":" in text:
        if family not in (0, AF_INET6):
            return None
        try:
            raw = socket.inet_pton(socket.AF_INET6, text)
        except (OSError, ValueError):
            return None
        return AF_INET6, socket.inet_ntop(socket.AF_INET6, raw)
    if family not in (0, AF_INET):
        return None
    v4 = _ipv4(text)
    return (AF_INET, v4) if v4 else None


def get_addr(text: str, family: int) -> tuple[int, str]:
    """iproute2's get_addr: the address, or its error sentence."""
    got = read_addr(text, family)
    if got is None:
        raise CommandError(f'{family_word(family)} address is expected rather than "{text}".',
                           status=1)
    return got


def get_prefix(text: str, family: int) -> tuple[int, str]:
    """iproute2's get_prefix: ``(family, "default" | "ADDR" | "ADDR/LEN")``."""
    addr, slash, plen = text.partition("/")
    got = read_addr(addr, family)
    ok = got is not None
    if got is not None and slash:
        bits = 128 if got[0] == AF_INET6 else 32
        ok = got[1] != "default" and plen.isascii() and plen.isdigit() and int(plen) <= bits
    if not ok or got is None:
        raise CommandError(f'{family_word(family)} prefix is expected rather than "{text}".',
                           status=1)
    fam, a = got
    return fam, (f"{a}/{int(plen)}" if slash else a)


def get_unsigned(text: str, top: int = 0xFFFFFFFF) -> int | None:
    """strtoul(text, 0) as iproute2's get_unsigned (0x.. hex, 0.. octal); None if invalid."""
    t = text.strip()
    try:
        if t.lower().startswith("0x"):
            n = int(t[2:], 16)
        elif len(t) > 1 and t.startswith("0"):
            n = int(t[1:], 8)
        else:
            n = int(t, 10) if t.isascii() and t.isdigit() else -1
    except ValueError:
        return None
    return n if 0 <= n <= top else None


def lladdr_ok(text: str) -> bool:
    """iproute2's ll_addr_a2n accepts it: ``aa:bb:..`` hex bytes (or a dotted IPv4)."""
    if "." in text:
        return _ipv4(text) is not None
    parts = text.split(":")
    return 0 < len(parts) <= 32 and all(
        0 < len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)


def check_lladdr(text: str) -> str:
    """The lladdr as given, or iproute2's error."""
    if not lladdr_ok(text):
        raise CommandError(f'"{text}" is invalid lladdr.', bare=True, status=1)
    return text
