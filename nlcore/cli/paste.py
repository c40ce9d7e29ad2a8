"""What people paste into ``nlcore decode``: find the netlink bytes in it.

:func:`extract` takes the raw input (text or binary) and returns :class:`Chunk` s, each a run of
netlink bytes with where it came from and, for a bare request that a log line reports as
failed, the errno. Formats, tried in this order:

* pcap / pcapng files (:mod:`.pcap`), link type 253 (an ``nlmon`` device);
* raw binary netlink (anything that is not text);
* ``strace`` lines: quoted ``"\\x40\\x00..."`` buffers, the header strace decodes itself
  (``{nlmsg_len=64, nlmsg_type=..., ...}, "\\x0a..."``) and ``-e write=all`` hex dumps;
* the Rust agent's ``ErrorMessage { code: Some(-13), header: [64, 0, ...] }``;
* Python ``b'\\x40\\x00...'`` / ``bytearray(b'...')`` and Go ``[]byte{0x40, 0x0, ...}``;
* a ``[64, 0, 0, ...]`` / ``[64 0 0 ...]`` list anywhere in a line, else hex.
"""

from __future__ import annotations

import ast
import errno as E
import os
import re
import struct
from dataclasses import dataclass

from ..codec import consts as C
from .pcap import is_pcap, read_pcap

_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass
class Chunk:
    """Netlink bytes found in the input."""

    data: bytes
    source: str = "input"
    errno: int | None = None  # the failure the log reports for this (bare) request
    msg: str | None = None  # the extack message the log kept, if any
    note: str | None = None  # e.g. "strace cut this buffer"


# ---------------------------------------------------------------------------- plain forms
def byte_list(body: str, start: int = 0) -> bytes:
    """``[64, 0, ...]``, ``[64 0 ...]`` or ``{0x40, 0x0, ...}`` -> bytes."""
    if body[:1] not in "[{" or body[-1:] not in "]}":
        raise ValueError(f"a byte list is written [64, 0, ...] (at offset {start} of the input)")
    out = bytearray()
    for m in re.finditer(r"[^\s,]+", body[1:-1]):
        tok, at = m.group(), start + 1 + m.start()
        is_hex = tok[:2].lower() == "0x" and len(tok) > 2 and set(tok[2:]) <= _HEXDIGITS
        is_dec = tok.isascii() and tok.isdigit()
        if not (is_dec or is_hex) or int(tok, 0 if is_hex else 10) > 255:
            raise ValueError(f"invalid byte {tok!r} at offset {at} of the input: "
                             f"expected 0..255")
        out.append(int(tok, 0 if is_hex else 10))
    return bytes(out)


def hex_bytes(text: str) -> bytes:
    """Hex with white space, colons, ``0x`` and ``\\x`` prefixes -> bytes (no per-digit lists:
    memory stays a small multiple of the input)."""
    out = bytearray()
    for m in re.finditer(r"[^\s:]+", text):
        tok, at = m.group(), m.start()
        body = tok[2:] if tok[:2].lower() == "0x" else tok
        skip = len(tok) - len(body)
        body = body.replace("\\x", "")
        bad = re.search(r"[^0-9a-fA-F]", body)
        if bad:
            pos = tok.find(bad.group(), skip)
            raise ValueError(f"invalid hex digit {bad.group()!r} at offset {at + pos} of the "
                             f"input")
        if len(body) % 2:
            raise ValueError(f"odd number of hex digits in {tok[:40]!r} at offset {at} of the "
                             f"input")
        out += bytes.fromhex(body)
    return bytes(out)


def parse_bytes(text: str) -> bytes:
    """Hex or a ``[64, 0, ...]`` byte list -> bytes; ValueError naming the offset."""
    body = text.strip()
    if not body:
        raise ValueError("no input bytes (at offset 0 of the input)")
    if body[0] == "[" or "," in body:
        return byte_list(body, len(text) - len(text.lstrip()))
    return hex_bytes(text)


