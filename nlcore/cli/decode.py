"""``nlcore decode``: netlink bytes from what people paste -> ``ip monitor``-like text or JSON.

The input (arguments, a file path, or stdin; text or raw binary) may be hex, a byte list, a
whole log line from the Rust agent, a Go or Python byte dump, ``strace`` output or a pcap
file from an ``nlmon`` device: :mod:`.paste` finds the bytes. ``--errno N`` (or the errno the
log line states) treats a bare request as refused and wraps it in the NLMSG_ERROR the kernel
would have sent. Every error ends with a diagnosis (:mod:`.diagnose`).

Bounded (issue 11.12): at most ``--max-bytes`` (default :data:`DEFAULT_MAX_BYTES`) of input
are read, larger input is refused with one line before it is read whole, and messages are
decoded and printed one at a time, so memory stays a small multiple of the input.
"""

from __future__ import annotations

import argparse
import errno as E
import json
import os
import re
import struct
import sys
from typing import IO, Any

from ..codec import consts as C
from ..codec.decode import DoneMsg, ErrorMsg, Message
from ..codec.errors import ParseError, errno_name
from ..codec.text import flag_names, format_message, to_json
from ..codec.wire import decode, encode_error_reply, error_of, iter_messages
from .common import UsageError, UserError, kernel_line
from .diagnose import diagnose
from .paste import Chunk, extract, parse_bytes

__all__ = ["DEFAULT_MAX_BYTES", "decode_main", "errno_arg", "parse_bytes", "render", "wrap"]

#: The input cap (bytes read, text or binary): far above any paste, far below the memory of a
#: small machine. ``--max-bytes`` raises it.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


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


