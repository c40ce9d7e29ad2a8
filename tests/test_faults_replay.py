"""Record/replay: a session with the real kernel, recorded as JSON lines, replayed with no
socket at all; the apply engine's report is the same."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from nlcore.codec.errors import BufferOverrunError
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addr
from nlcore.faults.kernel import KATA_MSG, KernelLab, kata_spec
from nlcore.faults.replay import (
    RecordingTransport,
    ReplayMismatch,
    ReplayTransport,
    read_recording,
    recording_conn,
    replay_conn,
)
from nlcore.net.conn import Conn
from nlcore.net.fake import FakeTransport, Reply, ack_all
from nlcore.ops.engine import Report, apply

SPECS = [kata_spec(), AddrSpec("192.0.2.1/24", index=2), AddrSpec("192.0.2.1/24", index=2),
         AddrSpec("198.51.100.7/24", index=2, op="del"), AddrSpec("2001:db8::5/64", index=3)]


def summary(report: Report) -> list[tuple[Any, ...]]:
    return [(r.status, r.error and r.error.errno, r.error and r.error.msg,
             r.error and r.error.hint, r.error and r.error.seq, r.reason, r.resolved)
            for r in report]


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay must not open any socket (it runs with no privileges)."""
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a socket was opened during replay")

    monkeypatch.setattr(socket, "socket", refuse)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """A recording of apply(SPECS) against a kernel with IPv6 disabled on all (GKE)."""
    try:
        lab = KernelLab()
    except OSError as exc:
        pytest.skip(f"no throwaway network namespace: {exc}")
    path = tmp_path_factory.mktemp("rec") / "kata.jsonl"
    with lab:
        lab.disable_ipv6("all")
        conn = recording_conn(path, ns=lab.ns)
        report = apply(SPECS, conn)
        conn.close()
    yield path, summary(report)


@pytest.mark.kernel
def test_recorded_run_is_what_the_kernel_said(recorded: tuple[Path, Any]) -> None:
    _, s = recorded
    assert [r[:3] for r in s] == [("failed", 13, KATA_MSG), ("ok", None, None),
                                  ("failed", 17, "ipv4: Address already assigned"),
                                  ("failed", 99, "ipv4: Address not found"),
                                  ("failed", 13, KATA_MSG)]
    assert s[0][3] is not None and "disable_ipv6" in s[0][3]


@pytest.mark.kernel
def test_file_format(recorded: tuple[Path, Any]) -> None:
    path, _ = recorded
    lines = path.read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    assert objs[0]["nlcore"] == "recording" and objs[0]["version"] == 1
    assert isinstance(objs[0]["pid"], int) and "ext_ack" in objs[0]["features"]
    assert all(next(iter(o)) == "op" and o["op"] in ("send", "recv") for o in objs[1:])
    for o in objs[1:]:
        if "hex" in o:
            data = bytes.fromhex(o["hex"])
            assert int.from_bytes(data[:4], "little") <= len(data)
    assert objs[1]["op"] == "send" and bytes.fromhex(objs[1]["hex"])[4:6] == b"\x14\x00"


@pytest.mark.kernel
def test_replay_gives_the_same_report(recorded: tuple[Path, Any], no_sockets: None) -> None:
    path, want = recorded
    conn = replay_conn(path)
    assert summary(apply(SPECS, conn)) == want
    assert conn.transport.remaining == 0  # type: ignore[attr-defined]


@pytest.mark.kernel
def test_replay_100_times(recorded: tuple[Path, Any], no_sockets: None) -> None:
    path, want = recorded
    for _ in range(100):
        assert summary(apply(SPECS, replay_conn(path))) == want


@pytest.mark.kernel
def test_replay_ignoring_seq(recorded: tuple[Path, Any], no_sockets: None) -> None:
    path, want = recorded
    got = summary(apply(SPECS, replay_conn(path, ignore_seq=True, seq=1000)))
    assert [g[:4] for g in got] == [w[:4] for w in want]
    assert [g[4] for g in got if g[4]] == [1000, 1002, 1003, 1004]
    with pytest.raises(ReplayMismatch, match="sent"):
        apply(SPECS, replay_conn(path, seq=1000))  # exact mode: seq differs


