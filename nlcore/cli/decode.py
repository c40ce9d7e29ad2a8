"""``nlcore decode``: netlink bytes pasted from a log -> ``ip monitor``-like text or JSON.

Input is hex (white space and colons allowed, ``0x`` and strace's ``\\x`` prefixes too) or a
decimal byte list as Rust and Go print one (``[64, 0, 0, ...]`` / ``[64 0 0 ...]``), from the
arguments or stdin. ``--errno N`` treats the input as a bare request (what an agent logs) and
wraps it in the NLMSG_ERROR the kernel would have sent for it, without extack.
"""

from __future__ import annotations

import argparse
import errno as E
import json
import os
import re
import struct
import sys
from typing import Any

from ..codec import consts as C
from ..codec.decode import DoneMsg, ErrorMsg, Message
from ..codec.errors import ParseError, errno_name
from ..codec.text import flag_names, format_message, to_json
from ..codec.wire import decode, encode_error_reply, error_of
from .common import UserError, kernel_line

_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def _byte_list(body: str, start: int) -> bytes:
    if body[0] != "[" or body[-1] != "]":
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


def _hex(text: str) -> bytes:
    out = bytearray()
    for m in re.finditer(r"[^\s:]+", text):
        tok, at = m.group(), m.start()
        i = 2 if tok[:2].lower() == "0x" else 0
        digits: list[str] = []
        while i < len(tok):
            if tok.startswith("\\x", i):
                i += 2
                continue
            if tok[i] not in _HEXDIGITS:
                raise ValueError(f"invalid hex digit {tok[i]!r} at offset {at + i} of the input")
            digits.append(tok[i])
            i += 1
        if len(digits) % 2:
            raise ValueError(f"odd number of hex digits in {tok!r} at offset {at} of the input")
        out += bytes.fromhex("".join(digits))
    return bytes(out)


def parse_bytes(text: str) -> bytes:
    """Hex or a ``[64, 0, ...]`` byte list -> bytes; ValueError naming the offset."""
    body = text.strip()
    if not body:
        raise ValueError("no input bytes (at offset 0 of the input)")
    if body[0] == "[" or "," in body:
        return _byte_list(body, len(text) - len(text.lstrip()))
    return _hex(text)


def errno_arg(text: str) -> int:
    """``13``, ``-13`` or ``EACCES`` -> 13."""
    name = text.upper()
    v = E.EOPNOTSUPP if name == "EOPNOTSUPP" else getattr(E, name, None) \
        if name.startswith("E") and name.isidentifier() else None
    if not isinstance(v, int):
        try:
            v = abs(int(text, 10))
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid errno {text!r}") from None
    if not 0 < v < 4096:
        raise argparse.ArgumentTypeError(f"invalid errno {text!r}: expected 1..4095")
    return v


def wrap(data: bytes, err: int) -> bytes:
    """The NLMSG_ERROR (-err, no extack) the kernel would send for each request in ``data``.

    A lone 16-byte header whose nlmsg_len is larger (a log that kept only the header) is
    wrapped as a capped error.
    """
    if len(data) == C.NLMSG_HDRLEN and int.from_bytes(data[:4], "little") > len(data):
        return encode_error_reply(data, -err, pid=0, capped=True, ext_ack=False)
    reqs = decode(data)
    for m in reqs:
        if isinstance(m, (ErrorMsg, DoneMsg)):
            raise UserError(f"--errno wraps a bare request, but the input already holds a "
                            f"{m.type_name} (seq {m.header.seq})")
    return b"".join(encode_error_reply(m.raw, -err, pid=0, ext_ack=False) for m in reqs)


def _json(m: Message) -> dict[str, Any]:
    """text.to_json, plus the header fields of a capped echo (text.to_json gives its hex)."""
    out = to_json(m)
    if isinstance(m, ErrorMsg) and m.request_msg is None and len(m.request) >= C.NLMSG_HDRLEN:
        n, tp, fl, seq, pid = struct.unpack_from("=IHHII", m.request)
        out["request"] = {"type": C.MSG_TYPE_NAMES.get(tp, tp), "len": n,
                          "flags": flag_names(tp, fl), "seq": seq, "pid": pid,
                          **out["request"]}
    return out


def render(msgs: list[Message], wrapped_errno: int | None, as_json: bool) -> str:
    """The output of ``nlcore decode`` for ``msgs``."""
    if as_json:
        extra = {"wrapped": True} if wrapped_errno is not None else {}
        return json.dumps([{**_json(m), **extra} for m in msgs])
    lines = []
    if wrapped_errno is not None:
        lines.append(f"# --errno {wrapped_errno}: the input is a bare request, shown wrapped in "
                     f"the NLMSG_ERROR the kernel would send ({errno_name(wrapped_errno)}: "
                     f"{os.strerror(wrapped_errno)}; no extack)")
    for m in msgs:
        lines.append(format_message(m))
        err = error_of(m) if isinstance(m, (ErrorMsg, DoneMsg)) else None
        if err is not None:
            lines.append(f"  => {kernel_line(err)}")
    return "\n".join(lines)


def decode_main(argv: list[str]) -> int:
    """``nlcore decode [-j] [--errno N] [BYTES...]``; stdin when BYTES is absent or ``-``."""
    p = argparse.ArgumentParser(prog="nlcore decode", description="Decode netlink bytes.")
    p.add_argument("bytes", nargs="*", help="hex or [64, 0, ...]; stdin when absent or -; "
                   "or the path of a TRACE (nlcore record)")
    p.add_argument("-j", "--json", action="store_true", help="print a JSON list")
    p.add_argument("--errno", type=errno_arg, metavar="N",
                   help="the input is a bare request: wrap it as the NLMSG_ERROR -N reply")
    try:
        a = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if len(a.bytes) == 1 and os.path.isfile(a.bytes[0]):  # a TRACE (nlcore record)
        from ..faults.trace import TraceError, is_trace, read_trace
        from ..faults.trace import render as render_trace

        with open(a.bytes[0], errors="replace") as f:
            if is_trace(f.readline(1 << 16)):
                try:
                    print(render_trace(read_trace(a.bytes[0]), a.json))
                except TraceError as e:
                    raise UserError(str(e)) from None
                return 0
    text = sys.stdin.read() if a.bytes in ([], ["-"]) else " ".join(a.bytes)
    data = parse_bytes(text)
    try:
        if a.errno is not None:
            data = wrap(data, a.errno)
        msgs = decode(data)
    except ParseError as e:
        raise UserError(f"malformed netlink: {e}") from None
    print(render(msgs, a.errno, a.json))
    return 0
