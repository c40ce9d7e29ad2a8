"""Fuzz every decoder entry point, native and pure, from valid messages outwards.

Inputs start as what the kernel sends (acks, errors capped and uncapped with extack, DONE
with extack, RTM_NEWADDR / RTM_NEWLINK dump entries with nested attributes, batches of
them) and are then mutated: lengths, types, flags, attribute nesting, truncation, splices,
byte flips; plus pure random bytes. Properties: only ParseError/SpecError ever escape; the
two backends agree exactly (result and arrays, or exception text and offset); decode and
the scanners agree with each other; every decoded message prints (text and JSON).
``NLCORE_FUZZ_EXAMPLES`` sets the examples per test (200 by default; ``make fuzz`` 100,000).
A watchdog (faulthandler) kills the run with every thread's traceback if a test hangs.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import json
import os
import random
import shutil
import struct
import subprocess
import sys
from array import array
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _util import need_backend
from fuzz.strategies import (
    HDR,
    U32,
    addr_specs,
    attr_chain,
    echo_chain,
    flat_samples,
    msg,
    nla,
    samples,
    seqs,
    stream,
    structure,
    u8,
    u16,
    u32,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nlcore.codec import _backend, _pure, text, wire
from nlcore.codec import consts as C
from nlcore.codec._backend import Codec
from nlcore.codec.decode import AddrMsg, DoneMsg, ErrorMsg, LinkMsg, Message
from nlcore.codec.errors import KernelError, NlcoreError, ParseError, SpecError
from nlcore.codec.spec import AddrSpec
from nlcore.net.conn import Conn
from nlcore.net.fake import FakeTransport, Handler, Reply
from nlcore.ops.engine import apply

EXAMPLES = int(os.environ.get("NLCORE_FUZZ_EXAMPLES", "200"))
# No shrinking: on these strategies it can take minutes; the raw example is reported.
# Small runs (make test) are derandomized, so they are the same every time.
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=2), database=None,
                suppress_health_check=list(HealthCheck), derandomize=EXAMPLES < 10_000,
                phases=[Phase.explicit, Phase.reuse, Phase.generate])
PURE = _backend.load("pure")
ROOT = Path(__file__).resolve().parent.parent
WATCHDOG_LOG = ROOT / "tests" / "_bin" / "fuzz-watchdog.log"


@pytest.fixture(scope="module")
def native() -> Codec:
    """The native codec (skip, or fail under NLCORE_REQUIRE_NATIVE=1, when not built)."""
    return need_backend(_backend.load, "native")


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """A hang, even inside C, writes every thread's stack to tests/_bin/fuzz-watchdog.log
    and ends the run with status 1 (pytest's own report would never come)."""
    WATCHDOG_LOG.parent.mkdir(exist_ok=True)
    with open(WATCHDOG_LOG, "w") as log:
        faulthandler.dump_traceback_later(300 + EXAMPLES // 20, exit=True, file=log)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()


# ---------------------------------------------------------------------- checks
def exercise(m: Message, reqs: dict[int, bytes]) -> None:
    """Everything a user does with a decoded message must work on any message."""
    out = json.dumps(text.to_json(m))  # JSON all the way down: no bytes, no objects
    assert out.startswith("{")
    assert text.format_message(m).startswith(m.type_name)
    assert isinstance(text.describe_request(m.raw), str)
    if isinstance(m, AddrMsg):
        assert m.local is None or isinstance(m.local, str)
        assert isinstance(m.flags, int)
    if isinstance(m, LinkMsg):
        assert (m.ifname is None or isinstance(m.ifname, str)) and isinstance(m.index, int)
    if isinstance(m, (ErrorMsg, DoneMsg)):
        err = wire.error_of(m, reqs)
        if m.error >= 0:
            assert err is None
        else:
            assert isinstance(err, KernelError) and isinstance(err, OSError)
            assert (err.errno, err.seq) == (-m.error, m.header.seq)
            assert str(err).endswith(")") or err.hint is not None
            assert err.errno_name and (err.attr is None or isinstance(err.attr, str))


def check_decode(buf: bytes, reqs: dict[int, bytes]) -> list[Message] | int:
    """decode == iter_messages; messages tile the buffer; each one prints. Returns the
    messages, or the ParseError offset."""
    got: list[Message] = []
    try:
        for m in wire.iter_messages(buf, reqs):
            got.append(m)
    except ParseError as exc:
        assert 0 <= exc.offset <= len(buf) and f"(at offset {exc.offset})" in str(exc)
        with pytest.raises(ParseError) as again:
            wire.decode(buf, reqs)
        assert (again.value.offset, str(again.value)) == (exc.offset, str(exc))
        for m in got:
            exercise(m, reqs)
        return exc.offset
    assert wire.decode(buf, reqs) == got
    pos = 0
    for m in got:
        assert buf[pos:pos + len(m.raw)] == m.raw and m.header.len == len(m.raw)
        pos += C.align4(len(m.raw))
        exercise(m, reqs)
    assert len(buf) <= pos <= len(buf) + 3
    return got


def offsets(msgs: list[Message]) -> list[int]:
    """Header offsets of decoded messages."""
    out, pos = [], 0
    for m in msgs:
        out.append(pos)
        pos += C.align4(len(m.raw))
    return out


def scan(codec: Codec, buf: bytes, length: int, cap: int,
         ext: bool = True) -> tuple[Any, ...]:
    """acks_scan into canary arrays (with the extack spans when ``ext``): (count or error,
    arrays)."""
    arrs = [array("I", [0xDEADBEEF] * cap), array("i", [-7] * cap),
            array("I", [0xC0FFEE] * cap), array("I", [0xABCDEF] * cap)]
    spans = array("I", [0xBADC0DE] * (3 * cap)) if ext else None
    try:
        n: Any = codec.acks_scan(buf, length, arrs[0], arrs[1], arrs[2], arrs[3], spans)
    except ParseError as exc:
        n = ("ParseError", str(exc), exc.offset)
    return n, [a.tolist() for a in arrs], spans and spans.tolist()


def match(codec: Codec, buf: bytes, length: int, first: int, status: list[int], count: int,
          cap: int) -> tuple[Any, ...]:
    """acks_match on copies of the arrays: (result or error, status, detail)."""
    st_arr, detail = array("i", status), array("I", [0xABCDEF] * cap)
    try:
        r: Any = codec.acks_match(buf, length, first, st_arr, count, 1, detail)
    except ParseError as exc:
        r = ("ParseError", str(exc), exc.offset)
    return r, st_arr.tolist(), detail.tolist()


def match_model(msgs: list[Message], first: int, status: list[int], count: int,
                cap: int) -> tuple[Any, ...]:
    """What acks_match must do with a stream that decodes cleanly (an in-window error > 0,
    which no kernel sends, is refused: the result is then the ParseError)."""
    status, detail = list(status), [0xABCDEF] * cap
    answered = outside = dups = nd = 0
    count = min(count, len(status))
    stop = sum(C.align4(len(m.raw)) for m in msgs)
    for m, off in zip(msgs, offsets(msgs)):
        idx = (m.header.seq - first) & U32
        if not isinstance(m, ErrorMsg) or idx >= count:
            outside += 1
        elif m.error > 0:
            why = f"NLMSG_ERROR with a positive error (at offset {off})"
            return ("ParseError", why, off), status, detail
        elif status[idx] != 1:
            dups += 1
        else:
            if m.error or m.header.flags & C.NLM_F_ACK_TLVS:
                if nd >= cap:
                    stop = off
                    break
                detail[nd] = off
                nd += 1
            status[idx] = m.error
            answered += 1
    return (stop, answered, outside, dups, nd), status, detail


# ---------------------------------------------------------------------- tests
@FUZZ
@given(sample=samples, keep=st.booleans())
def test_decode_and_print_anything(sample: tuple[bytes, dict[int, bytes]], keep: bool) -> None:
    """decode/iter_messages/error_of/to_json/format_message: ParseError or good messages."""
    buf, reqs = sample
    check_decode(buf, reqs if keep else {})


@FUZZ
@given(sample=flat_samples, data=st.data())
def test_acks_scan_backends_and_decode_agree(native: Codec, sample: tuple[bytes, Any],
                                             data: st.DataObject) -> None:
    """Same count/arrays or same ParseError from both; consistent with decode."""
    buf = sample[0]
    length = data.draw(st.just(len(buf)) | st.integers(-2, len(buf) + 4))
    cap, ext = data.draw(st.integers(0, 8) | st.just(64)), data.draw(st.booleans())
    nat, pure = scan(native, buf, length, cap, ext), scan(PURE, buf, length, cap, ext)
    assert nat == pure
    if length != len(buf):
        return
    decoded = check_decode(buf, {})
    full = scan(PURE, buf, len(buf), 64)
    if isinstance(decoded, list) and len(decoded) <= 64:
        errs = [m.error if isinstance(m, (ErrorMsg, DoneMsg)) else 0 for m in decoded]
        k = len(decoded)
        assert full[0] == k
        assert full[1][0][:k] == [m.header.seq for m in decoded]
        assert full[1][1][:k] == errs and full[1][2][:k] == offsets(decoded)
        assert full[1][3][:k] == [m.header.type | m.header.flags << 16 for m in decoded]
        for i, m in enumerate(decoded):  # the extack text the scanner found is decode's
            at, n = full[2][3 * i], full[2][3 * i + 1]
            extack = getattr(m, "extack", None)
            assert bool(at) == (extack is not None and extack.msg is not None)
            if at and extack is not None:
                assert buf[at:at + n].decode("utf-8", "replace") == extack.msg
    if isinstance(full[0], tuple):  # the scanner refused: decode refuses at or before it
        assert isinstance(decoded, int) and decoded <= full[0][2]


@FUZZ
@given(sample=flat_samples, data=st.data())
def test_acks_match_backends_and_model_agree(native: Codec, sample: tuple[bytes, Any],
                                             data: st.DataObject) -> None:
    """Same stop/counts/status/detail or same ParseError; equal to a model on clean input."""
    buf = sample[0]
    seen = [struct.unpack_from("=I", buf, o + 8)[0] for o in structure(buf)[0]] or [0]
    first = (data.draw(st.sampled_from(seen)) - data.draw(st.integers(0, 3))) & U32
    first = data.draw(st.just(first) | u32)
    status = data.draw(st.lists(st.sampled_from([1, 1, 1, 0, -13, 4]), max_size=8))
    count = data.draw(st.integers(0, len(status) + 2))
    cap = data.draw(st.integers(0, 3) | st.just(256))
    length = data.draw(st.just(len(buf)) | st.integers(-2, len(buf) + 4))
    nat = match(native, buf, length, first, status, count, cap)
    assert nat == match(PURE, buf, length, first, status, count, cap)
    decoded = check_decode(buf, {}) if length == len(buf) else 0
    if isinstance(decoded, list):
        model = match_model(decoded, first, status, count, cap)
        assert (nat[0][1:], nat[1], nat[2]) == (model[0][1:], model[1], model[2])
        if model[0][0] != "ParseError":
            assert nat[0][0] == min(model[0][0], len(buf))


record_fields = st.sampled_from(list(range(16)))
FIELD_VALUES: dict[int, Any] = {0: u16 | st.sampled_from([20, 21, 22]), 1: u16,
                                2: u8 | st.sampled_from([2, 10, 0]), 3: u8, 4: u8, 5: u8,
                                6: u32, 7: u32 | st.integers(0, 0x1FF), 8: u32 | st.integers(
                                    0, 0x3FF), 9: u32, 10: u32, 11: u32}
BYTE_FIELD = st.binary(min_size=16, max_size=16) | st.just(b"x" * 16) | st.just(bytes(16))


@FUZZ
@given(specs=st.lists(addr_specs(), min_size=1, max_size=5), data=st.data(), seq=seqs)
def test_addr_emit_mutated_records(native: Codec, specs: list[AddrSpec], data: st.DataObject,
                                   seq: int) -> None:
    """Records from valid specs with fields overwritten: same bytes or same SpecError from
    both; whatever is emitted decodes cleanly and matches its record."""
    recs = [list(_pure.ADDR_REC.unpack(s.record)) for s in specs]
    for _ in range(data.draw(st.integers(0, 4))):
        r, f = data.draw(st.integers(0, len(recs) - 1)), data.draw(record_fields)
        recs[r][f] = data.draw(FIELD_VALUES.get(f, BYTE_FIELD))
    blob = bytearray(b"".join(_pure.ADDR_REC.pack(*r) for r in recs))
    if data.draw(st.booleans()) and blob:
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(u8)
    if data.draw(st.integers(0, 9)) == 0:
        blob = blob[:data.draw(st.integers(0, len(blob)))]
    cap = data.draw(st.integers(0, 160 * len(recs)) | st.just(160 * len(recs)))
    pid = data.draw(u32)
    outs: list[tuple[Any, ...]] = []
    for codec in (native, PURE):
        buf = bytearray(b"\xa5" * cap)
        try:
            n, k = codec.addr_emit(buf, bytes(blob), seq, pid)
            outs.append((n, k, bytes(buf)))
        except SpecError as exc:
            outs.append(("SpecError", str(exc), bytes(buf)))
    assert outs[0] == outs[1]
    if outs[0][0] == "SpecError":
        return
    n, k, out = outs[0]
    assert out[n:] == b"\xa5" * (cap - n)
    msgs = wire.decode(out[:n])
    assert len(msgs) == k
    for i, m in enumerate(msgs):
        rec = _pure.ADDR_REC.unpack_from(blob, i * _pure.ADDR_REC.size)
        assert isinstance(m, AddrMsg) and len(m.raw) <= wire.MAX_ADDR_MSG
        assert (m.header.type, m.header.flags, m.header.seq, m.header.pid) == \
            (rec[0], rec[1], (seq + i) & U32, pid)
        assert (m.family, m.prefixlen, m.scope, m.index) == (rec[2], rec[3], rec[4], rec[6])
        exercise(m, {})


@pytest.mark.parametrize("depth", [1500, 3000])
def test_deep_echo_chain_is_decoded_or_refused_not_recursion_error(depth: int) -> None:
    """BUG (nlcore/decode.py, _error -> decode_one recursion): an uncapped NLMSG_ERROR may
    echo another NLMSG_ERROR; each level recurses once, so 1,500 levels (30 KB: one netlink
    datagram, or one pasted log line) raise RecursionError instead of decoding or giving
    ParseError."""
    raw = echo_chain(depth)
    assert len(raw) < 65536
    check_decode(raw, {})


@pytest.mark.parametrize("depth", [1500, 3000])
def test_deep_nested_attribute_offset_is_named_or_not_recursion_error(depth: int) -> None:
    """BUG (nlcore/decode.py, _attr_in recursion via attr_at): an extack offset into a
    deeply nested attribute of the echoed request recurses once per level -> RecursionError
    from decode() and error_of()."""
    req, reply = attr_chain(depth)
    assert len(reply) < 65536
    check_decode(reply, {9: req})


@pytest.mark.parametrize("err", [-0x80000000, -0x7FFFFFFF, -4096])
@pytest.mark.parametrize("kind", ["error", "done"])
def test_any_negative_errno_gives_a_kernel_error(err: int, kind: str) -> None:
    """BUG (nlcore/errors.py, KernelError.__init__: os.strerror(err)): an NLMSG_ERROR or
    NLMSG_DONE carrying INT_MIN makes error_of() raise OverflowError (and ``nlcore decode``
    with it) instead of returning a KernelError."""
    req = wire.encode_addr(AddrSpec("198.51.100.1/24", index=7), seq=5)
    raw = (wire.encode_error_reply(req, -1, 99, capped=True) if kind == "error" else
           msg(C.NLMSG_DONE, C.NLM_F_MULTI, 5, struct.pack("=i", -1)))
    raw = raw[:16] + struct.pack("=i", err) + raw[20:]
    (m,) = wire.decode(raw)
    assert isinstance(m, (ErrorMsg, DoneMsg)) and m.error == err
    e = wire.error_of(m, {5: req})
    assert isinstance(e, KernelError) and e.errno == -err and str(e).endswith("(seq 5)")
    json.dumps(text.to_json(m))


def test_native_extack_scan_stays_inside_the_message(native: Codec) -> None:
    """BUG (csrc/wire.c, scan_extack/tlv_start): an uncapped NLMSG_ERROR with NLM_F_ACK_TLVS
    whose echoed nlmsg_len is not a multiple of 4 and fills the message makes tlv_start()
    return n + 1..3; ``n - a`` then wraps (size_t) and the TLV walk reads past the message
    and past ``len`` (ASan: heap-buffer-overflow in get_u16, wire.c scan_extack). Here the
    bytes after ``length`` hold a forged NLMSGERR_ATTR_MSG, which the native scan reports."""
    echo = HDR.pack(17, C.RTM_NEWADDR, 5, 7, 0) + b"\0"
    m = msg(C.NLMSG_ERROR, C.NLM_F_ACK_TLVS, 7, struct.pack("=i", -22) + echo)
    assert len(m) == 37
    buf = m + bytes(3) + nla(C.NLMSGERR_ATTR_MSG, b"forged\0")
    assert scan(native, buf, 40, 1) == scan(PURE, buf, 40, 1)
    assert scan(PURE, buf, 40, 1)[2] == [0, 0, U32]


def test_acks_match_refuses_a_positive_error(native: Codec) -> None:
    """Found by atheris: an NLMSG_ERROR with error +1 (== PENDING) used to be "answered" while
    leaving its status pending, and the backends then disagreed after the ParseError. No
    kernel sends error > 0 (and it would read as an engine status): both refuse it."""
    ack = msg(C.NLMSG_ERROR, C.NLM_F_ACK_TLVS, 0x5020000, bytes(4) + HDR.pack(16, 20, 5, 1, 0)
              + bytes(4))
    plus1 = msg(C.NLMSG_ERROR, C.NLM_F_ACK_TLVS, 0x5020001, struct.pack("=i", 1)
                + HDR.pack(16, 20, 5, 1, 0) + bytes(4))
    buf = ack + plus1
    for codec in (PURE, native):
        status = array("i", [1] * 6)
        with pytest.raises(ParseError) as info:
            codec.acks_match(buf, len(buf), 0x501FFFD, status, 6, 1, array("I", [0] * 3))
        assert (info.value.offset, info.value.reason) == (len(ack),
                                                          "NLMSG_ERROR with a positive error")


# ---------------------------------------------------------------------- C and atheris
SANITIZE = ["-std=c11", "-Wall", "-Wextra", "-Wconversion", "-Werror", "-g", "-O1",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=24"}
SEED = int(os.environ.get("NLCORE_FUZZ_SEED", "0x6e6c636f7265"), 0)


def _unavailable(reason: str) -> None:
    if os.environ.get("NLCORE_REQUIRE_NATIVE") == "1":
        pytest.fail(f"{reason} (NLCORE_REQUIRE_NATIVE=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def fuzz_harness() -> Path:
    """tests/c/fuzz_harness.c + csrc/wire.c, sock.c, batch.c, window.c and route_bulk.c with
    ASan and UBSan."""
    if shutil.which("gcc") is None:
        _unavailable("gcc is not installed")
    out = ROOT / "tests" / "_bin" / "fuzz_harness"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_name(f"fuzz_harness.{os.getpid()}")
    res = subprocess.run(["gcc", *SANITIZE, f"-I{ROOT / 'csrc'}", str(ROOT / "csrc/wire.c"),
                          str(ROOT / "csrc/sock.c"), str(ROOT / "csrc/route_bulk.c"),
                          str(ROOT / "csrc/batch.c"), str(ROOT / "csrc/window.c"),
                          str(ROOT / "tests/c/fuzz_harness.c"),
                          "-o", str(tmp)], capture_output=True, text=True, timeout=120)
    if res.returncode != 0 and "sanitize" in res.stderr and "cannot find" in res.stderr:
        _unavailable(f"gcc cannot link the sanitizer runtimes: {res.stderr}")
    assert res.returncode == 0, f"fuzz harness does not compile:\n{res.stderr}"
    os.replace(tmp, out)
    return out


def test_c_fuzz_harness_under_asan_and_ubsan(fuzz_harness: Path) -> None:
    """The C scanners, matcher, emitter and drain on mutated input in exact heap blocks:
    10 iterations per example (at least 20,000), seed NLCORE_FUZZ_SEED."""
    iterations = max(20_000, 10 * EXAMPLES)
    res = subprocess.run([str(fuzz_harness), str(iterations), str(SEED)], capture_output=True,
                         text=True, timeout=600 + iterations // 1000,
                         env={**os.environ, **SAN_ENV})
    report = f"seed {SEED:#x}, exit {res.returncode}:\n{res.stdout}{res.stderr[-6000:]}"
    assert res.returncode == 0, report
    assert "runtime error" not in res.stderr and "Sanitizer" not in res.stderr, report
    assert f"fuzz_harness: OK {iterations} iterations: {iterations} scans, " \
           f"{iterations} matches, {iterations} emits" in res.stdout, report


def test_atheris_target(tmp_path: Path) -> None:
    """tests/fuzz/atheris_scan.py under libFuzzer: EXAMPLES * 5 runs from a seed corpus."""
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed (pip install atheris)")
    target = ROOT / "tests" / "fuzz" / "atheris_scan.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    corpus = tmp_path / "corpus"
    subprocess.run([sys.executable, str(target), "--seed-corpus", str(corpus)], check=True,
                   env=env, capture_output=True)
    runs = 5 * EXAMPLES
    res = subprocess.run([sys.executable, str(target), f"-runs={runs}", "-max_len=4096",
                          f"-seed={SEED & 0x7FFFFFFF}", f"-artifact_prefix={tmp_path}/",
                          str(corpus)], capture_output=True, text=True, env=env,
                         timeout=600 + runs // 100, cwd=tmp_path)
    log = "\n".join(line for line in (res.stdout + res.stderr).splitlines()
                    if not line.startswith(("#", "INFO:")))  # no progress lines
    assert res.returncode == 0, f"atheris found an input (exit {res.returncode}):\n{log}"
    assert f"Done {runs} runs" in res.stderr, log


# ---------------------------------------------------------------------- through a Conn
def hostile_kernel(rng: random.Random, present: set[bytes]) -> Handler:
    """A FakeTransport handler answering like the kernel, but a third of the replies are
    dropped, doubled, re-sequenced, given another errno, cut, sent from another port, or
    followed by garbage. Dumps list some of the addresses asked for."""
    def handler(req: bytes) -> list[Reply]:
        seq = HDR.unpack_from(req)[3]
        if HDR.unpack_from(req)[1] == C.RTM_GETADDR:
            parts = [msg(C.RTM_NEWADDR, C.NLM_F_MULTI, seq, r[16:]) for r in present
                     if rng.random() < 0.5]
            return [stream([*parts, msg(C.NLMSG_DONE, C.NLM_F_MULTI, seq, bytes(4))])]
        if HDR.unpack_from(req)[1] == C.RTM_NEWADDR and rng.random() < 0.5:
            present.add(req)
        err = rng.choice([0, 0, 0, -17, -13, -99])
        out = bytearray(wire.encode_error_reply(req, err, 0x4E4C, msg="m" if err else None))
        what = rng.randrange(12)
        if what == 0:
            return []
        if what == 1:
            struct.pack_into("=I", out, 8, (seq + rng.choice([1, -1, 1 << 31])) & U32)
        elif what == 2:
            struct.pack_into("=i", out, 16, rng.choice([0, -1, -22, -105, -4095]))
        elif what == 3:
            return [bytes(out), bytes(out)]
        elif what == 4:
            return [(bytes(out), rng.choice([1, 4242]))]
        elif what == 5:
            del out[rng.randrange(len(out)):]
        elif what == 6:
            out += bytes(rng.randrange(1, 40))
        return [bytes(out)]
    return handler


@FUZZ
@given(specs=st.lists(addr_specs(), min_size=1, max_size=24), seed=u32, first=seqs,
       batch=st.sampled_from([1, 3, 512]))
def test_apply_over_a_hostile_kernel(specs: list[AddrSpec], seed: int, first: int,
                                     batch: int) -> None:
    """apply() through a Conn whose replies are mangled: a complete, ordered report with
    one result per spec, or an nlcore error; never another exception, never a hang."""
    conn = Conn(FakeTransport(hostile_kernel(random.Random(seed), set())), seq=first)
    try:
        report = apply(specs, conn, batch=batch)
    except (NlcoreError, TimeoutError) as exc:
        assert str(exc)
        return
    assert len(report) == len(specs) and [r.spec for r in report] == specs
    for r in report:
        assert r.status in ("ok", "exists", "absent", "failed", "lost", "unknown", "not-sent")
        if r.status == "failed":
            assert r.error is None or (isinstance(r.error, KernelError) and r.error.errno > 0)
            assert r.error is not None or r.reason
            str(r.error)
