"""AddrSpec's fast constructor against its full validator (the code it had before): the same
record, family and prefix length for every valid input, the same exception for every other."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.codec.spec import AddrSpec

FIELDS = [f.name for f in dataclasses.fields(AddrSpec) if f.init]
DEFAULTS = {f.name: f.default for f in dataclasses.fields(AddrSpec)
            if f.init and f.name != "address"}


def slow(*args: Any, **kw: Any) -> tuple[str, Any]:
    """The full validator alone (``__post_init__``, unchanged), as AddrSpec() ran before."""
    values = {**DEFAULTS, **dict(zip(FIELDS, args)), **kw}
    spec = object.__new__(AddrSpec)
    spec.__dict__.update(values)
    try:
        spec.__post_init__()
    except Exception as e:
        return type(e).__name__, str(e)
    return "ok", (spec.record, spec.family, spec.prefixlen)


def fast(*args: Any, **kw: Any) -> tuple[str, Any]:
    try:
        spec = AddrSpec(*args, **kw)
    except Exception as e:
        return type(e).__name__, str(e)
    assert [getattr(spec, f) for f in FIELDS] == [{**DEFAULTS, **dict(zip(FIELDS, args)),
                                                   **kw}[f] for f in FIELDS]
    return "ok", (spec.record, spec.family, spec.prefixlen)


_addr = st.one_of(
    st.ip_addresses().map(str),
    st.builds(lambda a, p: f"{a}/{p}", st.ip_addresses(), st.integers(0, 140)),
    st.sampled_from(["127.0.0.1", "127.1.2.3/8", "198.51.100.1/024", "198.51.100.1/",
                     "1.2.3.4/x", "::ffff:1.2.3.4/96", "1.2.3.4\0", "fe80::1%v0", "",
                     "1.2.3.4/٣", "1.2.3", "2001:db8::1/²"]),
    st.text(max_size=10), st.integers(), st.none())
_index = st.one_of(st.integers(-2, 2**32 + 2), st.booleans(), st.sampled_from([1.0, "2"]))
_op = st.sampled_from(["add", "del", "replace", "change", 3, None, ["add"]])
_flags = st.one_of(st.sampled_from([0, 2, "nodad", "", "nodad noprefixroute", False, True,
                                    "bogus", ["nodad"], 0x1000, -1, None, 0.0]))


@settings(max_examples=1500, deadline=None)
@given(_addr, _index, _op, _flags)
def test_fast_path_equals_full_validator(address: Any, index: Any, op: Any, flags: Any) -> None:
    kw = {"index": index, "op": op, "flags": flags}
    assert fast(address, **kw) == slow(address, **kw)


@settings(max_examples=300, deadline=None)
@given(_addr, st.sampled_from([{"scope": "link"}, {"metric": 5}, {"label": "v0"},
                               {"peer": "198.51.100.9"}, {"valid_lft": 30},
                               {"address_first": True}, {"proto": 3}, {"dev": "v0"}]))
def test_other_fields_take_the_full_validator(address: Any, extra: dict[str, Any]) -> None:
    assert fast(address, index=2, **extra) == slow(address, index=2, **extra)


def test_positional_replace_and_equality() -> None:
    a = AddrSpec("198.51.100.1/24", 2, "del")
    assert a == AddrSpec("198.51.100.1/24", index=2, op="del")
    assert a.with_index(3).index == 3 and a.with_index(3).record[8:12] == (3).to_bytes(4, "little")
    assert hash(a) == hash(AddrSpec("198.51.100.1/24", index=2, op="del"))
    assert repr(a).startswith("AddrSpec(address='198.51.100.1/24', index=2, op='del', peer=None")
    assert dataclasses.replace(a, op="add").op == "add"