# ---------------------------------------------------------------------------- errno in text
_PHRASES = {os.strerror(n).lower(): n for n in (
    E.EACCES, E.EEXIST, E.ENODEV, E.EPERM, E.EADDRNOTAVAIL, E.ENETUNREACH, E.EINVAL,
    E.ENOENT, E.EOPNOTSUPP, E.EAFNOSUPPORT, E.ERANGE, E.EBUSY, E.ENOBUFS, E.ESRCH)}
_NAMES = {name: n for n, name in E.errorcode.items()}


def errno_in(text: str) -> int | None:
    """The one errno a log line states (``[Errno 13]``, ``errno=-13``, ``EACCES``,
    ``permission denied``), or None when it states none or several."""
    found: set[int] = set()
    for m in re.finditer(r"\[Errno (\d+)\]|\berrno[ =:]+-?(\d+)|\bcode: Some\(-(\d+)\)", text):
        found.add(int(next(g for g in m.groups() if g)))
    for m in re.finditer(r"\bE[A-Z0-9]{3,}\b", text):
        if m.group() in _NAMES and m.group() not in ("EOF",):
            found.add(_NAMES[m.group()])
    low = text.lower()
    found.update(n for phrase, n in _PHRASES.items() if phrase in low)
    return found.pop() if len(found) == 1 else None


# ---------------------------------------------------------------------------- strace
_STRACE_CALL = re.compile(r"^(?:\[pid +\d+\] +|\d+ +)?(sendmsg|sendto|send|write|recvmsg|"
                          r"recvfrom|recv|read)\(\d+, ", re.M)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')
_HDR_DICT = re.compile(r"\{nlmsg_len=(\d+), nlmsg_type=([^,]+), nlmsg_flags=([^,]+), "
                       r"nlmsg_seq=(-?\d+), nlmsg_pid=(-?\d+)\}(, )?")
_DUMP = re.compile(r"^ \| [0-9a-f]{5}  ((?:[0-9a-f]{2} {1,2}){1,16})", re.M)
_TYPES = {v: k for k, v in C.MSG_TYPE_NAMES.items()}
_FLAGS = {name: bit for table in (C.NLM_F_COMMON, C.NLM_F_GET, C.NLM_F_NEW, C.NLM_F_ACKFLAGS)
          for bit, name in table.items()}


def _unescape(s: str) -> bytes:
    return ast.literal_eval('b"' + s + '"') if "\\" in s else s.encode("latin-1")


def _num(word: str, names: dict[str, int]) -> int:
    total = 0
    for part in word.split("/*")[0].strip().split("|"):
        part = part.strip()
        total |= int(part, 0) if part[:1].isdigit() or part[:1] == "-" else names.get(part, 0)
    return total


def _strace_messages(line: str) -> tuple[bytes, str | None]:
    """The bytes of one strace line: decoded headers re-encoded before their payload."""
    out, note, pos = bytearray(), None, 0
    hdrs = list(_HDR_DICT.finditer(line))
    if not hdrs:
        for q in _QUOTED.finditer(line):
            out += _unescape(q.group(1))
            note = note or (q.group(2) and "strace cut this buffer: run it with -s 65536")
        return bytes(out), note
    for h in hdrs:
        if h.start() < pos:
            continue
        n, tp, fl, seq, pid = h.groups()[:5]
        payload = b""
        p = _QUOTED.match(line, h.end()) if h.group(6) else None
        if p:
            payload = _unescape(p.group(1))
            note = note or (p.group(2) and "strace cut this buffer: run it with -s 65536")
            pos = p.end()
        elif h.group(6) and int(n) > C.NLMSG_HDRLEN and \
                _num(tp, _TYPES) not in (C.NLMSG_ERROR, C.NLMSG_DONE):
            note = ("strace decoded this payload itself; nlcore needs its bytes: run strace "
                    "with -e write=all -e read=all (hex dumps)")
        out += struct.pack("=IHHII", int(n), _num(tp, _TYPES), _num(fl, _FLAGS),
                           int(seq) & 0xFFFFFFFF, int(pid) & 0xFFFFFFFF) + payload
    return bytes(out), note


