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
from nlcore.net.transport import FakeTransport, Reply, ack_all
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
