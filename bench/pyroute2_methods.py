"""pyroute2 beside nlcore: the same addresses, the same acks, the same messages.

As a script (run by nlcore's bench inside the throwaway namespace) it reads one JSON job on
stdin -- ``{"op", "family", "addresses": ["198.18.0.1/32", ...], "index": [ifindex, ...],
"mode": "loop"|"batch", "batch": 256}`` -- applies it with pyroute2 and prints one JSON line
``{"seconds", "errors", "version"}``. Only the apply loop is timed (the import, ``IPRoute()``
and, for ``batch``, building the ifaddrmsg objects are not):

- ``loop``: ``IPRoute.addr(op, index=, address=, prefixlen=[, flags=IFA_F_NODAD])`` per address
  (pyroute2's documented per-call API; it waits for each ack);
- ``batch``: ``IPRoute.nlm_request_batch(msgs, noraise=True)`` over prebuilt ifaddrmsg objects,
  ``batch`` per call (pyroute2's fastest path: one send, then every ack).

Imported, it offers :func:`parse` (``MarshalRtnl().parse`` over a buffer of acks) and
:func:`encode` (ifaddrmsg objects built and encoded), timed by the caller.
"""

from __future__ import annotations

import json
import resource
import socket
import sys
import time
from typing import Any

# linux/rtnetlink.h, linux/netlink.h, linux/if_addr.h
RTM_NEWADDR, RTM_DELADDR = 20, 21
NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x100, 0x200, 0x400
IFA_F_NODAD = 0x02
FLAGS = {"add": NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
         "replace": NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
         "del": NLM_F_REQUEST | NLM_F_ACK}


def version() -> str | None:
    """The installed pyroute2 version, or None when it is not installed."""
    try:
        from importlib.metadata import version as _version

        return _version("pyroute2")
    except Exception:
        return None


def _split(text: str) -> tuple[str, int]:
    addr, _, plen = text.partition("/")
    return addr, int(plen)


def messages(op: str, family: int, addresses: list[str], index: list[int]) -> list[Any]:
    """One prebuilt pyroute2 ``ifaddrmsg`` per address (IFA_LOCAL and IFA_ADDRESS, as c_limit)."""
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

    out = []
    for i, text in enumerate(addresses):
        addr, plen = _split(text)
        m = ifaddrmsg()
        m["family"] = socket.AF_INET if family == 4 else socket.AF_INET6
        m["prefixlen"] = plen
        m["index"] = index[i % len(index)]
        m["flags"] = IFA_F_NODAD if family == 6 else 0
        m["attrs"] = [["IFA_LOCAL", addr], ["IFA_ADDRESS", addr]]
        m["header"]["type"] = RTM_DELADDR if op == "del" else RTM_NEWADDR
        m["header"]["flags"] = FLAGS[op]
        out.append(m)
    return out


def _loop(ipr: Any, job: dict[str, Any]) -> tuple[float, int]:
    from pyroute2.netlink.exceptions import NetlinkError

    index, op, errors = job["index"], job["op"], 0
    calls = []
    for i, text in enumerate(job["addresses"]):
        addr, plen = _split(text)
        kw: dict[str, Any] = {"index": index[i % len(index)], "address": addr, "prefixlen": plen}
        if job["family"] == 6 and op != "del":
            kw["flags"] = IFA_F_NODAD
        calls.append(kw)
    t0 = time.perf_counter()
    for kw in calls:
        try:
            ipr.addr(op, **kw)
        except NetlinkError:
            errors += 1
    return time.perf_counter() - t0, errors


def _batch(ipr: Any, job: dict[str, Any]) -> tuple[float, int]:
    msgs = messages(job["op"], job["family"], job["addresses"], job["index"])
    size, errors = int(job.get("batch", 256)), 0
    t0 = time.perf_counter()
    for k in range(0, len(msgs), size):
        chunk = msgs[k:k + size]
        errors += len(chunk) - len(ipr.nlm_request_batch(chunk, noraise=True))
    return time.perf_counter() - t0, errors


def parse(buf: bytes) -> tuple[int, int, int]:
    """``MarshalRtnl().parse(buf)`` to the end: (messages, errors, errors that kept a text)."""
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl

    msgs = list(MarshalRtnl().parse(buf))
    errs = [m["header"].get("error") for m in msgs]
    failed = [e for e in errs if e is not None]
    texts = sum(1 for e in failed if len(getattr(e, "args", ())) > 1 and e.args[1])
    return len(msgs), len(failed), texts


def encode(op: str, family: int, addresses: list[str], index: list[int]) -> tuple[float, int]:
    """Seconds to build and encode one ifaddrmsg per address, and the bytes produced."""
    t0 = time.perf_counter()
    total = 0
    for m in messages(op, family, addresses, index):
        m.encode()
        total += len(m.data)
    return time.perf_counter() - t0, total


def _cpu() -> float:
    """On-CPU seconds of this process: nlcore's perf task-clock where nlcore is importable
    (getrusage undercounts netlink work on VMs: nlcore/bench/cpuclock.py), else getrusage."""
    try:
        from nlcore.bench.cpuclock import cpu_self
    except ImportError:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime
    return cpu_self()


def main() -> int:
    """Run one JSON job from stdin; print one JSON result line."""
    job = json.load(sys.stdin)
    from pyroute2 import IPRoute

    run = _batch if job["mode"] == "batch" else _loop
    ipr = IPRoute()
    try:
        cpu0 = _cpu()
        seconds, errors = run(ipr, job)
        cpu = _cpu() - cpu0
    finally:
        ipr.close()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "errors": errors,
                      "version": version()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
