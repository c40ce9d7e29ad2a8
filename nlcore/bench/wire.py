"""Ack parse, batch encode and import cost, for ``nlcore bench`` and ``bench/``.

The ack buffer is made of real kernel replies captured in the bench namespace (a socket
without NETLINK_CAP_ACK, so errors echo the whole request): two thirds successes, one third
errors with extack (IPv4: a 2-byte IFA_LOCAL -> ERANGE "Attribute failed policy validation"
with an offset; IPv6: a device with disable_ipv6=1 -> EACCES "IPv6 is disabled on this
device"), replicated to ``n`` messages with seqs 1..n.
"""

from __future__ import annotations

import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..codec import consts as C
from ..codec.spec import AddrSpec
from ..codec.wire import MAX_ADDR_MSG, decode, encode_addr, encode_addrs, encode_addrs_into
from ..net.conn import AckWindow, Conn
from ..ops.engine import Report, error_for
from ..ops.link import add_veth, index_of
from .methods import Bed, Outcome, Row, addresses, bench_module, make_row, use_backend

_U32 = struct.Struct("=I")
CHUNK = 1 << 16  # bytes per replayed "datagram" for the Conn.collect path
PARSE_PY, ENCODE_PY, IMPORT_PY = "pyroute2 parse()", "pyroute2 encode()", "import pyroute2"
Step = Callable[[str, str], None]


def capture_acks(bed: Bed, family: int, count: int = 48) -> list[bytes]:
    """``count`` real acks of ``family`` from the kernel: every third an error with extack
    (the others replace addresses on a veth ``cap4``/``cap6`` made for this)."""
    c = Conn(ns=bed.ns, cap_ack=False)
    try:
        name = f"cap{family}"
        try:
            good, peer = add_veth(c, name, name + "p")
        except FileExistsError:  # captured before in this namespace
            good, peer = index_of(c, name), index_of(c, name + "p")
        bad = good
        if family == 6:
            bed.ns.write_sysctl(f"net/ipv6/conf/{name}p/disable_ipv6", "1")
            bad = peer
        seq0 = c.take_seqs(count)
        reqs = []
        for j in range(count):
            if family == 4:
                spec = AddrSpec(f"198.19.255.{j}/32", index=good, op="replace")
                req = bytearray(encode_addr(spec, seq0 + j))
                if j % 3 == 2:
                    req[24:26] = b"\x06\x00"  # IFA_LOCAL with 2 bytes of payload
            else:
                spec = AddrSpec(f"2001:db8:ffff:{j:x}::1/64", index=bad if j % 3 == 2 else good,
                                op="replace", flags="nodad")
                req = bytearray(encode_addr(spec, seq0 + j))
            reqs.append(bytes(req))
        c.send(b"".join(reqs))
        out: list[bytes] = []
        while len(out) < count:
            view = bytes(c.recv())
            pos = 0
            while pos + C.NLMSG_HDRLEN <= len(view):
                n = _U32.unpack_from(view, pos)[0]
                out.append(view[pos:pos + n])
                pos += (n + 3) & ~3
        return out
    finally:
        c.close()


def ack_buffer(acks: Sequence[bytes], n: int) -> bytes:
    """``acks`` repeated to ``n`` messages, message i with seq i + 1 (also in an echoed header)."""
    out = bytearray()
    for i in range(n):
        m = bytearray(acks[i % len(acks)])
        m += bytes(-len(m) % 4)
        _U32.pack_into(m, 8, i + 1)
        if len(m) >= 36 and struct.unpack_from("=H", m, 4)[0] == C.NLMSG_ERROR:
            _U32.pack_into(m, 28, i + 1)
        out += m
    return bytes(out)


def scan(buf: bytes, n: int, backend: str) -> Outcome:
    """The bulk call: errnos, seqs, offsets and types of all ``n`` acks into arrays."""
    seq, err, off, tf = (array(t, bytes(4 * n)) for t in "IiII")
    with use_backend(backend) as codec:
        t0 = time.perf_counter()
        k = codec.acks_scan(buf, len(buf), seq, err, off, tf)
        dt = time.perf_counter() - t0
    return Outcome(dt, abs(n - k))


