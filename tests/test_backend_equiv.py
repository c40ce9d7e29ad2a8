"""The native (cffi) and pure backends agree: same bytes, counts, arrays and exceptions.

Records are ``struct nlc_addr`` packed with ``nlcore.codec._pure.ADDR_REC``. Without a built
``nlcore._native`` the native tests skip, or fail when ``NLCORE_REQUIRE_NATIVE=1`` (CI); the
golden tests run over both through the ``backend`` fixture of tests/conftest.py.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import struct
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlcore.codec import _backend, _pure
from nlcore.codec._backend import Codec
from nlcore.codec.consts import NLMSGHDR as HDR
from nlcore.codec.errors import ParseError, SpecError

ROOT = Path(__file__).resolve().parent.parent
PURE = _backend.load("pure")
U32 = 0xFFFFFFFF
LL = ipaddress.IPv6Address("fe80::c44c:1cff:fe84:f6b7").packed
KATA = bytes([64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0,
              20, 0, 1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183,
              20, 0, 2, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183])
Outcome = tuple[object, ...]
AnyBuf = Union[bytes, bytearray, memoryview]
EQUIV = settings(max_examples=400, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _load_native() -> tuple[Codec | None, str]:
    try:
        return _backend.load("native"), ""
    except ImportError as exc:
        return None, (f"nlcore._native is not built ({exc}); build it with `pip install -e .` "
                      "or `python3 setup.py build_ext --inplace`")


NATIVE, NATIVE_MISSING = _load_native()


@pytest.fixture(scope="module")
def native() -> Codec:
    """The native codec (skip, or fail under NLCORE_REQUIRE_NATIVE=1, when not built)."""
    if NATIVE is None:
        if os.environ.get("NLCORE_REQUIRE_NATIVE") == "1":
            pytest.fail(f"{NATIVE_MISSING} (NLCORE_REQUIRE_NATIVE=1)")
        pytest.skip(f"not available: {NATIVE_MISSING}")
    return NATIVE


def kata_rec(**kw: int | bytes) -> bytes:
    """The Kata RTM_NEWADDR as a packed record, with fields overridden by ``kw``."""
    f: dict[str, int | bytes] = dict(
        type=20, nlflags=0x505, family=10, prefixlen=64, scope=0, proto=0, index=2,
        ifa_flags=0, present=_pure.A_LOCAL | _pure.A_PEER | _pure.A_ADDRESS_FIRST,
        priority=0, valid=0, pref=0, local=LL, address=LL, brd=bytes(16), label=bytes(16))
    f.update(kw)
    return _pure.ADDR_REC.pack(*f.values())


def emit(codec: Codec, recs: bytes, seq: int, pid: int, cap: int) -> Outcome:
    """Run addr_emit into a canary-filled buffer of ``cap`` bytes; the result or the error."""
    buf = bytearray(b"\xa5" * cap)
    try:
        n, count = codec.addr_emit(buf, recs, seq, pid)
    except SpecError as exc:
        return ("SpecError", str(exc), bytes(buf))
    return (n, count, bytes(buf))


def scan(codec: Codec, buf: AnyBuf, length: int, caps: list[int]) -> Outcome:
    """Run acks_scan with canary-filled arrays; the result or the error, with the arrays."""
    arrs = [array("I", [0xDEADBEEF] * caps[0]), array("i", [-7] * caps[1]),
            array("I", [0xC0FFEE] * caps[2]), array("I", [0xABCDEF] * caps[3])]
    try:
        n: object = codec.acks_scan(buf, length, arrs[0], arrs[1], arrs[2], arrs[3])
    except ParseError as exc:
        n = ("ParseError", str(exc), exc.reason, exc.offset)
    return (n, [a.tolist() for a in arrs])


# --- strategies ------------------------------------------------------------------------
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, U32)
seqs = st.one_of(u32, st.integers(U32 - 8, U32))
addr16 = st.binary(min_size=16, max_size=16)
labels_nul = st.tuples(addr16, st.integers(0, 15)).map(lambda t: t[0][:t[1]] + b"\0" +
                                                       t[0][t[1] + 1:])
labels = st.one_of(labels_nul, addr16.map(lambda b: b.replace(b"\0", b"L")), addr16)


@st.composite
def records(draw: st.DrawFn, mode: str = "mixed") -> bytes:
    """One packed record: "valid", "broken" in one field, or "mixed" (one in eight broken)."""
    family = draw(st.sampled_from([2, 10]))
    maxlen = 32 if family == 2 else 128
    present = draw(st.integers(0, _pure.A_ALL)) | draw(st.sampled_from([1, 2, 3]))
    rec: dict[str, int | bytes] = dict(
        type=draw(st.sampled_from([20, 21])), nlflags=draw(u16), family=family,
        prefixlen=draw(st.integers(0, maxlen)), scope=draw(u8), proto=draw(u8),
        index=draw(u32), ifa_flags=draw(st.one_of(st.integers(0, 0x1FF), u32)),
        present=present, priority=draw(u32), valid=draw(u32), pref=draw(u32), local=draw(addr16),
        address=draw(addr16), brd=draw(addr16), label=draw(labels_nul))
    if mode == "broken" or (mode == "mixed" and draw(st.integers(0, 7)) == 0):
        broken: dict[str, st.SearchStrategy[Any]] = draw(st.sampled_from([
            {"type": u16}, {"family": u8},
            {"prefixlen": st.integers(maxlen, maxlen + 2) | st.integers(maxlen - 1, 0xFF)},
            {"present": st.integers(0, 0x3FF) | st.sampled_from([0, 0x200, 0x1FC])},
            {"present": st.just(present | _pure.A_LABEL), "label": labels},
        ]))
        rec.update({k: draw(v) for k, v in broken.items()})
    return _pure.ADDR_REC.pack(*rec.values())


# --- emit ------------------------------------------------------------------------------
@EQUIV
@given(recs=st.lists(records(), max_size=8), seq=seqs, pid=u32, cap=st.integers(0, 700))
def test_addr_emit_agrees(native: Codec, recs: list[bytes], seq: int, pid: int,
                          cap: int) -> None:
    """Random valid and invalid records, any capacity: identical result and buffer."""
    blob = b"".join(recs)
    assert emit(native, blob, seq, pid, cap) == emit(PURE, blob, seq, pid, cap)


@EQUIV
@given(recs=st.lists(records("valid"), min_size=1, max_size=6), seq=seqs, pid=u32,
       data=st.data())
def test_addr_emit_agrees_at_message_boundaries(native: Codec, recs: list[bytes], seq: int,
                                                pid: int, data: st.DataObject) -> None:
    """Capacities around each message end: the cut falls in the same place."""
    blob = b"".join(recs)
    n, count, out = emit(PURE, blob, seq, pid, 160 * len(recs))
    assert isinstance(n, int) and isinstance(out, bytes) and count == len(recs)
    ends = [0]
    for _ in recs:
        ends.append(ends[-1] + HDR.unpack_from(out, ends[-1])[0])
    assert ends[-1] == n
    cap = data.draw(st.sampled_from(ends)) + data.draw(st.integers(-2, 2))
    cap = max(cap, 0)
    assert emit(native, blob, seq, pid, cap) == emit(PURE, blob, seq, pid, cap)


@settings(max_examples=200, deadline=None)
@given(prefix=st.lists(records("valid"), max_size=4), bad=records("broken"), seq=seqs,
       cap=st.integers(0, 700))
def test_invalid_record_index_agrees(native: Codec, prefix: list[bytes], bad: bytes,
                                     seq: int, cap: int) -> None:
    """An invalid record after valid ones: same index named (if reached), same bytes."""
    blob = b"".join([*prefix, bad, kata_rec()])
    assert emit(native, blob, seq, 0, cap) == emit(PURE, blob, seq, 0, cap)


# --- scan ------------------------------------------------------------------------------
caps4 = st.one_of(st.integers(1, 12).map(lambda c: [c] * 4),
                  st.lists(st.integers(0, 12), min_size=4, max_size=4))
buf_kinds = st.sampled_from([bytes, bytearray, lambda b: memoryview(bytes(b))])


@EQUIV
@given(raw=st.binary(max_size=200), data=st.data(), caps=caps4, kind=buf_kinds)
def test_acks_scan_agrees_on_random_bytes(native: Codec, raw: bytes, data: st.DataObject,
                                          caps: list[int], kind: type[bytes]) -> None:
    """Arbitrary bytes and lengths: identical arrays and count, or identical ParseError."""
    length = data.draw(st.integers(-2, len(raw) + 4))
    buf = kind(raw)
    assert scan(native, buf, length, caps) == scan(PURE, buf, length, caps)


def message(kind: int, seq: int, flags: int, err: int, extra: bytes) -> bytes:
    """One reply: 0 ack/error (36 + extra), 1 DONE (16 + extra), 2 other type (16 + extra)."""
    tp, body = [(2, struct.pack("=i", err) + HDR.pack(36, 20, 0x505, seq, 0)),
                (3, b""), (20 + err % 8, b"")][kind]
    body += extra
    n = 16 + len(body)
    return HDR.pack(n, tp, flags, seq, 0) + body + b"\0" * (-n & 3)


messages = st.builds(message, st.integers(0, 2), u32, u16, st.integers(-200, 0),
                     st.binary(max_size=24))


@EQUIV
@given(msgs=st.lists(messages, min_size=1, max_size=8), data=st.data(), caps=caps4)
def test_acks_scan_agrees_on_mutated_replies(native: Codec, msgs: list[bytes],
                                             data: st.DataObject, caps: list[int]) -> None:
    """Valid reply streams with lying lengths, overwritten bytes and truncation."""
    buf = bytearray(b"".join(msgs))
    starts = [sum(map(len, msgs[:i])) for i in range(len(msgs))]
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.sampled_from(starts) | st.integers(0, len(buf) - 1))
        if data.draw(st.booleans()):
            lie = data.draw(st.sampled_from([0, 1, 15, 16, 17, 20, 35, 36, U32]) |
                            st.integers(0, len(buf) + 4))
            buf[at:at + 4] = struct.pack("=I", lie)[:len(buf) - at]
        else:
            buf[at] = data.draw(u8)
    length = data.draw(st.just(len(buf)) | st.integers(0, len(buf)))
    assert scan(native, buf, length, caps) == scan(PURE, buf, length, caps)


# --- golden ----------------------------------------------------------------------------
def test_kata_vector(backend: Codec) -> None:
    """kata-containers#11200: the 64-byte RTM_NEWADDR, IFA_ADDRESS before IFA_LOCAL."""
    buf = bytearray(64)
    assert backend.addr_emit(buf, kata_rec(), 19, 0) == (64, 1)
    assert bytes(buf) == KATA


