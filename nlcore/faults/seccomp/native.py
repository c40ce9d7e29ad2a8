"""The native supervisor (``csrc/supervise.c``) behind ``nlcore inject``.

It takes the same decisions as :class:`~nlcore.faults.seccomp.supervisor.Supervisor`, its pure
twin, with the whole notification loop in C (one call serves until the program exits):
about a fifth of the per-call cost (``bench/bench_inject.py``). ``nlcore inject`` uses it
unless ``--log`` is given (the log is written by the pure supervisor), ``NLCORE_PURE=1`` is
set, or the compiled extension is absent.
"""

from __future__ import annotations

import errno as _errno
import ipaddress
import os
import subprocess
from types import ModuleType
from typing import Any

from . import bpf as _bpf
from . import syscalls as _syscalls
from .rules import Rule, RuleSet

STATS = ("notifications", "continued", "failed", "delivered", "errors", "interrupted",
         "dropped")
_KINDS = {"read": 1, "write": 2, "sendto": 3, "sendmsg": 4, "sendmmsg": 5, "recvfrom": 6,
          "recvmsg": 7, "recvmmsg": 8, "writev": 9, "readv": 10, "sendfile": 11, "preadv2": 11,
          "pwritev2": 11, "splice": 12}


def load() -> ModuleType | None:
    """``nlcore._native`` when it is built and not disabled by ``NLCORE_PURE``, else None."""
    if os.environ.get("NLCORE_PURE", "") not in ("", "0"):
        return None
    try:
        from ... import _native
    except ImportError:
        return None
    mod: ModuleType = _native
    return mod


def kinds(arch: int) -> bytes:
    """The ``kinds[nr]`` table of ``nlc_sup_new`` for architecture ``arch``."""
    table = bytearray(512)
    for name, nr in _bpf.SYSCALLS[arch].items():
        table[nr] = _KINDS.get(name, 0)
    return bytes(table)


def compile_rules(ffi: Any, rules: RuleSet, default_errno: int) -> Any:
    """``struct nlc_rule[]`` for ``rules``; each rule's errno resolved against the default."""
    out = ffi.new("struct nlc_rule[]", max(1, len(rules.rules)))
    for c, r in zip(out, rules.rules):
        c.type = r.type
        c.has_family, c.family = r.family is not None, r.family or 0
        c.has_index, c.index = r.index is not None, r.index or 0
        c.first, c.last = r.first, r.last or 0
        c.err = r.errno or default_errno
        if r.prefix is not None:
            c.has_prefix, c.prefix_len = 1, r.prefix.prefixlen
            c.prefix_family = _put(c.prefix, r.prefix.network_address)
        _fields(c, r)
    return out


def _put(dest: Any, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    """``ip``'s bytes into the ``uint8_t[16]`` ``dest``; returns its family (2 or 10)."""
    dest[0:len(ip.packed)] = list(ip.packed)
    return 2 if ip.version == 4 else 10


def _fields(c: Any, r: Rule) -> None:
    """The route and neighbour fields of ``r`` (rules_route) into ``c`` (each key at most
    once: :class:`Rule` refuses a repeat)."""
    for key, want in r.fields:
        if key == "dst":
            c.has_dst = 1
            if want is None:
                c.dst_default = 1
            else:
                assert isinstance(want, (ipaddress.IPv4Network, ipaddress.IPv6Network))
                c.dst_len = want.prefixlen
                c.dst_family = _put(c.dst, want.network_address)
        elif key == "via":
            assert isinstance(want, (ipaddress.IPv4Address, ipaddress.IPv6Address))
            c.has_via, c.via_family = 1, _put(c.via, want)
        elif key == "table":
            c.has_table, c.table = 1, want
        else:
            c.has_oif, c.oif = 1, want


class NativeSupervisor:
    """``nlc_sup_*`` around listener fd ``listener``, with the interface of the pure
    :class:`~nlcore.faults.seccomp.supervisor.Supervisor`: :meth:`run`, :meth:`report`,
    :meth:`close`."""

    def __init__(self, native: ModuleType, listener: int, rules: RuleSet, errno: int,
                 extack: str | None = None, syscall_errno: bool = False) -> None:
        self._lib, self._ffi = native.lib, native.ffi
        self.rules = rules
        self._crules = compile_rules(self._ffi, rules, errno)
        self._kinds = self._ffi.from_buffer(kinds(_bpf.native_arch()))
        self._extack = self._ffi.new("char[]", extack.encode()) if extack else self._ffi.NULL
        self._sup = self._lib.nlc_sup_new(listener, _bpf.native_arch(), self._kinds,
                                          self._crules, len(rules.rules), int(syscall_errno),
                                          self._extack)
        if self._sup == self._ffi.NULL:
            raise MemoryError("nlc_sup_new: out of memory")

    ENGINE = "native"

    def set_killable(self, killable: bool) -> None:
        """Whether the listener waits killable once a notification is received (else the
        supervisor answers a send before performing it: exactly once either way)."""
        self._lib.nlc_sup_set_killable(self._sup, int(killable))

    def _serve(self, pidfd: int) -> int:
        """1 when ``pidfd`` (-1: none) turned readable, 2 when every task under the filter is
        gone; OSError if the loop itself fails. Python signal handlers run in between."""
        while True:
            rc = int(self._lib.nlc_sup_serve(self._sup, pidfd))
            if rc != -_errno.EINTR:
                break
        if rc < 0:
            raise OSError(-rc, f"nlc_sup_serve: {os.strerror(-rc)}")
        return rc

    def run(self, proc: subprocess.Popen[Any]) -> int:
        """Serve until ``proc`` has exited and no task is left under the filter; returns
        its exit status (128 + N for signal N)."""
        pidfd = _syscalls.pidfd_open(proc.pid)
        code: int | None = None
        try:
            while True:
                if self._serve(pidfd if code is None else -1) == 1:
                    code = _syscalls.exit_status(proc)
                else:  # every task under the filter is gone: the program too
                    return code if code is not None else _syscalls.exit_status(proc)
        finally:
            os.close(pidfd)

    def report(self) -> tuple[dict[str, int], str]:
        """The counters (as :attr:`Supervisor.stats`) and the first error; the rules'
        occurrence counts are copied into ``rules.counts``."""
        stats = self._ffi.new("uint64_t[]", len(STATS))
        counts = self._ffi.new("uint32_t[]", max(1, len(self.rules.rules)))
        err = self._ffi.new("char[]", 256)
        self._lib.nlc_sup_report(self._sup, stats, counts, len(self.rules.rules), err, 256)
        self.rules.counts[:] = list(counts)[:len(self.rules.rules)]
        return dict(zip(STATS, (int(x) for x in stats))), self._ffi.string(err).decode()

    def close(self) -> None:
        """Free the supervisor and close its duplicates of the program's sockets."""
        if self._sup != self._ffi.NULL:
            self._lib.nlc_sup_free(self._sup)
            self._sup = self._ffi.NULL
