"""``nlcore repro``: reproduce the Kata EACCES (kata-containers#11200) and its relatives.

``nlcore repro [SCENARIO] [--ext-ack] [--layer LAYER] [-j]`` and ``nlcore repro --list``.
Exit status: 0 reproduced as expected, 1 ran but the outcome differed, 2 usage error (or a
layer the scenario does not support), 3 the layer cannot run here (no namespace possible).

Layers live in :data:`LAYERS` (name -> function ``(scenario, ext_ack) -> Outcome``). A
module may add one with :func:`register_layer`; ``seccomp`` is picked up automatically when
``nlcore.faults.seccomp`` defines ``repro_layer`` with that signature. A layer function raises
:class:`Unsupported` for a scenario it cannot do and :class:`Unavailable` when the machine
cannot run it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Callable

from ..codec import consts as C
from ..codec.decode import ErrorMsg, decode
from ..codec.errors import NlcoreError, errno_name
from ..codec.text import describe_request, flag_names
from ..net.conn import Conn
from ..net.transport import FakeTransport
from ..ops.engine import Ipv6DisabledError, Ipv6Policy, apply
from .kernel import KATA_REQUEST, KATA_SEQ, SCENARIOS, KernelLab, Scenario, become_userns_root

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
POLICIES: tuple[Ipv6Policy, ...] = ("strict", "skip", "preflight-error")


class Unsupported(Exception):
    """The layer cannot reproduce this scenario (exit 2)."""


class Unavailable(Exception):
    """The layer cannot run on this machine, e.g. no namespace can be created (exit 3)."""


class _NeedUserns(Exception):
    """The caps layer must run as root of its own user namespace (see kernel.py)."""


@dataclass
class Outcome:
    """What one run of a scenario on one layer produced."""

    scenario: Scenario
    layer: str
    request: bytes
    reply: bytes
    ext_ack: bool
    expected_error: int
    expected_extack: str | None
    policies: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mode: str = ""

    @property
    def message(self) -> ErrorMsg:
        """The decoded NLMSG_ERROR."""
        for m in decode(self.reply, {C.NLMSGHDR.unpack_from(self.request, 0)[3]: self.request}):
            if isinstance(m, ErrorMsg):
                return m
        raise NlcoreError("the reply holds no NLMSG_ERROR")

    @property
    def error(self) -> int:
        """The NLMSGERR error (negative errno, 0 for an ack)."""
        return self.message.error

    @property
    def extack(self) -> str | None:
        """The extack message, if any."""
        ext = self.message.extack
        return ext.msg if ext else None

    @property
    def echo_matches_issue(self) -> bool | None:
        """For the Kata request: is the echoed request the issue's 64 bytes?"""
        if self.request != KATA_REQUEST:
            return None
        return self.message.request == KATA_REQUEST

    @property
    def reproduced(self) -> bool:
        """The expected errno, and the expected extack (none without NETLINK_EXT_ACK; an
        older kernel that sends none is accepted on the kernel-true layers)."""
        if self.error != self.expected_error:
            return False
        if not self.ext_ack or self.expected_extack is None:
            return self.extack is None
        return self.extack == self.expected_extack or (
            self.extack is None and self.layer != "synthetic")

    def to_json(self) -> dict[str, Any]:
        """The ``-j`` object."""
        return {"scenario": self.scenario.name, "layer": self.layer, "mode": self.mode,
                "reproduced": self.reproduced, "error": self.error,
                "errno": errno_name(self.error) if self.error else None,
                "extack": self.extack, "ext_ack": self.ext_ack,
                "expected_error": self.expected_error,
                "expected_errno": errno_name(self.expected_error),
                "echo_matches_issue": self.echo_matches_issue,
                "request": describe_request(self.request),
                "request_hex": self.request.hex(), "reply_hex": self.reply.hex(),
                "policies": self.policies, "notes": self.notes}


LayerFn = Callable[[Scenario, bool], Outcome]
LAYERS: dict[str, LayerFn] = {}
_OPTIONAL_LAYERS = {"seccomp": (".seccomp", "repro_layer")}


def register_layer(name: str, fn: LayerFn) -> None:
    """Make ``--layer NAME`` run ``fn(scenario, ext_ack)``."""
    LAYERS[name] = fn


def layers() -> dict[str, LayerFn]:
    """Every available layer (optional ones whose module imports and defines the hook)."""
    for name, (mod, attr) in _OPTIONAL_LAYERS.items():
        if name not in LAYERS:
            try:
                fn = getattr(import_module(mod, __package__), attr, None)
            except (ImportError, OSError):  # absent or unusable here: no such layer
                fn = None
            if callable(fn):
                LAYERS[name] = fn
    return LAYERS


