"""Atheris (libFuzzer) target for nlcore's parsers: decode, the text forms, and both
backends' ``acks_scan`` / ``acks_match`` compared byte for byte.

Run it directly (libFuzzer flags pass through; corpus directories are positional)::

    python tests/fuzz/atheris_scan.py -runs=100000 -max_len=4096 [CORPUS_DIR ...]
    python tests/fuzz/atheris_scan.py --seed-corpus DIR   # write valid seed messages

Coverage guidance comes from the instrumented Python (nlcore.codec.decode, nlcore.codec._pure, ...);
the C of ``nlcore._native`` is only as instrumented as its build (gcc here: not at all), so
it is checked differentially against the pure twin and for crashes. Any exception other
than ParseError, or any disagreement between the backends, is a finding (libFuzzer stops
and writes the input as ``crash-*``). tests/test_fuzz.py runs this for a bounded count.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from pathlib import Path
from typing import Any

import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

with atheris.instrument_imports(include=["nlcore"]):
    from nlcore.codec import _backend, text, wire
    from nlcore.codec.decode import DoneMsg, ErrorMsg
    from nlcore.codec.errors import KernelError, ParseError
    from nlcore.codec.spec import AddrSpec

PURE = _backend.load("pure")
NATIVE = _backend.load("native")


def _scan(codec: Any, buf: bytes, length: int, cap: int, ext: bool) -> Any:
    arrs = [array("I", [7] * cap), array("i", [7] * cap), array("I", [7] * cap),
            array("I", [7] * cap)]
    spans = array("I", [7] * (3 * cap)) if ext else None
    try:
        n: Any = codec.acks_scan(buf, length, *arrs, spans)
    except ParseError as exc:
        n = (str(exc), exc.offset)
    return n, [a.tolist() for a in arrs], spans and spans.tolist()


def _match(codec: Any, buf: bytes, first: int, status: list[int], cap: int) -> Any:
    st, detail = array("i", status), array("I", [7] * cap)
    try:
        r: Any = codec.acks_match(buf, len(buf), first, st, len(status), 1, detail)
    except ParseError as exc:
        r = (str(exc), exc.offset)
    return r, st.tolist(), detail.tolist()


def one_input(data: bytes) -> None:
    """One libFuzzer input: 4 control bytes, then the netlink bytes."""
    fdp = atheris.FuzzedDataProvider(data)
    ctl = fdp.ConsumeInt(4)
    buf = fdp.ConsumeBytes(fdp.remaining_bytes())
    try:
        msgs = wire.decode(buf)
    except ParseError as exc:
        if not 0 <= exc.offset <= len(buf):
            raise AssertionError(f"ParseError offset {exc.offset} outside {len(buf)}") from exc
        msgs = []
    for m in msgs:
        json.dumps(text.to_json(m))
        text.format_message(m)
        if isinstance(m, (ErrorMsg, DoneMsg)):
            err = wire.error_of(m)
            if (err is None) != (m.error >= 0) or (err is not None and
                                                   not isinstance(err, KernelError)):
                raise AssertionError(f"error_of({m.error}) gave {err!r}")
            str(err)
    cap, ext, length = ctl & 15, bool(ctl & 16), len(buf) - ((ctl >> 5) & 7)
    if _scan(NATIVE, buf, length, cap, ext) != _scan(PURE, buf, length, cap, ext):
        raise AssertionError("acks_scan: native and pure disagree")
    first = struct.unpack_from("=I", buf, 8)[0] - ((ctl >> 8) & 3) if len(buf) >= 12 else 0
    status = [1 if ctl >> (10 + i) & 1 else -(i + 1) for i in range((ctl >> 20) & 7)]
    dcap = 256 if ctl & (1 << 23) else (ctl >> 24) & 3
    if _match(NATIVE, buf, first, status, dcap) != _match(PURE, buf, first, status, dcap):
        raise AssertionError("acks_match: native and pure disagree")


def seed_corpus(out: Path) -> int:
    """Write valid replies (ack, errors capped/uncapped with extack, DONE, a dump part)."""
    req = wire.encode_addr(AddrSpec("2001:db8::1/64", index=2, label="v0:1"), seq=19)
    link = wire.encode_veth("v0", "v1", seq=20)
    done = struct.pack("=IHHIIi", 20, 3, 2, 21, 0, 0)
    seeds = [wire.encode_error_reply(req, 0, 0x4E4C),
             wire.encode_error_reply(req, -13, 0x4E4C, msg="ipv6: IPv6 is disabled"),
             wire.encode_error_reply(req, -34, 1, msg="bad", offset="IFA_LOCAL", capped=True),
             wire.encode_error_reply(link, -17, 1, msg="exists", offset="IFLA_IFNAME",
                                     cookie=b"\x01\x02"),
             done, req, link, req + wire.encode_error_reply(req, 0, 1) + done]
    out.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seeds):
        (out / f"seed-{i}").write_bytes(b"\x0f\x00\x90\x00" + s)
    return len(seeds)


def main() -> None:
    """Entry point: ``--seed-corpus DIR``, or libFuzzer's own argv."""
    if len(sys.argv) == 3 and sys.argv[1] == "--seed-corpus":
        print(f"wrote {seed_corpus(Path(sys.argv[2]))} seeds to {sys.argv[2]}")
        return
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