class _Replay:
    """A transport that hands out prepared datagrams (the kernel's pid, 0, as sender)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks, self.next = chunks, 0

    @property
    def pid(self) -> int:
        return 0x4E4C

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Nothing to send: the acks are already here."""

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        if self.next >= len(self.chunks):
            raise TimeoutError("no more replies")
        chunk = self.chunks[self.next]
        self.next += 1
        buf[:len(chunk)] = chunk
        return len(chunk), 0

    def close(self) -> None:
        """Nothing to close."""


def _chunks(buf: bytes) -> list[bytes]:
    out, start, pos = [], 0, 0
    while pos < len(buf):
        n = (_U32.unpack_from(buf, pos)[0] + 3) & ~3
        if pos + n - start > CHUNK:
            out.append(buf[start:pos])
            start = pos
        pos += n
    out.append(buf[start:pos])
    return out


def collect(buf: bytes, n: int, backend: str) -> Outcome:
    """The per-request result path: ``Conn.collect`` fills an AckWindow (one status per
    request, the whole reply kept for every error) from 64 KiB datagrams."""
    conn = Conn(_Replay(_chunks(buf)))
    win = AckWindow(1, n)
    with use_backend(backend):
        t0 = time.perf_counter()
        conn.collect(win)
        dt = time.perf_counter() - t0
    return Outcome(dt, win.pending)


def results(buf: bytes, n: int, backend: str) -> Outcome:
    """Acks to one Result per request, as ``apply()`` returns them: Conn.collect, a
    KernelError per failure (``engine.error_for``, as apply() builds them: its extack and
    request text are decoded from the kept reply when first read) and every ``Result`` of
    the Report built."""
    conn, win = Conn(_Replay(_chunks(buf))), AckWindow(1, n)
    specs = [AddrSpec("198.18.0.1/32", index=2)] * n
    with use_backend(backend):
        t0 = time.perf_counter()
        conn.collect(win)
        status, replies, first = win.status, win.replies, win.first_seq
        errors = {j: error_for(st, first + j, replies.get(j), None)
                  for j, st in enumerate(status) if st < 0}
        out = list(Report(specs, status, errors, {}, set(), False, False))
        dt = time.perf_counter() - t0
    return Outcome(dt, win.pending + sum(1 for j, r in enumerate(out)
                                         if (r.error is None) != (win.status[j] == 0)))


def decode_all(buf: bytes, n: int) -> Outcome:
    """``nlcore.codec.decode(buf)``: one typed message (ErrorMsg with Extack) per ack."""
    t0 = time.perf_counter()
    msgs = decode(buf)
    dt = time.perf_counter() - t0
    return Outcome(dt, abs(n - len(msgs)))


def encode_specs(family: int, n: int) -> list[AddrSpec]:
    """``n`` RTM_NEWADDR specs (the bench addresses on ifindex 2)."""
    flags = "nodad" if family == 6 else 0
    return [AddrSpec(a, index=2, flags=flags) for a in addresses(family, n)]


def encode_records(records: bytes, n: int, backend: str) -> Outcome:
    """``encode_addrs_into`` of ``n`` packed records into one preallocated buffer."""
    buf = bytearray(MAX_ADDR_MSG * n)
    with use_backend(backend):
        t0 = time.perf_counter()
        _, k = encode_addrs_into(buf, records, 1, 0)
        dt = time.perf_counter() - t0
    return Outcome(dt, abs(n - k))


def encode_list(specs: list[AddrSpec], backend: str) -> Outcome:
    """``encode_addrs(specs)``: records packed from the specs, then one backend call."""
    with use_backend(backend):
        t0 = time.perf_counter()
        encode_addrs(specs, 1, 0)
        dt = time.perf_counter() - t0
    return Outcome(dt)


_IMPORT = """import time
def rss():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmRSS:'))
r = rss(); t = time.perf_counter()
import {mod}
print(time.perf_counter() - t, rss() - r)
"""