def size_arg(text: str) -> int:
    """``1048576``, ``512K``, ``64M``, ``1G`` -> bytes."""
    m = re.fullmatch(r"(\d+)([KMG]i?B?)?", text.strip(), re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: e.g. 65536, 512K, 64M, 1G")
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[(m.group(2) or "")[:1].lower()]
    return int(m.group(1)) * unit


def wrap(data: bytes, err: int, msg: str | None = None) -> bytes:
    """The NLMSG_ERROR (-err) the kernel would send for each request in ``data``.

    A lone 16-byte header whose nlmsg_len is larger (a log that kept only the header) is
    wrapped as a capped error.
    """
    if len(data) == C.NLMSG_HDRLEN and int.from_bytes(data[:4], "little") > len(data):
        return encode_error_reply(data, -err, pid=0, capped=True, ext_ack=msg is not None,
                                  msg=msg)
    reqs = decode(data)
    for m in reqs:
        if isinstance(m, (ErrorMsg, DoneMsg)):
            raise UserError(f"--errno wraps a bare request, but the input already holds a "
                            f"{m.type_name} (seq {m.header.seq})")
    return b"".join(encode_error_reply(m.raw, -err, pid=0, ext_ack=msg is not None, msg=msg)
                    for m in reqs)


def _is_reply(data: bytes) -> bool:
    return len(data) >= 6 and struct.unpack_from("=H", data, 4)[0] in (C.NLMSG_ERROR,
                                                                        C.NLMSG_DONE)


def _json(m: Message) -> dict[str, Any]:
    """text.to_json, plus the header fields of a capped echo and the diagnosis."""
    out = to_json(m)
    if isinstance(m, ErrorMsg) and m.request_msg is None and len(m.request) >= C.NLMSG_HDRLEN:
        n, tp, fl, seq, pid = struct.unpack_from("=IHHII", m.request)
        out["request"] = {"type": C.MSG_TYPE_NAMES.get(tp, tp), "len": n,
                          "flags": flag_names(tp, fl), "seq": seq, "pid": pid,
                          **out["request"]}
    if isinstance(m, (ErrorMsg, DoneMsg)) and m.error < 0:
        out["diagnosis"] = _diagnosis(m)
    return out


def _diagnosis(m: ErrorMsg | DoneMsg) -> list[str]:
    echo = m.request if isinstance(m, ErrorMsg) else b""
    return diagnose(-m.error, echo, m.extack.msg if m.extack else None)


def _text(m: Message) -> list[str]:
    lines = [format_message(m)]
    err = error_of(m) if isinstance(m, (ErrorMsg, DoneMsg)) else None
    if err is not None and isinstance(m, (ErrorMsg, DoneMsg)):
        lines.append(f"  => {kernel_line(err)}")
        lines += [f"  diagnosis: {d}" if i == 0 else f"             {d}"
                  for i, d in enumerate(_diagnosis(m))]
    return lines


def _prepared(c: Chunk, errno: int | None) -> tuple[bytes, bool]:
    """The chunk's bytes to decode (wrapped in an NLMSG_ERROR when it is a refused request),
    validated: every message decodes (one pass, each message dropped at once), so nothing is
    printed for malformed input and memory stays bounded."""
    err = errno if errno is not None else c.errno
    wrapped = err is not None and not _is_reply(c.data)
    if err is not None and wrapped:
        data = wrap(c.data, err, c.msg)
    else:
        if errno is not None:  # --errno on an input that is already a reply: say so
            wrap(c.data, errno)
        data = c.data
    for _ in iter_messages(data):
        pass
    return data, wrapped


def render(chunks: list[Chunk], errno: int | None, as_json: bool, out: IO[str]) -> None:
    """Decode ``chunks`` one message at a time and write them to ``out``."""
    first = True
    labelled = len(chunks) > 1 or any(c.source != "input" for c in chunks)
    prepared = [_prepared(c, errno) for c in chunks]
    if as_json:
        out.write("[")
    for c, (data, wrapped) in zip(chunks, prepared):
        if not as_json:
            if labelled:
                out.write(f"# {c.source}\n")
            if wrapped:
                e = errno if errno is not None else c.errno or 0
                how = f"--errno {e}" if errno is not None else f"the log says {errno_name(e)}"
                out.write(f"# {how}: the input is a bare request, shown wrapped in the "
                          f"NLMSG_ERROR the kernel would send ({errno_name(e)}: "
                          f"{os.strerror(e)}; {'extack kept' if c.msg else 'no extack'})\n")
            if c.note:
                out.write(f"# note: {c.note}\n")
        for m in iter_messages(data):
            if as_json:
                d = _json(m)
                if wrapped:
                    d["wrapped"] = True
                if labelled:
                    d["source"] = c.source
                out.write(("" if first else ", ") + json.dumps(d))
            else:
                out.write("\n".join(_text(m)) + "\n")
            first = False
    if as_json:
        out.write("]\n")


def read_input(words: list[str], max_bytes: int) -> bytes:
    """The bytes to decode: stdin (absent or ``-``), a file path, or the words as text."""
    too_big = (f"input is larger than --max-bytes {max_bytes} (the default cap is "
               f"{DEFAULT_MAX_BYTES >> 20} MiB): pass --max-bytes SIZE to decode more")
    if words in ([], ["-"]):
        stdin = sys.stdin
        buf = getattr(stdin, "buffer", None)  # a text-only stdin (tests, embedding) has none
        data = buf.read(max_bytes + 1) if buf is not None else \
            stdin.read(max_bytes + 1).encode()
    elif len(words) == 1 and _is_path(words[0]):
        try:
            with open(words[0], "rb") as f:
                if os.fstat(f.fileno()).st_size > max_bytes:
                    raise UserError(too_big)
                data = f.read(max_bytes + 1)
        except OSError as e:
            raise UserError(f"cannot read {words[0]}: {e.strerror or e}") from None
    else:
        data = " ".join(words).encode()
    if len(data) > max_bytes:
        raise UserError(too_big)
    return data


def _is_path(word: str) -> bool:
    if os.path.exists(word):
        return True
    return not re.search(r"\s|[\[\]{}]", word) and bool(
        "/" in word or re.search(r"\.[A-Za-z][A-Za-z0-9]{0,7}$", word))


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (main.py adds the hint), not the usage."""

    def error(self, message: str) -> Any:
        raise UsageError(f"decode: {message}")


def decode_main(argv: list[str]) -> int:
    """``nlcore decode [-j] [--errno N] [--max-bytes SIZE] [INPUT...]``."""
    p = _Parser(prog="nlcore decode", description="Decode netlink bytes.")
    p.add_argument("bytes", nargs="*", help="hex, a byte list, a log line, a file path "
                                            "(pcap, strace, binary); stdin when absent or -")
    p.add_argument("-j", "--json", action="store_true", help="print a JSON list")
    p.add_argument("--errno", type=errno_arg, metavar="N",
                   help="the input is a bare request: wrap it as the NLMSG_ERROR -N reply")
    p.add_argument("--max-bytes", type=size_arg, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                   help=f"refuse more input than this (default {DEFAULT_MAX_BYTES >> 20}M)")
    try:
        a = p.parse_args(argv)
    except SystemExit as e:  # --help
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
    raw = read_input(a.bytes, a.max_bytes)
    try:
        chunks = extract(raw)
        if not chunks:
            raise UserError("no netlink bytes found in the input")
        render(chunks, a.errno, a.json, sys.stdout)
    except ParseError as e:
        sys.stdout.flush()
        raise UserError(f"malformed netlink: {e}") from None
    return 0