def test_kata_vector_does_not_fit_in_63_bytes(backend: Codec) -> None:
    """One byte short: nothing written, nothing counted."""
    buf = bytearray(b"\xa5" * 63)
    assert backend.addr_emit(buf, kata_rec(), 19, 0) == (0, 0)
    assert bytes(buf) == b"\xa5" * 63


def test_seq_wraps_and_pid_is_stamped(backend: Codec) -> None:
    """Message i carries seq + i mod 2**32 and the given pid."""
    buf = bytearray(128)
    assert backend.addr_emit(buf, kata_rec() * 2, U32, 4242) == (128, 2)
    assert HDR.unpack_from(buf, 0)[3:] == (U32, 4242)
    assert HDR.unpack_from(buf, 64)[3:] == (0, 4242)
    assert bytes(buf[64:72]) == KATA[:8] and bytes(buf[80:]) == KATA[16:]


def test_invalid_record_raises_before_the_fit_check(backend: Codec) -> None:
    """A label without NUL at index 2 raises even though it would not fit; 0 and 1 stay."""
    bad = kata_rec(present=_pure.A_LOCAL | _pure.A_LABEL, label=b"x" * 16)
    buf = bytearray(128)
    with pytest.raises(SpecError, match=r"^invalid address record 2$"):
        backend.addr_emit(buf, kata_rec() * 2 + bad, 19, 0)
    assert bytes(buf[:64]) == KATA
    with pytest.raises(SpecError, match=r"^invalid address record 0$"):
        backend.addr_emit(bytearray(0), bad, 19, 0)
    assert backend.addr_emit(bytearray(64), kata_rec() * 2 + bad, 19, 0) == (64, 1)