def run_policies(scenario: Scenario, make_conn: Callable[[], Conn]) -> dict[str, str]:
    """What ``apply([spec], ipv6_disabled=POLICY)`` does, for each policy."""
    if scenario.spec is None:
        return {p: "n/a: not an address request (apply() handles addresses)" for p in POLICIES}
    out: dict[str, str] = {}
    for policy in POLICIES:
        conn = make_conn()
        try:
            r = apply([scenario.spec], conn, ipv6_disabled=policy)[0]
            detail = r.error if r.error is not None else r.reason  # str(error) has the hint
            text = str(detail or "")
            out[policy] = text if text.startswith(r.status) else f"{r.status}: {text}".rstrip(": ")
        except Ipv6DisabledError as exc:
            out[policy] = f"raises Ipv6DisabledError: {exc}"
        except (NlcoreError, OSError) as exc:
            out[policy] = f"raises {type(exc).__name__}: {exc}"
        finally:
            conn.close()
    return out


def _expected(s: Scenario, layer: str) -> tuple[int, str | None]:
    return (-1, None) if layer == "caps" else (s.error, s.extack)


def _lab(userns: bool | None = None) -> KernelLab:
    try:
        return KernelLab(userns=userns)
    except OSError as exc:
        raise Unavailable(f"cannot create a throwaway network namespace: {exc}") from exc


def _kernel(s: Scenario, ext_ack: bool) -> Outcome:
    with _lab() as lab:
        s.setup(lab)
        req = s.request(KATA_SEQ)
        reply = lab.exchange(req, ext_ack=ext_ack)
        err, msg = _expected(s, "kernel")
        pol = run_policies(s, lambda: Conn(lab.socket()))
        mode = "user namespace" if lab.userns else "root"
    return Outcome(s, "kernel", req, reply, ext_ack, err, msg, pol, mode=mode)


def _caps(s: Scenario, ext_ack: bool) -> Outcome:
    from ..net.netns import mode
    from . import caps

    try:
        root = mode() == "root"
    except PermissionError as exc:
        raise Unavailable(str(exc)) from exc
    if not root:
        raise _NeedUserns()
    with _lab(userns=False) as lab:
        s.setup(lab)
        req = s.request(KATA_SEQ)

        def work() -> tuple[bytes, dict[str, str]]:
            return lab.exchange(req, ext_ack=ext_ack), run_policies(s, lambda: Conn(lab.socket()))

        reply, pol = caps.run_without(work)
    err, msg = _expected(s, "caps")
    note = "CAP_NET_ADMIN dropped from the sending thread's effective set: EPERM, never EACCES"
    return Outcome(s, "caps", req, reply, ext_ack, err, msg, pol, [note],
                   mode="user namespace" if os.environ.get("_NLCORE_REPRO_USERNS") else "root")


def _synthetic(s: Scenario, ext_ack: bool) -> Outcome:
    from .synthetic import Error, FaultPlan, FaultyTransport, Rule, fake_kernel

    req = s.request(KATA_SEQ)
    # the device as the scenario leaves it, for the policies' link look-ups
    state = {"eperm-cap-drop": (1500, False), "mtu-below-1280": (1279, None)}
    mtu, disabled = state.get(s.name, (1500, True))

    def transport(ext: bool) -> FaultyTransport:
        rule = Rule(type=C.NLMSGHDR.unpack_from(req, 0)[1], family="inet6", ifindex=2,
                    action=Error(s.error, msg=s.extack))
        inner = FakeTransport(fake_kernel(mtu=mtu, disable_ipv6=disabled))
        return FaultyTransport(inner, FaultPlan([rule]), ext_ack=ext, cap_ack=False)

    t = transport(ext_ack)
    t.send(req)
    buf = bytearray(1 << 16)
    n, _ = t.recv(buf)
    pol = run_policies(s, lambda: Conn(transport(True)))
    note = "built by nlcore.codec.wire.encode_error_reply; the request never reached a kernel"
    return Outcome(s, "synthetic", req, bytes(buf[:n]), ext_ack, s.error, s.extack, pol,
                   [note], mode="no kernel, no privileges")


LAYERS.update(kernel=_kernel, synthetic=_synthetic, caps=_caps)


def rust_list(data: bytes) -> str:
    """``[64, 0, 0, ...]``, as netlink-packet-core prints bytes (the Kata log)."""
    return "[" + ", ".join(str(b) for b in data) + "]"


