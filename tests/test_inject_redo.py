"""The restart records of the interruptible mode (nlcore/faults/seccomp/redo.py, the twin
of csrc/sup_redo.c): which notification is taken for the restart of an answered send.

The kernel race itself (a signal waking the task just before our answer) is too rare to
provoke on demand; the storms in test_inject_stress.py and test_supervise_native.py run
it for real. Here the decision rule is pinned down case by case.
"""

from __future__ import annotations

from nlcore.faults.seccomp import redo as R
from nlcore.faults.seccomp.notify import Notif

SENDMSG = 46
ARGS = (3, 0x7FFF0000, 0, 0, 0, 0)
DATA = bytes(range(44))
FP = R.fingerprint(DATA, b"")


def _n(tid: int = 100, nr: int = SENDMSG, args: tuple[int, ...] = ARGS, nid: int = 1) -> Notif:
    a = (args + (0,) * 6)[:6]
    return Notif(nid, tid, nr, 0xC000003E, (a[0], a[1], a[2], a[3], a[4], a[5]))


def _answered(r: R.Redo, n: Notif, fp: bytes = FP) -> None:
    r.begin(n)
    assert r.match(fp) is None
    r.keep(n, fp, len(DATA))
    r.end()


def test_restart_is_recognised_and_stays_recognised() -> None:
    """The identical syscall with identical bytes right after: the restart, answered as
    before; the record stays, so a restart of the restart is recognised too."""
    r = R.Redo(killable=False)
    _answered(r, _n())
    for nid in (2, 3):
        r.begin(_n(nid=nid))
        rec = r.match(FP)
        assert rec is not None and (rec.val, rec.error) == (len(DATA), 0)
        r.end()


def test_anything_else_from_the_thread_ends_the_record() -> None:
    """A receive (or any notified syscall) in between, other arguments, other bytes or
    another destination: a new request, performed."""
    for other in (_n(nr=47), _n(args=(3, 0x7FFF0040)), _n(args=(4,) + ARGS[1:])):
        r = R.Redo(killable=False)
        _answered(r, _n())
        r.begin(other)
        r.end()
        r.begin(_n())
        assert r.match(FP) is None
    for fp in (R.fingerprint(DATA[:-1] + b"\xff", b""), R.fingerprint(DATA, bytes(12)),
               R.fingerprint(DATA, b"", 90)):
        r = R.Redo(killable=False)
        _answered(r, _n())
        r.begin(_n())
        assert r.match(fp) is None
        r.end()
        r.begin(_n())
        assert r.match(FP) is None  # the mismatch ended it


def test_per_thread_and_never_when_killable() -> None:
    """Another thread's identical send is its own request; with the killable wait nothing
    is remembered (no answer is ever dropped there)."""
    r = R.Redo(killable=False)
    _answered(r, _n(tid=100))
    r.begin(_n(tid=101))
    assert r.match(FP) is None
    r.end()
    r.begin(_n(tid=100))
    assert r.match(FP) is not None
    k = R.Redo(killable=True)
    _answered(k, _n())
    k.begin(_n())
    assert k.match(FP) is None and not k.recs


def test_bounded() -> None:
    """At most CAP threads and BYTES of fingerprints: past either, start afresh."""
    r = R.Redo(killable=False)
    for tid in range(R.CAP + 1):
        _answered(r, _n(tid=tid))
    assert list(r.recs) == [R.CAP]
    big = R.fingerprint(bytes(R.BYTES), b"")
    _answered(r, _n(tid=1), big)
    assert 1 not in r.recs and r.bytes == len(FP)
