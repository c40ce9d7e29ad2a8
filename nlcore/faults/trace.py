"""TRACE files: a program's whole netlink conversation, as JSON lines (docs/record-replay.md).

Line 1 is the header ``{"nlcore_trace": 1, "source": ..., "cmd": [...], "kernel": ...}``; every
further line is one event, in the order the recorder saw it::

    {"ev": "socket", "sock": 1, "proto": 0}
    {"ev": "bind", "sock": 1, "port": 4242, "groups": [1]}
    {"ev": "sockopt", "sock": 1, "opt": "NETLINK_EXT_ACK", "value": 1}
    {"ev": "send", "sock": 1, "hex": "..."}            one datagram to the kernel
    {"ev": "recv", "sock": 1, "hex": "..."}            one datagram, whole (even if truncated)
    {"ev": "recv", "sock": 1, "errno": "ENOBUFS"}      a receive that failed (overrun)
    {"ev": "exit", "status": 0}

``sock`` numbers the program's NETLINK_ROUTE sockets in the order they were first used. A
``recv`` with ``"unread": true`` was still queued when the program ended (drained by the
recorder). Readers ignore keys and events they do not know; a new major version changes
the header number. :class:`TraceWriter` writes, :func:`read_trace` reads and validates.
"""

from __future__ import annotations

import errno as _errno
import json
import os
import platform
from dataclasses import dataclass, field
from typing import IO, Any, Iterator, Union

from ..codec import consts as C

VERSION = 1
PathOrFile = Union[str, "os.PathLike[str]", IO[str]]
#: SOL_NETLINK options (include/uapi/linux/netlink.h) a trace names
SOCKOPTS = {3: "NETLINK_PKTINFO", 4: "NETLINK_BROADCAST_ERROR", 5: "NETLINK_NO_ENOBUFS",
            8: "NETLINK_LISTEN_ALL_NSID", 10: "NETLINK_CAP_ACK", 11: "NETLINK_EXT_ACK",
            12: "NETLINK_GET_STRICT_CHK"}
SOCKOPT_NUMBERS = {v: k for k, v in SOCKOPTS.items()}
KNOWN_EVENTS = ("socket", "bind", "sockopt", "send", "recv", "exit")


class TraceError(ValueError):
    """A file that is not a readable TRACE (names the line)."""