def import_cost(module: str, runs: int = 5, pure: bool = False,
                cache: str | None = None) -> tuple[float, int]:
    """Median (seconds, added RSS in KiB) of ``import module`` in fresh interpreters.

    Bytecode is compiled first (into ``cache``, a PYTHONPYCACHEPREFIX, or a temporary one),
    as an installed package has it; interpreter startup is not counted.
    """
    pkg_parent = str(Path(__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NLCORE_PURE", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    if pure:
        env["NLCORE_PURE"] = "1"
    with tempfile.TemporaryDirectory(prefix="nlcore-pyc-") as tmp:
        env["PYTHONPYCACHEPREFIX"] = cache or tmp
        argv = [sys.executable, "-c", _IMPORT.format(mod=module)]
        samples = []
        for _ in range(runs + 1):  # the first run compiles
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                                  check=True)
            secs, kib = done.stdout.split()
            samples.append((float(secs), int(kib)))
    rest = samples[1:]
    return statistics.median(s for s, _ in rest), int(statistics.median(k for _, k in rest))


def wire_rows(bed: Bed, families: Sequence[int], n: int, rounds: int, native: bool,
              pyroute2: bool, step: Step, notes: list[str]) -> Iterator[Row]:
    """Ack parse and batch encode of ``n`` messages per family, each backend, and pyroute2."""
    backends = ["native", "pure"] if native else ["pure"]
    p2 = bench_module("pyroute2_methods") if pyroute2 else None
    for family in families:
        group = f"IPv{family} wire N={n}"
        step(group, "capturing kernel acks")
        buf = ack_buffer(capture_acks(bed, family), n)
        for b in backends:
            for name, fn in (("nlcore acks_scan", scan), ("nlcore Conn.collect", collect),
                             ("nlcore Report", results)):
                step(group, f"{name} {b}")
                yield make_row(name, b, "parse", family, n, 1,
                               [fn(buf, n, b) for _ in range(rounds)])
        step(group, "nlcore decode()")
        yield make_row("nlcore decode()", None, "parse", family, n, 1,
                       [decode_all(buf, n) for _ in range(min(rounds, 3))])
        if p2 is not None:
            step(group, PARSE_PY)
            t0 = time.perf_counter()
            count, errs, texts = p2.parse(buf)
            dt = time.perf_counter() - t0
            if texts < errs:
                notes.append(f"pyroute2 parse kept the extack text of {texts} of {errs} errors")
            yield make_row(PARSE_PY, None, "parse", family, n, 1, [Outcome(dt, abs(n - count))])
        step(group, "building specs")
        specs = encode_specs(family, n)
        records = b"".join(s.record for s in specs)
        for b in backends:
            step(group, f"nlcore encode {b}")
            yield make_row("nlcore encode_addrs_into", b, "encode", family, n, 1,
                           [encode_records(records, n, b) for _ in range(rounds)])
            yield make_row("nlcore encode_addrs", b, "encode", family, n, 1,
                           [encode_list(specs, b) for _ in range(rounds)])
        if p2 is not None:
            step(group, ENCODE_PY)
            secs, _ = p2.encode("add", family, addresses(family, n), [2])
            yield make_row(ENCODE_PY, None, "encode", family, n, 1, [Outcome(secs)])


def import_rows(runs: int, native: bool, pyroute2: bool, step: Step) -> Iterator[Row]:
    """``import nlcore`` (each backend) and ``import pyroute2`` in fresh interpreters."""
    pkg = __name__.rsplit(".", 2)[0]  # the package above bench/: nlcore, or a vendored copy
    backends = ["native", "pure"] if native else ["pure"]
    todo: list[tuple[str, str | None, str, bool]] = [
        (f"import {pkg}", b, pkg, b == "pure") for b in backends]
    if pyroute2:
        todo.append((IMPORT_PY, None, "pyroute2", False))
    for name, backend, mod, pure in todo:
        step("import", name)
        secs, kib = import_cost(mod, runs, pure)
        yield make_row(name, backend, "import", None, 1, 1, [Outcome(secs)], ms=secs * 1e3,
                       rss_kib=kib)
