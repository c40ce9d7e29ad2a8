"""nlcore's attribute tables against the facts taken from the kernel's YNL specs
(tests/golden/ynl_facts.json: numbers, names, types, header structs, enums, message types).

Every attribute nlcore declares must exist in YNL under the same number and name with a
compatible kind; the route, metric, neighbour, address and linkinfo sets must be complete;
what nlcore leaves out of the link set is listed exactly here.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from nlcore.codec import consts as C
from nlcore.codec import neigh, route, tables
from nlcore.codec.attrs import AttrDef, AttrSet

FACTS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "golden" / "ynl_facts.json").read_text(encoding="utf-8"))
DEVIATIONS: dict[str, list[str]] = FACTS["deviations"]
#: YNL nested set -> the nlcore set that declares it
NESTS = {"metrics": "rtax", "linkinfo-attrs": "ifla_info", "prop-list-link-attrs": "ifla"}
#: YNL link attributes newer than nlcore's table (decoded raw, by number)
LINK_NOT_DECLARED = ["IFLA_DPLL_PIN", "IFLA_MAX_PACING_OFFLOAD_HORIZON",
                     "IFLA_NETNS_IMMUTABLE", "IFLA_HEADROOM", "IFLA_TAILROOM"]


def kernel_name(prefix: str, ynl: str) -> str:
    return prefix + ynl.upper().replace("-", "_")


def compatible(fact: dict[str, Any], d: AttrDef) -> bool:
    """Is nlcore's kind for ``d`` what YNL's type (and hint) says?"""
    typ, hint = fact["type"], fact.get("hint", "")
    if d.name in DEVIATIONS:
        return d.kind == DEVIATIONS[d.name][0]
    if typ in ("u8", "u16", "u64", "s32", "string", "flag"):
        return d.kind == typ
    if typ == "u32":
        return d.kind == {"big-endian": "be32", "ipv4": "ip"}.get(hint, "u32")
    if typ == "nest":
        want = NESTS.get(hint.removeprefix("nested:"), "unknown")
        return d.kind == "nest" and d.nested == want
    if typ == "sub-message":
        return d.kind == "nest"
    if typ == "pad":
        return d.kind == "binary"
    assert typ == "binary", fact
    if hint in ("ipv4", "ipv6", "ipv4-or-v6"):
        return d.kind == "ip"
    if hint == "mac":
        return d.kind == "mac"
    if hint.startswith("struct:"):
        return d.kind == "binary" or (d.kind == "struct" and d.struct ==
                                      hint[7:].replace("-", "_"))
    return d.kind == "binary"


SETS = sorted(FACTS["sets"].items())


@pytest.mark.parametrize("key,facts", SETS, ids=[k for k, _v in SETS])
def test_declared_attributes_match_ynl(key: str, facts: dict[str, Any]) -> None:
    aset = AttrSet.registry[facts["nlcore"]]
    ynl = {f["value"]: (kernel_name(facts["prefix"], name), f)
           for name, f in facts["attrs"].items()}
    for d in aset.defs:
        assert d.num in ynl, f"{d.name} ({d.num}) is not in YNL's {key}"
        name, fact = ynl[d.num]
        assert d.name == name, f"{key} attribute {d.num}: nlcore {d.name}, YNL {name}"
        assert compatible(fact, d), f"{d.name}: nlcore kind {d.kind}, YNL {fact}"


@pytest.mark.parametrize("key,facts", SETS, ids=[k for k, _v in SETS])
def test_sets_are_complete(key: str, facts: dict[str, Any]) -> None:
    aset = AttrSet.registry[facts["nlcore"]]
    missing = [kernel_name(facts["prefix"], n) for n, f in facts["attrs"].items()
               if f["value"] not in aset.by_num]
    assert missing == (LINK_NOT_DECLARED if key == "rt-link/link-attrs" else [])


def test_deviations_are_declared_as_recorded() -> None:
    """Each recorded deviation names an attribute nlcore declares, with that kind."""
    for name, (kind, _why) in DEVIATIONS.items():
        d = next(s.by_name[name] for s in AttrSet.registry.values() if name in s.by_name)
        assert d.kind == kind, name


_CODES = {"u8": "B", "u16": "H", "u32": "I", "s32": "i", "pad1": "x", "pad3": "xxx"}


@pytest.mark.parametrize("fixed", [tables.IFADDRMSG, tables.IFINFOMSG, tables.RTMSG,
                                   tables.NDMSG], ids=lambda f: f.name)
def test_fixed_headers_match_ynl_structs(fixed: tables.Fixed) -> None:
    members = FACTS["structs"][fixed.name]
    assert fixed.layout.format.lstrip("=") == "".join(_CODES[t] for _n, t in members)
    offs, pos = [], C.NLMSG_HDRLEN
    for name, typ in members:
        if not typ.startswith("pad"):
            offs.append((pos, name.replace("-", "_")))
        pos += struct.calcsize("=" + _CODES[typ])
    assert list(fixed.fields) == offs


@pytest.mark.parametrize("name", ["ifa-cacheinfo", "nda-cacheinfo"])
def test_structs_match(name: str) -> None:
    from nlcore.codec.attrs import STRUCTS

    layout, fields = STRUCTS[name.replace("-", "_")]
    members = FACTS["structs"][name]
    assert layout.format.lstrip("=") == "".join(_CODES[t] for _n, t in members)
    assert len(fields) == len(members)


def test_enums_match() -> None:
    rtm = FACTS["enums"]["rtm-type"]
    assert {k: v for k, v in route.TYPES.items()} == {n: rtm.index(n) for n in route.TYPES}
    nud = FACTS["enums"]["nud-state (flags)"]
    assert {k: v for k, v in neigh.STATES.items() if v} == {
        n: 1 << nud.index(n) for n in neigh.STATES if n != "none"}
    ntf = FACTS["enums"]["ntf-flags (flags)"]
    assert (C.NTF_PROXY, C.NTF_ROUTER, C.NTF_SELF, C.NTF_MASTER, C.NTF_USE) == tuple(
        1 << ntf.index(n) for n in ("proxy", "router", "self", "master", "use"))


def test_message_types_match() -> None:
    for op, value in FACTS["messages"].items():
        assert getattr(C, "RTM_" + op.upper()) == value, op