def _strace(text: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _STRACE_CALL.search(line)
        if not m:
            continue
        direction = "sent" if m.group(1).startswith(("send", "write")) else "received"
        err = re.search(r"\berror=-(E[A-Z0-9]+|\d+)", line)
        dump = []
        for nxt in lines[i + 1:]:
            if _STRACE_CALL.search(nxt):
                break
            d = _DUMP.match(nxt)
            if d:
                dump.append(d.group(1))
        if dump:
            data, note = hex_bytes(" ".join(dump)), None
        else:
            data, note = _strace_messages(line)
        src = f"strace line {i + 1} ({m.group(1)}, {direction})"
        if err and not dump:  # strace decoded the NLMSG_ERROR: data holds its header + echo
            code = err.group(1)
            errno = int(code) if code.isdigit() else _NAMES.get(code)
            msg = re.search(r'NLMSGERR_ATTR_MSG\}, "((?:[^"\\]|\\.)*)"', line)
            text_msg = _unescape(msg.group(1)).split(b"\0")[0].decode(errors="replace") \
                if msg else None
            chunks.append(Chunk(data[C.NLMSG_HDRLEN:], src, errno, text_msg, note))
        elif data:
            chunks.append(Chunk(data, src, note=note))
    return chunks


# ---------------------------------------------------------------------------- language dumps
_RUST = re.compile(r"ErrorMessage\s*\{\s*code:\s*(?:Some\(\s*(-?\d+)\s*\)|None)\s*,\s*"
                   r"header:\s*(\[[^\]]*\])")
_PYBYTES = re.compile(r"(?:bytearray\(\s*)?\bb(['\"])((?:\\.|(?!\1).)*)\1")
_GOBYTES = re.compile(r"\[\]byte\s*(\{[^}]*\})")
_LIST = re.compile(r"\[\s*\d{1,3}(?:(?:\s*,\s*|\s+)\d{1,3}){15,}\s*\]")


def _languages(text: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    for m in _RUST.finditer(text):
        code = int(m.group(1)) if m.group(1) else 0
        chunks.append(Chunk(byte_list(m.group(2), m.start(2)), "Rust ErrorMessage",
                            abs(code) or None))
    if chunks:
        return chunks
    for m in _PYBYTES.finditer(text):
        data = ast.literal_eval("b" + m.group(1) + m.group(2) + m.group(1))
        if len(data) >= C.NLMSG_HDRLEN:
            chunks.append(Chunk(data, "Python bytes"))
    for m in _GOBYTES.finditer(text):
        chunks.append(Chunk(byte_list(m.group(1), m.start(1)), "Go []byte"))
    if not chunks and not text.lstrip().startswith("["):
        for m in _LIST.finditer(text):
            chunks.append(Chunk(byte_list(m.group(), m.start()), "byte list"))
    if chunks:
        errno = errno_in(_RUST.sub("", text))
        for c in chunks:
            c.errno = errno
    return chunks


# ---------------------------------------------------------------------------- entry point
def looks_binary(raw: bytes) -> bool:
    """Whether the input is bytes rather than text (a NUL or control byte early on)."""
    head = raw[:4096]
    return any(b < 9 or 13 < b < 32 for b in head) or b"\0" in head


def extract(raw: bytes) -> list[Chunk]:
    """Every run of netlink bytes in ``raw`` (see the module docstring for the formats)."""
    if is_pcap(raw):
        return [Chunk(d, src) for d, src in read_pcap(raw)]
    if looks_binary(raw):
        return [Chunk(raw, "binary input")]
    text = raw.decode("utf-8", errors="replace")
    if _STRACE_CALL.search(text):
        return _strace(text)
    chunks = _languages(text)
    if chunks:
        return chunks
    return [Chunk(parse_bytes(text))]