@pytest.mark.kernel
def test_divergent_replay_is_a_mismatch(recorded: tuple[Path, Any], no_sockets: None) -> None:
    path, _ = recorded
    with pytest.raises(ReplayMismatch, match=r"sent .* but the recording has"):
        apply([AddrSpec("203.0.113.1/24", index=2)], replay_conn(path))
    conn = replay_conn(path)
    apply(SPECS, conn)
    with pytest.raises(ReplayMismatch, match="recording ended"):
        conn.request(encode_addr(SPECS[1]))


def _handler(request: bytes) -> list[Reply]:
    if request[16] == 10:  # AF_INET6: the reply is lost to an overrun
        return [BufferOverrunError()]
    return ack_all(request)


def test_exceptions_round_trip_without_a_kernel(no_sockets: None) -> None:
    """ENOBUFS and the non-blocking EAGAIN are recorded and replayed like datagrams."""
    out = io.StringIO()
    c = Conn(RecordingTransport(FakeTransport(_handler, pid=77), out))
    with pytest.raises(BufferOverrunError):
        c.request(encode_addr(AddrSpec("2001:db8::1/64", index=2)))
    with pytest.raises(BlockingIOError):
        c.recv(block=False)
    assert c.request(encode_addr(AddrSpec("192.0.2.9/24", index=2))) == []
    header, entries = read_recording(io.StringIO(out.getvalue()))
    assert header["pid"] == 77 and header["features"] is None
    assert [(e["op"], e.get("raise")) for e in entries] == [
        ("send", None), ("recv", "BufferOverrunError"), ("recv", "BlockingIOError"),
        ("send", None), ("recv", None)]
    r = Conn(ReplayTransport(io.StringIO(out.getvalue())))
    assert r.pid == 77
    with pytest.raises(BufferOverrunError):
        r.request(encode_addr(AddrSpec("2001:db8::1/64", index=2)))
    with pytest.raises(BlockingIOError):
        r.recv(block=False)
    assert r.request(encode_addr(AddrSpec("192.0.2.9/24", index=2))) == []
    assert r.stats.overruns == 1


def test_not_a_recording(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"op": "send", "hex": ""}\n')
    with pytest.raises(ValueError, match="not an nlcore recording"):
        ReplayTransport(p)


# ---------------------------------------------------------------- TRACE (nlcore record's format)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nlcore.codec import consts as C  # noqa: E402
from nlcore.codec.wire import encode_error_reply  # noqa: E402
from nlcore.faults.seccomp.replayer import matcher_for  # noqa: E402
from nlcore.faults.trace import TraceError, TraceWriter, read_trace  # noqa: E402
from nlcore.faults.tracediff import differences  # noqa: E402
from nlcore.faults.tracematch import UnknownRequest  # noqa: E402
from nlcore.faults.tracetransport import TraceRecordingTransport, TraceTransport  # noqa: E402

REC_PORT = 4100
V4 = AddrSpec("198.51.100.7/24", index=2)
V6 = AddrSpec("2001:db8::7/64", index=2)


def _notification(req: bytes) -> bytes:
    """An RTM_NEWADDR multicast the kernel sends for ``req`` (its seq, the sender's port)."""
    body = bytearray(req)
    C.NLMSGHDR.pack_into(body, 0, len(req), C.RTM_NEWADDR, 0,
                         C.NLMSGHDR.unpack_from(req, 0)[3], REC_PORT)
    return bytes(body)


def _trace() -> io.StringIO:
    """Two adds on socket 1 (acked, the second EEXIST) and a monitor socket 2 that saw the
    first add's notification."""
    buf = io.StringIO()
    w = TraceWriter(buf, source="test", cmd=["x"])
    s1, s2 = w.sock("a"), w.sock("b")
    w.options(s1, REC_PORT, [], {C.NETLINK_EXT_ACK: 1, C.NETLINK_CAP_ACK: 0})
    w.options(s2, REC_PORT + 1, [C.RTNLGRP_IPV4_IFADDR] if hasattr(C, "RTNLGRP_IPV4_IFADDR")
              else [5], {})
    r1, r2 = encode_addr(V4, seq=7), encode_addr(V6, seq=8)
    w.send(s1, r1 + r2)
    w.recv(s1, encode_error_reply(r1, 0, REC_PORT))
    w.recv(s1, encode_error_reply(r2, -17, REC_PORT, msg="exists"))
    w.recv(s2, _notification(r1))
    w.exit(0)
    buf.seek(0)
    return buf


