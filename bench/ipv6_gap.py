"""Why does a Python process pay more kernel time per IPv6 add than the C loop?

Runs, in one throwaway namespace, rounds of: bench/c_limit.c (add then del, 1,000 IPv6
/64 nodad addresses, batch 256) and a Python loop that sends the *same bytes* (built here as
c_limit builds them) through a plain socket, under socket-option variants, interleaved. It
reports the kernel (sys) CPU microseconds per address of each, from getrusage (the C's
user+sys, which is nearly all sys). Variants change one thing at a time from the C's
socket: NETLINK_GET_STRICT_CHK on, nlcore's buffer sizes (4 MiB / 1 MiB), both (nlcore's
Transport), and the C's socket on a buffer that is not page-aligned.

    sudo .venv/bin/python bench/ipv6_gap.py [--rounds 9] [--family 6]
"""

from __future__ import annotations

import argparse
import json
import mmap
import resource
import socket
import statistics
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import climit

NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 10, 11, 12
SOL_NETLINK, SO_SNDBUFFORCE, SO_RCVBUFFORCE = 270, 32, 33
N, BATCH = 1000, 256


def messages(op: str, family: int, index: int) -> list[bytes]:
    """c_limit's requests: IFA_LOCAL and IFA_ADDRESS, /32 or /64 nodad, seq i + 1."""
    mtype, flags = (20, 0x1 | 0x4 | 0x400 | 0x200) if op == "add" else (21, 0x1 | 0x4)
    out = []
    for i in range(N):
        if family == 4:
            addr = socket.inet_pton(socket.AF_INET, "198.18.0.1")
            addr = (int.from_bytes(addr, "big") + i).to_bytes(4, "big")
            ifa = struct.pack("=BBBBI", 2, 32, 0, 0, index)
        else:
            addr = socket.inet_pton(socket.AF_INET6, f"2001:db8:{1 + i:x}::1")
            ifa = struct.pack("=BBBBI", 10, 64, 0x02, 0, index)
        attrs = b"".join(struct.pack("=HH", 4 + len(addr), t) + addr for t in (2, 1))
        body = ifa + attrs
        out.append(struct.pack("=IHHII", 16 + len(body), mtype, flags, i + 1, 0) + body)
    return out


def open_sock(variant: str) -> socket.socket:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    if "strict" in variant:
        s.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    big = "bufs" in variant
    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, (1 << 20) if big else BATCH * 64 + 65536)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, (4 << 20) if big else BATCH * 2048 + 65536)
    s.bind((0, 0))
    return s


def py_loop(msgs: list[bytes], variant: str) -> float:
    """Kernel CPU seconds (ru_stime) of sending msgs in batches and reading every ack."""
    s = open_sock(variant)
    blobs = [b"".join(msgs[i:i + BATCH]) for i in range(0, len(msgs), BATCH)]
    if "unaligned" in variant:
        area = mmap.mmap(-1, 1 << 20)
        views = []
        pos = 8  # not page-aligned, not cache-line aligned
        for b in blobs:
            area[pos:pos + len(b)] = b
            views.append(memoryview(area)[pos:pos + len(b)])
            pos += len(b) + 8
    else:
        views = [memoryview(bytearray(b)) for b in blobs]
    rbuf = bytearray(1 << 16)
    t0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    for k, v in enumerate(views):
        s.send(v)
        want = min(BATCH, len(msgs) - k * BATCH)
        while want:
            got = s.recv_into(rbuf)
            off = 0
            while off + 16 <= got:
                ln = int.from_bytes(rbuf[off:off + 4], "little")
                want -= 1
                off += (ln + 3) & ~3
    dt = resource.getrusage(resource.RUSAGE_SELF).ru_stime - t0
    s.close()
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--family", type=int, default=6)
    a = ap.parse_args()
    variants = ["c-like", "strict", "bufs", "strict+bufs", "unaligned"]
    got: dict[str, list[float]] = {v: [] for v in ["C limit", *variants]}
    with climit.throwaway_netns() as prefix:
        idx = climit.ifindex(prefix, "v0")
        here = str(Path(__file__).parent)
        code = (f"import sys, json; sys.path.insert(0, {here!r}); import ipv6_gap as g; "
                "print(json.dumps(g.child(json.loads(sys.argv[1]))))")
        for r in range(a.rounds):
            order = ["C limit", *variants]
            order = order[r % len(order):] + order[:r % len(order)]
            for v in order:
                if v == "C limit":
                    cpu = 0.0
                    for op in ("add", "del"):
                        res = climit.run(prefix, op=op, family=a.family, ifindex=[idx],
                                         count=N, batch=BATCH)
                        cpu += float(res["cpu_seconds"])
                else:
                    job = json.dumps({"variant": v, "family": a.family, "index": idx})
                    out = subprocess.run([*prefix, sys.executable, "-c", code, job],
                                         capture_output=True, text=True, check=True)
                    cpu = float(out.stdout.strip().splitlines()[-1])
                got[v].append(cpu * 1e6 / (2 * N))
    base = statistics.median(got["C limit"])
    print(f"IPv{a.family}, {N} adds + {N} dels, batch {BATCH}, {a.rounds} interleaved rounds: "
          "kernel CPU us per request (median, min..max)")
    for v, xs in got.items():
        med = statistics.median(xs)
        print(f"  {v:<12} {med:6.2f}  ({min(xs):.2f}..{max(xs):.2f})  x{med / base:.2f}")
    return 0


def child(job: dict[str, object]) -> float:
    """One add + del cycle of the Python loop (run inside the namespace)."""
    fam, idx, v = int(job["family"]), int(job["index"]), str(job["variant"])  # type: ignore
    return py_loop(messages("add", fam, idx), v) + py_loop(messages("del", fam, idx), v)


if __name__ == "__main__":
    sys.exit(main())
