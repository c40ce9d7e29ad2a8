"""csrc/batch.c and its pure twin (codec/_pure_batch.py): identical bytes, counts and errors;
the receive's size checks (issue 11 item 9: never 0 without a receive, never a spin)."""

from __future__ import annotations

import errno
import socket
import struct
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.codec import _backend
from nlcore.codec import consts as C
from nlcore.codec.errors import ParseError
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addr

PURE = _backend.load("pure")


def native() -> _backend.Codec:
    try:
        return _backend.load("native")
    except ImportError as exc:
        pytest.skip(f"native backend not built: {exc}")


def msgs(n: int) -> bytes:
    out = b""
    for i in range(n):
        m = encode_addr(AddrSpec(f"192.0.2.{i + 1}/24", index=3, label="x" * (i % 5 + 1)))
        out += m + bytes(-len(m) % 4)
    return out


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 12), cap=st.integers(0, 1500), most=st.integers(0, 14),
       seq=st.integers(0, 2**32 - 1), cut=st.integers(0, 40))
def test_msgs_copy_native_equals_pure(n: int, cap: int, most: int, seq: int,
                                      cut: int) -> None:
    src = msgs(n)
    src = src[:len(src) - cut] if cut and len(src) > cut else src
    outs = []
    for b in (native(), PURE):
        buf = bytearray(b"\xaa" * cap)
        try:
            res: object = b.msgs_copy(buf, src, most, seq)
        except ParseError as exc:
            res = ("ParseError", exc.offset)
        outs.append((res, bytes(buf)))
    assert outs[0] == outs[1]


def test_msgs_copy_patches_seq_and_pid() -> None:
    src = msgs(3)
    for b in (native(), PURE):
        buf = bytearray(len(src))
        nbytes, used, k = b.msgs_copy(buf, src, 10, 0xFFFFFFFF)
        assert (nbytes, used, k) == (len(src), len(src), 3)
        seqs = []
        pos = 0
        while pos < nbytes:
            ln, _t, _f, s, pid = struct.unpack_from("=IHHII", buf, pos)
            seqs.append(s)
            assert pid == 0
            pos += (ln + 3) & ~3
        assert seqs == [0xFFFFFFFF, 0, 1]


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 12), count=st.integers(0, 14), cut=st.integers(0, 40),
       odd=st.integers(0, 12), junk=st.binary(max_size=24))
def test_msgs_index_native_equals_pure(n: int, count: int, cut: int, odd: int,
                                       junk: bytes) -> None:
    """The run index of engine message runs: the offsets and the largest size when the blob
    is exactly ``count`` whole messages of 4-aligned lengths, None for anything else (cut
    short, a count that differs, trailing junk, a length that is not a multiple of 4)."""
    src = bytearray(msgs(n))
    src = src[:len(src) - cut] if cut and len(src) > cut else src
    if odd < n and len(src) >= 4 * (odd + 1):  # a message whose nlmsg_len is not aligned
        pos = 0
        for _ in range(odd):
            pos += struct.unpack_from("=I", src, pos)[0] if len(src) - pos >= 16 else 0
        if len(src) - pos >= 16:
            struct.pack_into("=I", src, pos, struct.unpack_from("=I", src, pos)[0] + 1)
    src = bytes(src) + (junk if count % 3 == 0 else b"")
    got = [b.msgs_index(src, count) for b in (native(), PURE)]
    norm = [None if g is None else (list(g[0]), g[1]) for g in got]
    assert norm[0] == norm[1]
    if norm[0] is not None:  # the offsets walk the messages exactly to the end
        offs, big = norm[0]
        assert offs[0] == 0 and offs[-1] == len(src) and len(offs) == count + 1
        sizes = [b - a for a, b in zip(offs, offs[1:])]
        assert all(struct.unpack_from("=I", src, a)[0] == z for a, z in zip(offs, sizes))
        assert big == max(sizes, default=0) and all(z % 4 == 0 for z in sizes)
    if count == n and not cut and odd >= n and not (junk and count % 3 == 0):
        assert norm[0] is not None  # whole aligned messages are always indexed


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 8), junk=st.binary(max_size=24))
def test_msgs_acks_native_equals_pure(n: int, junk: bytes) -> None:
    src = msgs(n) + junk
    outs = []
    for b in (native(), PURE):
        buf = bytearray(src)
        try:
            res: object = b.msgs_acks(buf, len(buf))
        except ParseError:
            res = "ParseError"
        outs.append((res, bytes(buf)))
    assert outs[0] == outs[1]
    if n and not junk:
        flags = []
        buf = bytearray(src)
        PURE.msgs_acks(buf, len(buf))
        pos = 0
        while pos < len(buf):
            ln, _t, f = struct.unpack_from("=IHH", buf, pos)
            flags.append(bool(f & C.NLM_F_ACK))
            pos += (ln + 3) & ~3
        assert flags == [False] * (n - 1) + [True]


@settings(max_examples=200, deadline=None)
@given(vals=st.lists(st.sampled_from([0, 1, 4, -17, 5]), max_size=300),
       a=st.integers(-3, 310), b=st.integers(-3, 310))
def test_status_fill_and_scan_native_equals_pure(vals: list[int], a: int, b: int) -> None:
    out = []
    for be in (native(), PURE):
        s = array("i", vals)
        done = be.status_fill(s, a, b, 1, 0)
        out.append((done, s.tolist(), be.status_scan(s, len(s), 0), be.status_scan(s, a, 4)))
    assert out[0] == out[1]
    assert out[0][2] == [i for i, v in enumerate(out[0][1]) if v != 0]


@pytest.mark.parametrize("name", ["native", "pure"])
def test_sock_recv_sizes(name: str) -> None:
    """cap < 16 or max 0: EINVAL, never 0; a room larger than the buffer still receives."""
    b = native() if name == "native" else PURE
    a, z = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for cap, most in ((0, 4), (15, 4), (4096, 0)):
            with pytest.raises(OSError) as info:
                b.sock_recv(a, bytearray(cap), 1 << 16, most)
            assert info.value.errno == errno.EINVAL
        with pytest.raises(BlockingIOError):
            b.sock_recv(a, bytearray(64), 1 << 16, 4)
        z.send(b"\x01" * 40)
        z.send(b"\x02" * 40)
        buf = bytearray(64)
        n, _foreign, trunc, over = b.sock_recv(a, buf, 1 << 16, 4)  # room 64 KiB > 64
        assert n == 40 and (trunc, over) == (0, 0) and buf[:40] == b"\x01" * 40
        assert b.sock_recv(a, buf, 1 << 16, 4)[0] == 40
    finally:
        a.close()
        z.close()
