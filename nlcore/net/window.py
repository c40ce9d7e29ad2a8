"""What a Conn tracks per run: the ack window of outstanding requests and the drop counters.

A window holds one int32 status per request (PENDING, 0 for an ack, -errno for a failure,
LOST when its ack will not come). With ``ack_last`` (the engine's ``acks="errors"`` mode)
only the last request of each batch asks for an ack: when that ack (or its error) arrives,
every request of the batch still PENDING is a success, settled by one native call.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass

from ..codec._backend import codec
from ..codec.errors import ParseError

PENDING = 1  # status of a request whose ack has not arrived (kernel errors are <= 0)
LOST = 4  # its ack will not come (ENOBUFS dropped it, the wait timed out, it was cut short)
_HDR4 = struct.Struct("=IHHI")


@dataclass
class Stats:
    """Counters of what a Conn dropped or ignored (never silently)."""

    foreign: int = 0  # datagrams from a sender other than the kernel
    unknown_seq: int = 0  # replies for a seq that is not outstanding
    duplicates: int = 0  # second ack for an already answered request
    overruns: int = 0  # ENOBUFS seen
    truncated: int = 0  # datagrams larger than the receive buffer
    dump_retries: int = 0  # dumps restarted after NLM_F_DUMP_INTR
    malformed: int = 0  # replies that could not be parsed (their requests were re-read)
    implicit: int = 0  # successes proven by a later ack of the same batch (acks="errors")


class AckWindow:
    """Outstanding requests ``first_seq .. first_seq+count-1`` and what came back for each.

    ``status[i]`` is PENDING, 0 (ack) or a negative errno; ``replies[i]`` holds the whole
    NLMSG_ERROR of a failure (or of a success ack that carries extack warnings).
    ``batches`` (ack_last mode) lists the ``(start, end)`` of every sent batch whose final
    ack has not arrived yet.
    """

    __slots__ = ("ack_last", "batches", "count", "first_seq", "pending", "replies", "status")

    def __init__(self, first_seq: int, count: int, ack_last: bool = False) -> None:
        self.first_seq = first_seq
        self.count = count
        self.status = array("i", [PENDING]) * count
        self.replies: dict[int, bytes] = {}
        self.pending = count
        self.ack_last = ack_last
        self.batches: list[tuple[int, int]] = []

    def sent_batch(self, start: int, end: int) -> None:
        """Note a batch ``start..end-1`` just sent (only its last message asked for an ack)."""
        if self.ack_last and end > start:
            self.batches.append((start, end))

    def settle(self) -> int:
        """ack_last mode: every batch whose final request is answered proves its unanswered
        requests successful (the kernel answers every failure, in order, before that ack).
        Returns how many were settled."""
        done = 0
        status = self.status
        while self.batches and status[self.batches[0][1] - 1] not in (PENDING, LOST):
            start, end = self.batches.pop(0)
            done += codec.status_fill(status, start, end - 1, PENDING, 0)
        self.pending -= done
        return done

    def mark_lost(self, sent: int) -> list[int]:
        """Mark every request still PENDING among the first ``sent`` as LOST; returns them."""
        status = self.status
        lost = [j for j in codec.status_scan(status, sent, 0) if status[j] == PENDING]
        for j in lost:
            status[j] = LOST
        self.pending -= len(lost)
        return lost

    def unproven(self) -> None:
        """An overrun or a cut reply: error replies may be missing, so no batch is settled
        by the absence of one: the batches sent so far are left to the caller (their requests
        still PENDING are marked LOST and resolved by a dump); later batches prove again."""
        self.batches.clear()


def match_acks(win: AckWindow, view: memoryview, detail: array[int], stats: Stats) -> None:
    """Record the acks in ``view`` in ``win`` (native scan); failures and acks with TLVs are
    kept whole in ``win.replies``. A malformed message raises ParseError after what came
    before it was recorded."""
    pos, n = 0, len(view)
    while pos < n:
        part = view[pos:]
        try:
            stop, answered, outside, dups, nd = codec.acks_match(
                part, n - pos, win.first_seq, win.status, win.count, PENDING, detail)
        except ParseError as exc:
            # keep what was matched before the malformed message, then report it
            if exc.partial is not None:
                _, answered, outside, dups, nd = exc.partial
                _account(win, part, answered, outside, dups, nd, detail, stats)
            exc.offset += pos
            raise
        _account(win, part, answered, outside, dups, nd, detail, stats)
        pos += stop


def _account(win: AckWindow, part: memoryview, answered: int, outside: int, dups: int,
             nd: int, detail: array[int], stats: Stats) -> None:
    """Record one acks_match result: answered count, counters, kept replies."""
    first, replies = win.first_seq, win.replies
    win.pending -= answered
    stats.unknown_seq += outside
    stats.duplicates += dups
    for k in range(nd):
        o = detail[k]
        length, _t, _f, seq = _HDR4.unpack_from(part, o)
        replies[(seq - first) & 0xFFFFFFFF] = bytes(part[o:o + length])
