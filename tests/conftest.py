"""Shared fixtures: the codec backend (every codec test runs over both) and a throwaway
network namespace with a veth pair (root, or a user namespace; skipped with the reason)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from _util import need_backend, throwaway

from nlcore.codec import _backend
from nlcore.net.netns import ThrowawayNetns


@pytest.fixture(params=["native", "pure"])
def backend(request: pytest.FixtureRequest) -> _backend.Codec:
    """Each backend in turn; native is required when NLCORE_REQUIRE_NATIVE=1 (CI)."""
    return need_backend(_backend.load, request.param)


class NetnsEnv:
    """A throwaway namespace with veth v0 <-> v1 (both up) and a Conn inside it."""

    def __init__(self, ns: ThrowawayNetns) -> None:
        from nlcore.net.conn import Conn
        from nlcore.ops.link import add_veth, set_link

        self.ns = ns
        self.conn = Conn(ns=ns)
        self.v0, self.v1 = add_veth(self.conn, "v0", "v1")
        set_link(self.conn, self.v0, up=True)
        set_link(self.conn, self.v1, up=True)

    def ip_json(self, *args: str) -> Any:
        """``ip -j ARGS`` inside the namespace, parsed (the independent read-back)."""
        out = self.ns.run(["ip", "-j", *args], check=True)
        return json.loads(out.stdout or "[]")

    def addrs(self, dev: str = "v0", family: int | None = None) -> set[tuple[str, int]]:
        """{(local, prefixlen)} on ``dev`` as ``ip -j addr show`` reports it."""
        fam = [] if family is None else [f"-{family}"]
        out: set[tuple[str, int]] = set()
        for link in self.ip_json(*fam, "addr", "show", "dev", dev):
            for a in link.get("addr_info", []):
                if a.get("scope") == "link" and a["local"].startswith("fe80") and \
                        a.get("family") == "inet6" and not a.get("nodad") and family is None:
                    continue
                out.add((a["local"], a["prefixlen"]))
        return out

    def close(self) -> None:
        self.conn.close()
        self.ns.close()


def netns_env() -> Iterator[NetnsEnv]:
    """A NetnsEnv in a fresh throwaway namespace (a skip where impossible), closed after."""
    env = NetnsEnv(throwaway())
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def kns() -> Iterator[NetnsEnv]:
    """A fresh throwaway namespace with a veth pair, closed afterwards."""
    yield from netns_env()


@pytest.fixture(scope="module")
def kns_module() -> Iterator[NetnsEnv]:
    """One throwaway namespace shared by a module's tests (faster for many small tests)."""
    yield from netns_env()