def test_record_buffer_must_be_whole_records(backend: Codec) -> None:
    """A record buffer that is not a multiple of 96 bytes is a SpecError."""
    with pytest.raises(SpecError, match="not a multiple of 96"):
        backend.addr_emit(bytearray(200), kata_rec() + b"\0", 19, 0)


@pytest.mark.parametrize(("family", "prefixlen", "ok"), [
    (2, 32, True), (2, 33, False), (10, 128, True), (10, 129, False), (10, 255, False),
])
def test_prefixlen_bound(backend: Codec, family: int, prefixlen: int, ok: bool) -> None:
    """prefixlen may be the address width in bits, not one more."""
    rec = kata_rec(family=family, prefixlen=prefixlen)
    if ok:
        assert backend.addr_emit(bytearray(64), rec, 1, 0)[1] == 1
    else:
        with pytest.raises(SpecError, match=r"^invalid address record 0$"):
            backend.addr_emit(bytearray(64), rec, 1, 0)


@pytest.mark.parametrize(("field", "value"), [
    ("type", 19), ("type", 22), ("family", 0), ("family", 3), ("present", 0),
    ("present", _pure.A_BROADCAST | _pure.A_ADDRESS_FIRST), ("present", 0x200 | 1),
])
def test_invalid_fields(backend: Codec, field: str, value: int) -> None:
    """Unknown type or family, neither LOCAL nor PEER, a bit past A_ALL: SpecError."""
    with pytest.raises(SpecError, match=r"^invalid address record 0$"):
        backend.addr_emit(bytearray(200), kata_rec(**{field: value}), 1, 0)


