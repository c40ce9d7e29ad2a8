"""RouteSpec's fast constructor (the common route packed in one step) makes exactly what the
full validator and encoder make: the same request bytes, the same fields, the same errors."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nlcore.codec import route_fast as R
from nlcore.codec.errors import SpecError
from nlcore.codec.route import RouteSpec
from nlcore.codec.tables import RTA


def _full(**kw: Any) -> RouteSpec:
    """The spec through the full path only (what the constructor did before the fast one)."""
    spec = object.__new__(RouteSpec)
    fields = {"dst": "default", "op": "add", "family": 0, "via": None, "dev": None,
              "index": 0, "table": None, "metric": None, "scope": None, "proto": None,
              "type": None, "prefsrc": None, "onlink": False, "metrics": None,
              "nexthops": None}
    spec.__dict__.update({**fields, **kw})
    spec._full()
    return spec


def _outcome(make: Any, kw: dict[str, Any]) -> tuple[Any, ...]:
    try:
        s = make(**kw)
    except SpecError as exc:
        return ("error", str(exc))
    return ("ok", s.message, s.family, s.family_given, s.text(), s.needs_names, s.names(),
            tuple(getattr(s, f) for f in ("dst", "op", "via", "dev", "index", "table",
                                           "metric", "scope", "proto", "type", "prefsrc",
                                           "onlink", "metrics", "nexthops")))


V4 = st.ip_addresses(v=4).map(str)
V6 = st.ip_addresses(v=6).map(str)
TEXT = st.sampled_from(["", "x", "1.2.3", "2001:db8::/", "::ffff:1.2.3.4", "198.51.100.1/",
                        "198.51.100.1/033", "2001:db8::1/129", "default", " 192.0.2.1"])
PLEN = st.one_of(st.just(""), st.integers(0, 130).map(lambda n: f"/{n}"),
                 st.sampled_from(["/", "/x", "/-1", "/07"]))
DST = st.one_of(st.tuples(st.one_of(V4, V6), PLEN).map("".join), TEXT)
SPECS = st.fixed_dictionaries({"dst": DST}, optional={
    "op": st.sampled_from(["add", "del", "replace", "change", "append", "bogus"]),
    "family": st.sampled_from([0, 2, 10, 7]),
    "via": st.one_of(st.none(), V4, V6, TEXT),
    "dev": st.one_of(st.none(), st.sampled_from(["r0", "eth0", "", "a b", "x" * 16, ".."])),
    "index": st.one_of(st.integers(0, 5), st.sampled_from([-1, 2**31 - 1, 2**31])),
    "metric": st.one_of(st.none(), st.integers(0, 2**32 - 1),
                        st.sampled_from([-1, 2**32, True])),
})


@settings(max_examples=1500, deadline=None)
@given(SPECS)
def test_fast_constructor_is_the_full_one(kw: dict[str, Any]) -> None:
    assert _outcome(RouteSpec, kw) == _outcome(_full, kw)


def test_fast_path_is_taken_for_the_common_route() -> None:
    s = RouteSpec("198.18.0.1", op="add", index=5)
    assert "table" not in s.__dict__  # packed by _fast: the defaults stay the class's
    assert s.message == _full(dst="198.18.0.1", op="add", index=5).message
    assert R.fast("198.18.0.0/24", "del", 0, "192.0.2.1", "r0", 0, 7) is not None


def test_fast_attribute_numbers_are_the_tables() -> None:
    names = {"RTA_DST": R._RTA_DST, "RTA_OIF": R._RTA_OIF, "RTA_GATEWAY": R._RTA_GATEWAY,
             "RTA_PRIORITY": R._RTA_PRIORITY}
    for name, num in names.items():
        assert RTA.num(name) == num


def test_replace_and_resolved_keep_working() -> None:
    s = RouteSpec("2001:db8:1::/64", via="2001:db8::2", dev="r0")
    r = s.resolved({"r0": 9})
    assert r.index == 9 and r.dev == "r0"
    assert r.message == _full(dst="2001:db8:1::/64", via="2001:db8::2", dev="r0",
                              index=9).message