def test_trace_writer_and_reader() -> None:
    t = read_trace(_trace())
    assert t.header["nlcore_trace"] == 1 and t.header["cmd"] == ["x"]
    assert [e["ev"] for e in t.events] == ["socket", "socket", "bind", "sockopt", "bind", "send",
                                           "recv", "recv", "recv", "exit"]
    assert t.ports() == {1: REC_PORT, 2: REC_PORT + 1} and t.status == 0
    assert t.options(1) == {"NETLINK_EXT_ACK": 1}  # only options that changed are written


@pytest.mark.parametrize("text, msg", [
    ("", "not an nlcore TRACE"),
    ('{"nlcore": "recording"}\n', "not an nlcore TRACE"),
    ('{"nlcore_trace": 2}\n', "TRACE version 2"),
    ('{"nlcore_trace": 1}\n{"ev": "send", "sock": 1, "hex": "zz"}\n', ":2: 'hex' is not hex"),
    ('{"nlcore_trace": 1}\n\n{"ev": "recv"}\n', ":3: recv event without an integer 'sock'"),
    ('{"nlcore_trace": 1}\nnope\n', ":2: not JSON"),
])
def test_read_trace_names_the_bad_line(text: str, msg: str) -> None:
    with pytest.raises(TraceError, match=msg):
        read_trace(io.StringIO(text))


def test_unknown_events_and_keys_are_ignored() -> None:
    t = read_trace(io.StringIO('{"nlcore_trace": 1, "new": 1}\n{"ev": "future", "x": 1}\n'
                               '{"ev": "exit", "status": 3, "extra": true}\n'))
    assert [e["ev"] for e in t.events] == ["exit"] and t.status == 3


@given(st.lists(st.text(max_size=40), max_size=6))
@settings(max_examples=200, deadline=None)
def test_reader_never_crashes(lines: list[str]) -> None:
    try:
        read_trace(io.StringIO('{"nlcore_trace": 1}\n' + "\n".join(lines)))
    except TraceError:
        pass


def test_matcher_rewrites_seq_and_port_both_ways() -> None:
    m = matcher_for(read_trace(_trace()), [])
    assert m.attach("A", 555) == [] and m.attach("B", 556) == []
    live = encode_addr(V4, seq=1000, pid=0)
    out = m.request("A", live)
    ack, note = out[0][1], out[1][1]
    assert out[0][0] == "A" and out[1][0] == "B"  # the notification goes to the monitor
    assert isinstance(ack, bytes) and isinstance(note, bytes)
    assert C.NLMSGHDR.unpack_from(ack, 0)[3:] == (1000, 555)
    assert ack[20:36] == live[:16]  # the echo is the live request's header
    assert C.NLMSGHDR.unpack_from(note, 0)[3:] == (1000, 555)  # caused by A's request
    err = m.request("A", encode_addr(V6, seq=1001))[0][1]
    assert isinstance(err, bytes) and err == encode_error_reply(
        encode_addr(V6, seq=1001), -17, 555, msg="exists")