def messages(data: bytes) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` of each well-formed message in ``data``; stops at the first
    malformed one, as the kernel does."""
    pos = 0
    while len(data) - pos >= C.NLMSG_HDRLEN:
        n = C.NLMSGHDR.unpack_from(data, pos)[0]
        if n < C.NLMSG_HDRLEN or n > len(data) - pos:
            return
        yield pos, n
        pos += C.align4(n)


class TraceWriter:
    """Append events to a TRACE (a path, or a text file left open). One line per event,
    flushed, so a killed recorder leaves a readable prefix."""

    def __init__(self, out: PathOrFile, **header: Any) -> None:
        self._own = isinstance(out, (str, os.PathLike))
        self._file: IO[str] = open(out, "w") if isinstance(out, (str, os.PathLike)) else out
        self.socks: dict[object, int] = {}  # the recorder's key -> sock number
        self.state: dict[int, dict[object, Any]] = {}  # sock -> last written options
        self.write({"nlcore_trace": VERSION, "kernel": platform.release(), **header})

    def write(self, obj: dict[str, Any]) -> None:
        """One raw line (the header or an event)."""
        self._file.write(json.dumps(obj, sort_keys=False) + "\n")
        self._file.flush()

    def sock(self, key: object, proto: int = C.NETLINK_ROUTE) -> int:
        """The sock number of ``key`` (any hashable: an inode...), announced when new."""
        num = self.socks.get(key)
        if num is None:
            num = self.socks[key] = len(self.socks) + 1
            self.state[num] = {}
            self.write({"ev": "socket", "sock": num, "proto": proto})
        return num

    def options(self, sock: int, port: int, groups: list[int], opts: dict[int, int]) -> None:
        """Write ``bind``/``sockopt`` events for what changed since the last call."""
        st = self.state.setdefault(sock, {})
        if (port, groups) != (st.get("port"), st.get("groups", [])) and (port or groups):
            st["port"], st["groups"] = port, list(groups)
            self.write({"ev": "bind", "sock": sock, "port": port, "groups": list(groups)})
        for opt, value in sorted(opts.items()):
            if st.get(opt, 0) != value:
                st[opt] = value
                self.write({"ev": "sockopt", "sock": sock,
                            "opt": SOCKOPTS.get(opt, str(opt)), "value": value})

    def send(self, sock: int, data: bytes) -> None:
        """A datagram the program sent to the kernel."""
        self.write({"ev": "send", "sock": sock, "hex": data.hex()})

    def recv(self, sock: int, data: bytes | None = None, err: int = 0,
             unread: bool = False) -> None:
        """A datagram the program received (whole), or a receive that failed with ``err``."""
        rec: dict[str, Any] = {"ev": "recv", "sock": sock}
        if err:
            rec["errno"] = _errno.errorcode.get(err, str(err))
        else:
            rec["hex"] = (data or b"").hex()
        if unread:
            rec["unread"] = True
        self.write(rec)

    def exit(self, status: int) -> None:
        """The program's exit status."""
        self.write({"ev": "exit", "status": status})

    def close(self) -> None:
        """Close the file if this writer opened it."""
        if self._own:
            self._file.close()


@dataclass
class Trace:
    """A TRACE read back: its header and its events (dicts, as on the lines)."""

    header: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    def ports(self) -> dict[int, int]:
        """sock -> the port id it had when it was recorded (its last ``bind``)."""
        out: dict[int, int] = {}
        for ev in self.events:
            if ev["ev"] == "bind":
                out[int(ev["sock"])] = int(ev["port"])
        return out

    def options(self, sock: int) -> dict[str, int]:
        """The last value of each socket option ``sock`` set."""
        return {ev["opt"]: int(ev["value"]) for ev in self.events
                if ev["ev"] == "sockopt" and ev["sock"] == sock}

    @property
    def status(self) -> int | None:
        """The recorded program's exit status (None: not recorded)."""
        for ev in self.events:
            if ev["ev"] == "exit":
                return int(ev["status"])
        return None


def _check(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise TraceError(f"{where}: an event is a JSON object")
    ev = obj.get("ev")
    if ev in ("send", "recv", "socket", "bind", "sockopt") and not isinstance(obj.get("sock"),
                                                                             int):
        raise TraceError(f"{where}: {ev} event without an integer 'sock'")
    if ev in ("send", "recv") and "hex" in obj:
        try:
            obj["data"] = bytes.fromhex(obj["hex"])
        except (TypeError, ValueError):
            raise TraceError(f"{where}: 'hex' is not hex bytes") from None
    elif ev == "send":
        raise TraceError(f"{where}: send event without 'hex'")
    elif ev == "recv" and not isinstance(obj.get("errno"), str):
        raise TraceError(f"{where}: recv event without 'hex' or an 'errno' name")
    for key, kind in _REQUIRED.get(str(ev), ()):
        if not isinstance(obj.get(key), kind) or isinstance(obj.get(key), bool):
            raise TraceError(f"{where}: {ev} event without {kind.__name__} {key!r}")
    if ev == "bind" and not all(isinstance(g, int) for g in obj.get("groups") or []):
        raise TraceError(f"{where}: bind 'groups' is a list of group numbers")
    return obj


_REQUIRED: dict[str, tuple[tuple[str, type], ...]] = {
    "bind": (("port", int),), "sockopt": (("opt", str), ("value", int)),
    "exit": (("status", int),)}


def is_trace(first_line: str) -> bool:
    """Whether ``first_line`` is a TRACE header (of any version)."""
    try:
        head = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(head, dict) and "nlcore_trace" in head


def read_trace(src: PathOrFile) -> Trace:
    """Parse a TRACE; TraceError naming the line for anything malformed or too new."""
    name = str(src) if isinstance(src, (str, os.PathLike)) else getattr(src, "name", "<trace>")
    if isinstance(src, (str, os.PathLike)):
        with open(src) as f:
            lines = f.read().splitlines()
    else:
        lines = src.read().splitlines()
    if not lines or not is_trace(lines[0]):
        raise TraceError(f"{name}: not an nlcore TRACE (line 1 is not a "
                         f'{{"nlcore_trace": {VERSION}, ...}} header)')
    header = json.loads(lines[0])
    if header["nlcore_trace"] != VERSION or isinstance(header["nlcore_trace"], bool):
        raise TraceError(f"{name}: TRACE version {header['nlcore_trace']!r}; this nlcore "
                         f"reads version {VERSION}")
    events = []
    for i, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise TraceError(f"{name}:{i}: not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise TraceError(f"{name}:{i}: an event is a JSON object")
        if obj.get("ev") in KNOWN_EVENTS:
            events.append(_check(obj, f"{name}:{i}"))
    return Trace(header, events)


def _decoded(data: bytes, as_json: bool, indent: str) -> Any:
    from ..codec.errors import ParseError
    from ..codec.text import format_message, to_json
    from ..codec.wire import decode

    try:
        msgs = decode(data)
    except ParseError as exc:
        return {"malformed": str(exc)} if as_json else f"{indent}malformed: {exc}"
    if as_json:
        return [to_json(m) for m in msgs]
    return "\n".join(format_message(m, indent) for m in msgs)


def render(trace: Trace, as_json: bool = False) -> str:
    """``nlcore decode TRACE``: every event, its messages decoded (text, or JSON lines)."""
    if as_json:
        lines = [json.dumps(trace.header)]
        for ev in trace.events:
            out = {k: v for k, v in ev.items() if k != "data"}
            if "data" in ev:
                out["messages"] = _decoded(ev["data"], True, "")
            lines.append(json.dumps(out))
        return "\n".join(lines)
    h = trace.header
    lines = [f"# nlcore TRACE v{h.get('nlcore_trace')}: {' '.join(h.get('cmd') or [])} "
             f"({h.get('source', '?')}, kernel {h.get('kernel', '?')})"]
    for i, ev in enumerate(trace.events, 1):
        where = f"#{i} sock {ev['sock']}: " if "sock" in ev else f"#{i} "
        kind = ev["ev"]
        if kind == "socket":
            lines.append(f"{where}socket (netlink protocol {ev.get('proto', 0)})")
        elif kind == "bind":
            lines.append(f"{where}bind port {ev['port']} groups {ev.get('groups', [])}")
        elif kind == "sockopt":
            lines.append(f"{where}sockopt {ev['opt']} = {ev['value']}")
        elif kind == "exit":
            lines.append(f"{where}exit status {ev['status']}")
        elif "data" in ev:
            extra = " (unread)" if ev.get("unread") else ""
            lines.append(f"{where}{kind} {len(ev['data'])} bytes{extra}")
            lines.append(_decoded(ev["data"], False, "  "))
        else:
            lines.append(f"{where}{kind} failed: {ev.get('errno')}")
    return "\n".join(lines)