def _golden_replies() -> bytes:
    ack = message(0, 19, 0x100, 0, b"")
    extack = b"ipv6: IPv6 is disabled on this device.\0"
    attr = struct.pack("=HH", 4 + len(extack), 1) + extack + b"\0"
    error = message(0, 20, 0x300, -13, attr)
    done = message(1, 21, 0x2, 0, struct.pack("=i", 0))
    return ack + error + done


def test_golden_replies(backend: Codec) -> None:
    """A 36-byte ack, an EACCES error with an extack message, and DONE."""
    raw = _golden_replies()
    assert len(raw) == 36 + 80 + 20
    n, arrs = scan(backend, raw, len(raw), [4] * 4)
    assert n == 3
    assert arrs == [[19, 20, 21, 0xDEADBEEF], [0, -13, 0, -7], [0, 36, 116, 0xC0FFEE],
                    [0x01000002, 0x03000002, 0x00020003, 0xABCDEF]]


SHORT_ERROR = HDR.pack(20, 2, 0, 22, 0) + struct.pack("=i", -1)
ERROR_35 = HDR.pack(35, 2, 0, 22, 0) + bytes(20)


@pytest.mark.parametrize(("raw", "reason", "offset"), [
    (_golden_replies()[:10], "10 trailing bytes, shorter than a netlink header", 0),
    (_golden_replies()[:35], "nlmsg_len 36 with 35 bytes left", 0),
    (_golden_replies()[:36 + 79], "nlmsg_len 80 with 79 bytes left", 36),
    (_golden_replies()[:36] + bytes(16), "nlmsg_len 0 with 16 bytes left", 36),
    (_golden_replies()[:36] + SHORT_ERROR, "NLMSG_ERROR of 20 bytes, shorter than 36", 36),
    (ERROR_35, "NLMSG_ERROR of 35 bytes, shorter than 36", 0),
    (_golden_replies()[:36] + bytes(3), "3 trailing bytes, shorter than a netlink header", 36),
])
def test_golden_malformed(backend: Codec, raw: bytes, reason: str, offset: int) -> None:
    """Cut or broken replies: ParseError with the reason and the broken message's offset."""
    arrs = [array("I", [0] * 4), array("i", [0] * 4), array("I", [0] * 4), array("I", [0] * 4)]
    with pytest.raises(ParseError) as info:
        backend.acks_scan(raw, len(raw), *arrs)
    assert (info.value.reason, info.value.offset) == (reason, offset)
    assert str(info.value) == f"{reason} (at offset {offset})"


