"""The address-dump fast path (codec.addrdump.decode_fast) returns what decode() returns:
equal objects for real kernel dumps, the same ParseError (message and offset) for any
corruption of them (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.codec.addrdump import decode_fast
from nlcore.codec.decode import decode
from nlcore.codec.errors import ParseError
from nlcore.codec.spec import AddrSpec
from nlcore.codec.wire import encode_addrs, encode_getaddr
from nlcore.ops.engine import apply

# RTM_NEWADDR replies as the kernel sends them are replaced here by requests of the same
# layout (ifaddrmsg + IFA_* attributes): the walk is the same
SAMPLE = encode_addrs([AddrSpec("198.51.100.1/24", index=2, label="v0:a", metric=3,
                                valid_lft=100, preferred_lft=50, broadcast="+"),
                       AddrSpec("2001:db8::1/64", index=2, flags="nodad noprefixroute", proto=4),
                       AddrSpec("203.0.113.9/32", index=3, peer="203.0.113.10/24")], seq=5)


def outcome(fn: Any, buf: bytes) -> Any:
    try:
        return ("ok", repr(fn(buf)), fn(buf))
    except ParseError as e:
        return ("error", str(e), e.offset)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_same_as_decode_under_corruption(data: st.DataObject) -> None:
    buf = bytearray(SAMPLE)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    raw = bytes(buf[:cut])
    assert outcome(decode_fast, raw) == outcome(decode, raw)


@pytest.mark.kernel
def test_same_as_decode_on_a_real_dump(kns: Any) -> None:
    specs = [AddrSpec(f"198.18.0.{i}/24", index=kns.v0, label=f"v0:{i}") for i in range(1, 200)]
    specs += [AddrSpec(f"2001:db8::{i:x}/64", index=kns.v1, flags="nodad") for i in range(1, 200)]
    assert apply(specs, kns.conn).ok
    c = kns.conn
    c.send(bytes(bytearray(encode_getaddr())[:8]) + (77).to_bytes(4, "little") + bytes(4)
           + encode_getaddr()[16:])
    seen = 0
    while True:
        view = bytes(c.recv())
        fast, ref = decode_fast(view), decode(view)
        assert fast == ref and repr(fast) == repr(ref)
        seen += len(ref)
        if ref[-1].header.type == 3:
            break
    assert seen >= 398
