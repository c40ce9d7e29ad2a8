"""Restarts in the interruptible mode (no ``SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV``,
kernels before 5.19): the pure twin of ``csrc/sup_redo.c``, taking the same decisions.

There a signal can wake the waiting task just before our ``SECCOMP_IOCTL_NOTIF_SEND``: the
ioctl succeeds, yet the task leaves through ``interrupted`` (``kernel/seccomp.c``,
``seccomp_do_user_notification``), drops the answer and restarts the syscall
(``SA_RESTART``) as a new notification with the same registers. So a send that was answered
and performed is remembered per thread (syscall, arguments, the bytes and destinations
read, the answer) until that thread's next notification. If that next notification is the
identical syscall having read identical bytes, it is the restart of what was done: it
gets the same answer and nothing is performed or counted again. docs/inject.md argues why
a real request is never taken for a restart.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

from . import notify as _notify

CAP = 1024  #: threads remembered at most (past it: start afresh), as REDO_CAP
BYTES = 16 << 20  #: fingerprint bytes remembered at most, as REDO_BYTES
_U32 = struct.Struct("=I")


@dataclass(frozen=True)
class Record:
    """What a thread's last send read (``fp``) and was answered (``val`` or ``error``)."""

    nr: int
    args: tuple[int, ...]
    fp: bytes
    val: int
    error: int


def fingerprint(data: bytes, dest: bytes, answer: int = 0) -> bytes:
    """One datagram read, as ``fp_add`` appends it: answer, length, bytes, dstlen, dst."""
    return b"".join((_U32.pack(answer), _U32.pack(len(data)), data, _U32.pack(len(dest)),
                     dest))


class Redo:
    """Per thread, its last answered send; ``killable``: nothing is ever remembered."""

    def __init__(self, killable: bool) -> None:
        self.killable = killable
        self.recs: dict[int, Record] = {}
        self.bytes = 0
        self.cand: int | None = None  # this notification's thread, while a candidate

    def _drop(self, tid: int) -> None:
        rec = self.recs.pop(tid, None)
        if rec is not None:
            self.bytes -= len(rec.fp)
        self.cand = None

    def begin(self, n: _notify.Notif) -> None:
        """A notification from a thread: its record survives only as a candidate restart
        (the same syscall number and arguments); anything else from it ends it."""
        self.cand = None
        rec = None if self.killable else self.recs.get(n.pid)
        if rec is None:
            return
        if rec.nr == n.nr and rec.args == tuple(n.args):
            self.cand = n.pid
        else:
            self._drop(n.pid)

    def end(self) -> None:
        """Ends the record of this notification's thread unless it was matched."""
        if self.cand is not None:
            self._drop(self.cand)

    def match(self, fp: bytes) -> Record | None:
        """The candidate when this notification read exactly ``fp``: a restart."""
        if self.cand is None:
            return None
        rec = self.recs[self.cand]
        if rec.fp == fp:
            self.cand = None  # kept: its answer may be interrupted too
            return rec
        self._drop(self.cand)
        return None

    def keep(self, n: _notify.Notif, fp: bytes, val: int, error: int = 0) -> None:
        """Remember what ``n`` read and was answered (``error``: a negative errno)."""
        if self.killable:
            return
        self._drop(n.pid)
        if len(fp) > BYTES:
            return
        if len(self.recs) == CAP or self.bytes + len(fp) > BYTES:
            self.recs.clear()
            self.bytes = 0
        self.recs[n.pid] = Record(n.nr, tuple(n.args), fp, val, error)
        self.bytes += len(fp)

    def answer(self, listener: int, n: _notify.Notif, rec: Record,
               stats: dict[str, int]) -> bool:
        """A restart: the recorded answer, nothing done or counted."""
        stats["interrupted"] += 1
        if rec.error:
            return _notify.reply_errno(listener, n.id, -rec.error)
        return _notify.reply_value(listener, n.id, rec.val)


def fingerprints(parts: Sequence[tuple[bytes, bytes, int]]) -> bytes:
    """The fingerprint of several datagrams (data, dest, answer) read in one syscall."""
    return b"".join(fingerprint(d, dst, a) for d, dst, a in parts)