@pytest.mark.parametrize(("n", "err"), [(16, 0), (19, 0), (20, -95), (24, -95)])
def test_done_error_needs_four_payload_bytes(backend: Codec, n: int, err: int) -> None:
    """NLMSG_DONE carries an error only when its payload holds the whole int."""
    raw = HDR.pack(n, 3, 2, 9, 0) + struct.pack("=i", -95) + bytes(4)
    assert scan(backend, raw, n, [1] * 4) == (1, [[9], [err], [0], [0x00020003]])


def test_golden_cap_stops_early(backend: Codec) -> None:
    """With room for one entry only the first message is read (the rest is not checked)."""
    raw = _golden_replies()[:40]
    assert scan(backend, raw, len(raw), [1] * 4) == (1, [[19], [0], [0], [0x01000002]])


# --- backend selection -------------------------------------------------------------------
def _backend_in(cwd: Path, env: dict[str, str], *flags: str) -> str:
    code = "import nlcore.codec._backend as b; print(b.BACKEND, b.__file__)"
    res = subprocess.run([sys.executable, *flags, "-c", code], cwd=cwd, capture_output=True,
                         text=True, timeout=60, env={**os.environ, **env}, check=True)
    return res.stdout.strip()


def test_nlcore_pure_env_forces_pure(native: Codec) -> None:
    """NLCORE_PURE=1 selects the pure twin even though the extension is built."""
    assert _backend_in(ROOT, {"NLCORE_PURE": "1"}).split()[0] == "pure"
    assert _backend_in(ROOT, {"NLCORE_PURE": "0"}).split()[0] == "native"


def test_copied_package_without_extension_falls_back_to_pure(tmp_path: Path) -> None:
    """nlcore/ copied alone (no _native*.so) imports and uses the pure backend."""
    dst = tmp_path / "nlcore"
    shutil.copytree(ROOT / "nlcore", dst, ignore=shutil.ignore_patterns(
        "_native*", "__pycache__", "_build.py"))
    # -S: no site-packages, so no editable-install path can lend it the built extension
    name, where = _backend_in(tmp_path, {"NLCORE_PURE": "", "NLCORE_REQUIRE_NATIVE": ""},
                              "-S").split()
    assert name == "pure"
    assert Path(where).resolve().parent.parent == dst.resolve()


def test_scan_length_counts_bytes_of_any_view(backend: Codec) -> None:
    """A memoryview cast to 'I' is still len() // 4 items but nbytes long: bytes count."""
    raw = _golden_replies()
    arrs = [array("I", [0] * 4), array("i", [0] * 4), array("I", [0] * 4), array("I", [0] * 4)]
    assert backend.acks_scan(memoryview(raw).cast("I"), len(raw), *arrs) == 3
    assert arrs[2].tolist() == [0, 36, 116, 0]
