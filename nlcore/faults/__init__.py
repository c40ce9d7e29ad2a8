"""Deterministic fault injection at nlcore's three seams (never inside wire or conn).

* the kernel: :mod:`nlcore.faults.kernel` -- the real kernel in a throwaway namespace, set up
  to refuse (``disable_ipv6``, MTU); the scenarios ``nlcore repro`` knows.
* the syscall: :mod:`nlcore.faults.caps` (per-thread capability drop) and
  :mod:`nlcore.faults.seccomp`.
* the transport: :mod:`nlcore.faults.plan` (rules), :mod:`nlcore.faults.actions` (what a rule
  does), :mod:`nlcore.faults.synthetic` (``FaultyTransport``), :mod:`nlcore.faults.fakekernel`
  (a kernel with one device, for FakeTransport), :mod:`nlcore.faults.replay` (record a session,
  replay it).

:mod:`nlcore.faults.repro` is ``nlcore repro``. Importing this package loads none of them;
import the submodule you need.
"""

from __future__ import annotations

__all__ = ["actions", "caps", "fakekernel", "kernel", "plan", "replay", "repro", "synthetic"]
