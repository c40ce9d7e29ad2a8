"""Hypothesis strategies for route, neighbour and link specs (valid ones, most options in
play), used by tests/test_codec_tables.py and, through ``requests``, by the fuzz tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nlcore.codec import consts as C
from nlcore.codec.link import LinkSpec
from nlcore.codec.neigh import STATES, NeighSpec
from nlcore.codec.route import METRICS, PROTOS, TYPES, NextHop, RouteSpec

ip4 = st.integers(0, 255).map(lambda b: f"198.51.100.{b}") | st.just("192.0.2.1")
ip6 = st.integers(0, 0xFFFF).map(lambda b: f"2001:db8::{b:x}") | st.just("fe80::1")
index = st.integers(0, 2**31 - 1)
macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
names = st.text("abv0-", min_size=1, max_size=15).filter(lambda s: s not in (".", ".."))
_metric_values: dict[str, st.SearchStrategy[Any]] = {
    k: st.integers(0, 2**32 - 1) for k in METRICS if k != "congctl"}
_metric_values["congctl"] = st.sampled_from(["cubic", "reno", "bbr"])


@st.composite
def nexthops(draw: st.DrawFn, v6: bool) -> NextHop:
    via = draw(st.none() | (ip6 if v6 or draw(st.booleans()) else ip4))
    return NextHop(via, dev=draw(st.none() | names), index=draw(st.integers(1, 99)),
                   weight=draw(st.integers(1, 256)), onlink=draw(st.booleans()))


@st.composite
def route_specs(draw: st.DrawFn) -> RouteSpec:
    """A valid RouteSpec: either family, default or a prefix, any options."""
    v6 = draw(st.booleans())
    kw: dict[str, Any] = {"op": draw(st.sampled_from(["add", "replace", "change", "append",
                                                      "del"])),
                          "index": draw(index), "onlink": draw(st.booleans())}
    dst = "default"
    if draw(st.booleans()):
        dst = f"{draw(ip6 if v6 else ip4)}/{draw(st.integers(0, 128 if v6 else 32))}"
    if dst == "default" or draw(st.booleans()):
        kw["family"] = C.AF_INET6 if v6 else C.AF_INET
    opts: dict[str, st.SearchStrategy[Any]] = {
        "via": ip6 if v6 else (ip4 | ip6), "dev": names,
        "table": st.sampled_from(["main", "local", "default"]) | st.integers(0, 2**32 - 1),
        "metric": st.integers(0, 2**32 - 1), "scope": st.sampled_from(["host", "link"]) |
        st.integers(0, 255), "proto": st.sampled_from(sorted(PROTOS)) | st.integers(0, 255),
        "type": st.sampled_from(sorted(TYPES)), "prefsrc": ip6 if v6 else ip4,
        "metrics": st.lists(st.sampled_from(sorted(METRICS)), unique=True, max_size=4).flatmap(
            lambda ks: st.fixed_dictionaries({k: _metric_values[k] for k in ks})),
        "nexthops": st.lists(nexthops(v6), min_size=1, max_size=3)}
    for key, strat in opts.items():
        if draw(st.integers(0, 2)) == 0:
            kw[key] = draw(strat)
    return RouteSpec(dst, **kw)


@st.composite
def neigh_specs(draw: st.DrawFn) -> NeighSpec:
    """A valid NeighSpec."""
    return NeighSpec(draw(ip4 | ip6), op=draw(st.sampled_from(["add", "replace", "change",
                                                                "del"])),
                     lladdr=draw(st.none() | macs), dev=draw(st.none() | names),
                     index=draw(index), state=draw(st.sampled_from(sorted(STATES))
                                                   | st.integers(0, 0xFFFF)),
                     proxy=draw(st.booleans()), router=draw(st.booleans()))


@st.composite
def link_specs(draw: st.DrawFn) -> LinkSpec:
    """A valid LinkSpec."""
    master = draw(st.none() | st.integers(0, 99) | st.just("nomaster"))
    return LinkSpec(draw(names), index=draw(st.integers(1, 2**31 - 1)),
                    up=draw(st.none() | st.booleans()),
                    mtu=draw(st.none() | st.integers(1, 2**32 - 1)),
                    address=draw(st.none() | macs), name=draw(st.none() | names),
                    master=None if master == "nomaster" else master,
                    nomaster=master == "nomaster")


family_specs = st.one_of(route_specs(), neigh_specs(), link_specs())
