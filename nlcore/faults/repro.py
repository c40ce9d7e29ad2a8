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
from importlib import import_module
from typing import Any, Callable, Iterable

from ..codec import consts as C
from ..codec.errors import NlcoreError
from ..net.conn import Conn
from ..net.fake import FakeTransport
from ..ops.engine import Ipv6DisabledError, Ipv6Policy, apply
from .kernel import KATA_SEQ, SCENARIOS, KernelLab, Scenario, become_userns_root
from .outcome import Outcome as Outcome
from .outcome import format_outcome
from .outcome import rust_list as rust_list

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
POLICIES: tuple[Ipv6Policy, ...] = ("strict", "skip", "preflight-error")


class Unsupported(Exception):
    """The layer cannot reproduce this scenario (exit 2)."""


class Unavailable(Exception):
    """The layer cannot run on this machine, e.g. no namespace can be created (exit 3)."""


class _NeedUserns(Exception):
    """The caps layer must run as root of its own user namespace (see kernel.py)."""


LayerFn = Callable[[Scenario, bool], Outcome]
LAYERS: dict[str, LayerFn] = {}
_OPTIONAL_LAYERS = {"seccomp": (".seccomp", "repro_layer")}


_CLAIMS: dict[str, frozenset[str] | None] = {}


def register_layer(name: str, fn: LayerFn, scenarios: Iterable[str] | None = None) -> None:
    """Make ``--layer NAME`` run ``fn(scenario, ext_ack)``, for ``scenarios`` (names; None:
    every scenario), which ``--list`` then names among their layers."""
    LAYERS[name] = fn
    _CLAIMS[name] = None if scenarios is None else frozenset(scenarios)


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
        return {p: "n/a: no apply() spec for this request" for p in POLICIES}
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
        tp = C.NLMSGHDR.unpack_from(req, 0)[1]
        rules = [Rule(type=tp, family=s.family, ifindex=None if tp == 28 else 2,
                      action=Error(s.error, msg=s.extack))] if s.error else []
        inner = FakeTransport(fake_kernel(mtu=mtu, disable_ipv6=disabled))
        return FaultyTransport(inner, FaultPlan(rules), ext_ack=ext, cap_ack=False)

    t = transport(ext_ack)
    t.send(req)
    buf = bytearray(1 << 16)
    n, _ = t.recv(buf)
    pol = run_policies(s, lambda: Conn(transport(True)))
    note = ("built by nlcore.codec.wire.encode_error_reply" if s.error else
            "the fake kernel's ack") + "; the request never reached a kernel"
    return Outcome(s, "synthetic", req, bytes(buf[:n]), ext_ack, s.error, s.extack, pol,
                   [note], mode="no kernel, no privileges")


LAYERS.update(kernel=_kernel, synthetic=_synthetic, caps=_caps)


def scenario_layers(s: Scenario) -> list[str]:
    """The layers that reproduce ``s`` here: the scenario's own that are available, then
    the registered ones that claim it."""
    have = layers()
    own = [name for name in s.layers if name in have]
    return own + [name for name, claim in _CLAIMS.items() if name in have and name not in own
                  and (claim is None or s.name in claim)]


def list_scenarios(as_json: bool) -> str:
    """``--list``: every scenario with the layers that reproduce it and the expected error."""
    rows: list[dict[str, Any]] = []
    for s in SCENARIOS.values():
        rows.append({"scenario": s.name, "layers": scenario_layers(s),
                     "error": s.error, "errno": s.errno_name, "extack": s.extack,
                     "summary": s.summary})
    if as_json:
        return json.dumps(rows)
    return "\n".join(f"{r['scenario']:24} {r['errno']:12} {','.join(r['layers']):28} "
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
    if layer not in scenario_layers(s):
        print(f"nlcore repro: scenario {s.name} has no {layer} layer (it has: "
              f"{', '.join(scenario_layers(s))})", file=sys.stderr)
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
