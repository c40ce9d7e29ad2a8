"""The test bed and the timed methods behind ``nlcore bench`` and ``bench/``.

A :class:`Bed` is one throwaway network namespace with veth devices made by nlcore and a Conn
inside it. Every method applies the same addresses (:func:`addresses`) and returns an
:class:`Outcome`: the seconds of the timed part only, and the requests that failed. Each tool
times itself: nlcore here around ``apply()``; the C loop and pyroute2 inside their own process
(setup excluded); ``ip -batch`` as wall time minus that of an empty batch. Not imported by
``import nlcore``; external tools run under ``setpriv --pdeathsig KILL`` so that none outlives
the job.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import ipaddress
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

from ..codec import _backend
from ..codec import consts as C
from ..codec.decode import AddrMsg
from ..codec.spec import AddrSpec
from ..codec.wire import encode_getaddr
from ..net.conn import Conn
from ..net.netns import ThrowawayNetns
from ..ops import engine
from ..ops.engine import apply
from ..ops.link import add_veth, set_link
from .cpuclock import cpu_children, cpu_self

V4_BASE = ipaddress.IPv4Address("198.18.0.1")  # c_limit's default base, /32s in 198.18.0.0/15
_PKG = __name__.rsplit(".", 2)[0]  # the package above bench/
_MODULES: dict[str, ModuleType | None] = {}


@dataclass(frozen=True)
class Case:
    """One measurement: ``n`` addresses (or routes: ``obj``) of ``family`` (4/6), ``op``,
    spread over ``devices``."""

    op: str
    family: int
    n: int
    devices: int = 1
    obj: str = "addr"


@dataclass(frozen=True)
class Outcome:
    """Seconds of the timed part, how many requests failed in it, and the CPU seconds
    of the process that did it, in that part (perf task-clock, see cpuclock; None: not
    measured)."""

    seconds: float
    errors: int = 0
    cpu: float | None = None


def addresses(family: int, n: int) -> list[str]:
    """The addresses every method uses (c_limit's): 198.18.0.1 + i /32, 2001:db8:i::1/64
    (past 65,535, as the encode benchmark needs: 2001:db8:(i mod 2^16):(i >> 16)::1/64).
    A new list each call, of strings made once (ipaddress's formatting cost up to ~10 ms
    per 1,000, outside the timed part but in every step of a round)."""
    return list(_addresses(family, n))


@functools.lru_cache(maxsize=16)
def _addresses(family: int, n: int) -> tuple[str, ...]:
    if family == 4:
        return tuple(f"{V4_BASE + i}/32" for i in range(n))
    v6 = ipaddress.IPv6Address
    return tuple(f"{v6(f'2001:db8:{i & 0xFFFF:x}:{i >> 16:x}::1')}/64" for i in range(n))


def bench_dir() -> Path | None:
    """The repository's ``bench/`` (``NLCORE_BENCH_DIR`` overrides), or None outside a checkout."""
    env = os.environ.get("NLCORE_BENCH_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "bench"
    return path if (path / "climit.py").is_file() else None


def bench_module(name: str) -> ModuleType | None:
    """``bench/<name>.py`` loaded as a module (None when there is no bench/ or it fails)."""
    if name not in _MODULES:
        mod = sys.modules.get(name)
        where = bench_dir()
        path = where / f"{name}.py" if where else None
        if mod is None or path is None or Path(getattr(mod, "__file__", "")) != path:
            mod = None
            if path is not None and path.is_file():
                spec = importlib.util.spec_from_file_location(f"_nlcore_bench_{name}", path)
                if spec is not None and spec.loader is not None:
                    mod = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(mod)
        _MODULES[name] = mod
    return _MODULES[name]


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[_backend.Codec]:
    """Make every loaded nlcore module use backend ``name`` for the block (bench only)."""
    new, default = _backend.load(name), _backend.codec
    mods = [m for k, m in list(sys.modules.items())
            if (k == _PKG or k.startswith(_PKG + ".")) and getattr(m, "codec", None) is default]
    for m in mods:
        m.codec = new  # type: ignore[attr-defined]
    try:
        yield new
    finally:
        for m in mods:
            m.codec = default  # type: ignore[attr-defined]


class Bed:
    """A throwaway namespace with ``devices`` veth ends (``v0``, ``v1``...) and a Conn in it.

    ``prefix`` is the argv prefix that runs a command inside (nsenter, under setpriv
    --pdeathsig). Close it (or use ``with``) and the namespace is gone; dying also does it.
    """

    def __init__(self, devices: int = 16, userns: bool | None = None) -> None:
        self.ns = ThrowawayNetns(userns)
        self.conn: Conn | None = None
        self._conns: dict[str, Conn] = {}
        self._ip_startup: tuple[float, float] | None = None
        try:
            self.conn = Conn(ns=self.ns)
            self.names = [f"v{k}" for k in range(devices + devices % 2)]
            self.index: dict[str, int] = {}
            for k in range(0, len(self.names), 2):
                a, b = add_veth(self.conn, self.names[k], self.names[k + 1])
                self.index[self.names[k]], self.index[self.names[k + 1]] = a, b
            self.names = self.names[:devices]
            self.devs = [self.index[d] for d in self.names]
            # routes go through their own devices, up (addresses stay on down ones, as before)
            self.route_names = [f"r{k}" for k in range(devices + devices % 2)]
            for k in range(0, len(self.route_names), 2):
                a, b = add_veth(self.conn, self.route_names[k], self.route_names[k + 1])
                self.index[self.route_names[k]], self.index[self.route_names[k + 1]] = a, b
                set_link(self.conn, a, up=True)
                set_link(self.conn, b, up=True)
            self.route_names = self.route_names[:devices]
            self.route_devs = [self.index[d] for d in self.route_names]
            pdeath = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
            enter = (["-t", str(self.ns.holder_pid), "-U", "-n", "--preserve-credentials"]
                     if self.ns.userns else [f"--net={self.ns.path}"])
            self.prefix = [*pdeath, "nsenter", *enter, "--"]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the Conns and the namespace (idempotent)."""
        for c in self._conns.values():
            c.close()
        self._conns.clear()
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.ns.close()

    def __enter__(self) -> Bed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def c(self) -> Conn:
        """The Conn (ValueError once closed)."""
        if self.conn is None:
            raise ValueError("Bed is closed")
        return self.conn

    def conn_for(self, backend: str) -> Conn:
        """A Conn used only under ``backend`` (a Conn caches backend-bound state)."""
        if backend not in self._conns:
            self._conns[backend] = Conn(ns=self.ns)
        return self._conns[backend]

    def run(self, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace, output captured as text."""
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 900)
        return subprocess.run([*self.prefix, *argv], text=True, check=False, **kw)

    def specs(self, case: Case, op: str | None = None) -> list[AddrSpec]:
        """The case's AddrSpecs (request i on device i % devices)."""
        devs, flags = self.devs[:case.devices], "nodad" if case.family == 6 else 0
        return [AddrSpec(a, index=devs[i % len(devs)], op=op or case.op, flags=flags)  # type: ignore[arg-type]
                for i, a in enumerate(addresses(case.family, case.n))]

    def present(self, family: int) -> list[AddrMsg]:
        """Every address of ``family`` on the bench devices (one dump)."""
        fam = C.AF_INET if family == 4 else C.AF_INET6
        devs = set(self.devs)
        return [m for m in self.c.request(encode_getaddr(fam))
                if isinstance(m, AddrMsg) and m.index in devs]

    def misplaced(self, case: Case, there: bool) -> int:
        """How many of the case's addresses are not in the state wanted (``there`` or not)."""
        devs = self.devs[:case.devices]
        want = {(devs[i % len(devs)], a) for i, a in enumerate(addresses(case.family, case.n))}
        have = {(m.index, f"{m.local}/{m.prefixlen}") for m in self.present(case.family)}
        return len(want - have) if there else len(want & have)

    def flush(self, family: int) -> None:
        """Delete every address of ``family`` from the bench devices (untimed cleanup)."""
        dels = [AddrSpec(f"{m.local}/{m.prefixlen}", index=m.index, op="del")
                for m in self.present(family) if m.local]
        if dels:
            apply(dels, self.c, missing_ok=True)

    def fill(self, case: Case) -> None:
        """Add the case's addresses (untimed setup for replace and del)."""
        apply(self.specs(case, "add"), self.c, exist_ok=True)

    def ip_startup(self) -> tuple[float, float]:
        """(wall, CPU) seconds of ``ip -force -batch`` of an empty file here (medians of 5)."""
        if self._ip_startup is None:
            runs, cpus = [], []
            for _ in range(5):
                c0, t0 = cpu_children(), time.perf_counter()
                self.run(["ip", "-force", "-batch", os.devnull])
                runs.append(time.perf_counter() - t0)
                cpus.append(cpu_children() - c0)
            self._ip_startup = (statistics.median(runs), statistics.median(cpus))
        return self._ip_startup


# ------------------------------------------------------------------------------ methods
def nlcore_apply(bed: Bed, case: Case, backend: str = "native", batch: int | None = None,
                 acks: str = "all") -> Outcome:
    """``nlcore.apply(specs, conn)``: every spec in one call (``batch`` per sendmsg: the
    engine's default when None); ``acks="errors"`` where the engine offers it."""
    specs, c = bed.specs(case), bed.conn_for(backend)
    kw: dict[str, Any] = {} if batch is None else {"batch": batch}
    if acks != "all":
        kw["acks"] = acks
    with use_backend(backend):
        c0, t0 = cpu_self(), time.perf_counter()
        rep = apply(specs, c, **kw)
        dt, cpu = time.perf_counter() - t0, cpu_self() - c0
    return Outcome(dt, len(rep.failures()), cpu)


def nlcore_one(bed: Bed, case: Case, backend: str = "native") -> Outcome:
    """One ``nlcore.apply_one(spec, conn)`` per spec: one request, then wait for its ack
    (falls back to ``apply([spec], conn)`` where apply_one does not exist)."""
    specs, c = bed.specs(case), bed.conn_for(backend)
    one = getattr(engine, "apply_one", None)
    with use_backend(backend):
        c0, t0 = cpu_self(), time.perf_counter()
        if one is not None:
            oks = [one(s, c).ok for s in specs]
        else:
            oks = [apply([s], c).ok for s in specs]
        dt, cpu = time.perf_counter() - t0, cpu_self() - c0
    return Outcome(dt, oks.count(False), cpu)


Method = Callable[[Bed, Case], Outcome]
Row = dict[str, Any]


def make_row(method: str, backend: str | None, op: str, family: int | None, n: int,
             devices: int, samples: list[Outcome], **extra: Any) -> Row:
    """A result row: the median of ``samples`` as ``per_s`` (n per median second) and
    ``cpu_us`` (median CPU microseconds per item, None when not measured); every round's
    seconds and CPU seconds, in round order, as ``round_seconds`` and ``round_cpu``."""
    med = statistics.median(s.seconds for s in samples)
    cpus = [s.cpu for s in samples if s.cpu is not None]
    cpu_us = statistics.median(cpus) * 1e6 / n if cpus and len(cpus) == len(samples) else None
    row = {"method": method, "backend": backend, "op": op, "family": family, "n": n,
           "devices": devices, "per_s": n / med, "cpu_us": cpu_us, "acks": "all",
           "input": "specs", "object": "addr",
           "best_per_s": n / min(s.seconds for s in samples), "seconds": med,
           "rounds": len(samples), "errors": sum(s.errors for s in samples), "x_limit": None,
           "x_limit_cpu": None, "x_pyroute2": None,
           "round_seconds": [s.seconds for s in samples],
           "round_cpu": [s.cpu for s in samples] if cpu_us is not None else None}
    row.update(extra)
    return row