def test_matcher_rules_and_unknown_requests() -> None:
    m = matcher_for(read_trace(_trace()), ["RTM_NEWADDR family=inet errno=EPERM"],
                    extack="denied")
    m.attach("A", 9)
    m.attach("B", 10)
    out = m.request("A", encode_addr(V4, seq=3))
    assert len(out) == 1  # the failed add's notification is dropped
    assert out[0][1] == encode_error_reply(encode_addr(V4, seq=3), -1, 9, msg="denied")
    lose = matcher_for(read_trace(_trace()), ["RTM_NEWADDR family=inet6 action=lose"])
    lose.attach("A", 9)
    assert lose.request("A", encode_addr(V6, seq=4)) == []
    over = matcher_for(read_trace(_trace()), ["RTM_NEWADDR family=inet6"], action="overrun")
    over.attach("A", 9)
    assert over.request("A", encode_addr(V6, seq=4)) == [("A", 105)]
    plain = matcher_for(read_trace(_trace()), [])
    plain.attach("A", 9)
    with pytest.raises(UnknownRequest, match=r"closest recorded: RTM_NEWADDR 198\.51\.100\.7/24 "
                                             r"dev index 2; differs in: IFA_LOCAL 198\.51\.100\.8"):
        plain.request("A", encode_addr(AddrSpec("198.51.100.8/24", index=2), seq=5))
    again = matcher_for(read_trace(_trace()), [])
    again.attach("A", 9)
    again.request("A", encode_addr(V4, seq=1))
    with pytest.raises(UnknownRequest, match=r"holds it 1 time.*occurrence 2"):
        again.request("A", encode_addr(V4, seq=2))
    soft = matcher_for(read_trace(_trace()), [], unknown="eopnotsupp")
    soft.attach("A", 9)
    bad = encode_addr(AddrSpec("198.51.100.9/24", index=2), seq=6)
    assert soft.request("A", bad) == [("A", encode_error_reply(
        bad, -95, 9, msg="not in the replay trace"))]
    assert "198.51.100.9" in soft.unknowns[0]


def test_differences_are_decoded() -> None:
    a = encode_addr(AddrSpec("192.0.2.1/24", index=2), seq=1)
    b = encode_addr(AddrSpec("192.0.2.1/25", index=3), seq=2)
    assert differences(a, b) == ["prefixlen 24 != 25", "index 2 != 3"]
    assert differences(a, encode_addr(AddrSpec("192.0.2.1/24", index=2), seq=9, pid=7)) == []


def test_trace_transport_in_process(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    path.write_text(_trace().read())
    conn = Conn(TraceTransport(path))
    rep = apply([V4, V6], conn)
    assert [(r.status, r.error and r.error.errno, r.error and r.error.msg) for r in rep] == [
        ("ok", None, None), ("failed", 17, "exists")]
    t = TraceTransport(path, ["RTM_NEWADDR family=inet action=overrun"])
    t.send(encode_addr(V4, seq=1))
    with pytest.raises(BufferOverrunError):
        t.recv(bytearray(4096))
    with pytest.raises(BlockingIOError):
        t.recv(bytearray(4096), block=False)


def test_trace_recording_transport_writes_a_trace(tmp_path: Path) -> None:
    inner = FakeTransport(ack_all, pid=321)
    inner.features = {"ext_ack"}  # type: ignore[attr-defined]
    path = tmp_path / "rec.trace"
    rec = TraceRecordingTransport(inner, str(path))
    report = apply([V4], Conn(rec))
    rec.close()
    t = read_trace(path)
    assert report[0].status == "ok"
    assert t.ports() == {1: 321} and t.options(1) == {"NETLINK_EXT_ACK": 1}
    assert [e["ev"] for e in t.events].count("send") >= 1
    replayed = apply([V4], Conn(TraceTransport(path)))
    assert replayed[0].status == "ok"


@given(st.integers(0, 0xFFFFFFFF), st.integers(1, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))
@settings(max_examples=200, deadline=None)
def test_replies_carry_the_live_seq_and_port(seq: int, port: int, req_pid: int) -> None:
    """Whatever seq, socket port and header port id the live request has, its replies carry
    them where the kernel puts them and are otherwise the recorded bytes."""
    m = matcher_for(read_trace(_trace()), [])
    m.attach("A", port)
    m.attach("B", port ^ 1)
    live = encode_addr(V6, seq=seq, pid=req_pid)
    (key, err), = m.request("A", live)
    assert key == "A" and isinstance(err, bytes)
    recorded = encode_error_reply(encode_addr(V6, seq=8), -17, REC_PORT, msg="exists")
    assert C.NLMSGHDR.unpack_from(err, 0)[3:] == (seq, port)
    assert err[20:36] == live[:16]  # the echo: the live header, its port id field included
    assert err[:8] == recorded[:8] and err[36:] == recorded[36:]