def format_outcome(o: Outcome) -> str:
    """The human-readable report."""
    req, m = o.request, o.message
    _n, tp, flags, seq, _p = C.NLMSGHDR.unpack_from(req, 0)
    lines = [f"scenario  {o.scenario.name}: {o.scenario.summary}",
             f"layer     {o.layer} ({o.mode}); NETLINK_EXT_ACK {'on' if o.ext_ack else 'off'}",
             f"request   {describe_request(req)}, seq {seq}, flags "
             f"{'|'.join(flag_names(tp, flags))} ({len(req)} bytes)",
             f"          {rust_list(req)}",
             f"reply     NLMSG_ERROR {m.error} {errno_name(m.error) if m.error else 'ack'} "
             f"({os.strerror(-m.error) if m.error else 'ok'}), "
             f"{'capped' if m.capped else 'request echoed'}, extack: "
             f"{repr(o.extack) if o.extack is not None else 'none'} ({len(o.reply)} bytes)",
             f"          ErrorMessage {{ code: Some({m.error}), header: {rust_list(m.request)} }}"]
    if o.echo_matches_issue is not None:
        lines.append("issue     the echoed request equals the 64 bytes in kata-containers#11200: "
                     + ("yes" if o.echo_matches_issue else "NO"))
    for k, (policy, text) in enumerate(o.policies.items()):
        lines.append(f"{'policies' if k == 0 else '':9} {policy:16} {text}")
    lines += [f"note      {n}" for n in o.notes]
    want = errno_name(o.expected_error)
    verdict = "reproduced" if o.reproduced else "NOT reproduced"
    lines.append(f"result    {verdict} (expected {want}"
                 + (f" with {o.expected_extack!r}" if o.ext_ack and o.expected_extack else "")
                 + ")")
    return "\n".join(lines)


def list_scenarios(as_json: bool) -> str:
    """``--list``: every scenario with its layers and expected error."""
    names = sorted(layers())
    rows: list[dict[str, Any]] = []
    for s in SCENARIOS.values():
        extra = [x for x in names if x not in ("kernel", "synthetic", "caps")]
        rows.append({"scenario": s.name, "layers": [*s.layers, *extra],
                     "error": s.error, "errno": errno_name(s.error), "extack": s.extack,
                     "summary": s.summary})
    if as_json:
        return json.dumps(rows)
    return "\n".join(f"{r['scenario']:24} {r['errno']:7} {','.join(r['layers']):28} "
                     f"{r['summary']}" for r in rows)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nlcore repro", description="Reproduce the Kata EACCES "
                                "(kata-containers#11200) and its relatives, deterministically.",
                                epilog="exit status: 0 reproduced, 1 outcome differed, 2 usage, "
                                "3 layer cannot run here")
    p.add_argument("scenario", nargs="?", default="kata-11200", choices=list(SCENARIOS),
                   metavar="SCENARIO", help=f"one of {', '.join(SCENARIOS)} (see --list)")
    p.add_argument("--ext-ack", action="store_true", help="set NETLINK_EXT_ACK on the socket")
    p.add_argument("--layer", choices=sorted(layers()), help="default: the scenario's first")
    p.add_argument("-j", "--json", action="store_true", help="one JSON object")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.add_argument("--in-userns", action="store_true", help=argparse.SUPPRESS)
    return p


def _python() -> str:
    """An interpreter this user may execute (sys.executable may sit in another's home)."""
    v = sys.version_info
    for exe in (sys.executable, os.path.realpath(sys.executable),
                shutil.which(f"python{v.major}.{v.minor}"), shutil.which("python3")):
        if exe and os.access(exe, os.X_OK):
            return exe
    return sys.executable


def _rerun_in_userns(argv: list[str]) -> int:
    """Run this command again in a child that first becomes root of its own user namespace."""
    # the directory holding the top package: nlcore/ itself or a vendored copy's parent
    pkg = os.path.abspath(__file__)
    for _ in range((__package__ or "nlcore.faults").count(".") + 2):
        pkg = os.path.dirname(pkg)
    env = {**os.environ, "_NLCORE_REPRO_USERNS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [pkg, os.environ.get("PYTHONPATH")]))}
    cmd = [_python(), "-m", f"{__package__ or 'nlcore.faults'}.repro", *argv, "--in-userns"]
    return subprocess.run(cmd, env=env, check=False).returncode


def main(argv: list[str]) -> int:
    """The ``nlcore repro`` command; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    if args.list:
        print(list_scenarios(args.json))
        return EXIT_OK
    s = SCENARIOS[args.scenario]
    layer = args.layer or s.default_layer
    if layer in ("kernel", "synthetic", "caps") and layer not in s.layers:
        print(f"nlcore repro: scenario {s.name} has no {layer} layer (it has: "
              f"{', '.join(s.layers)})", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.in_userns:
            become_userns_root()
        outcome = layers()[layer](s, args.ext_ack)
    except _NeedUserns:
        if args.in_userns:
            print("nlcore repro: could not become root of a user namespace", file=sys.stderr)
            return EXIT_UNAVAILABLE
        return _rerun_in_userns(argv)
    except Unsupported as exc:
        print(f"nlcore repro: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (Unavailable, OSError) as exc:
        if args.json:
            print(json.dumps({"scenario": s.name, "layer": layer, "reproduced": False,
                              "unavailable": str(exc)}))
        print(f"nlcore repro: layer {layer} cannot run here: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(json.dumps(outcome.to_json()) if args.json else format_outcome(outcome))
    return EXIT_OK if outcome.reproduced else EXIT_DIFFERENT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
