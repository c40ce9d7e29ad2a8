"""Overhead of ``nlcore inject`` against ``strace -f --seccomp-bpf --inject`` (one run).

    python3 bench/bench_inject.py [--rounds 300] [--repeat 5] [--json]

Workload: ``tests/c/batch_client --send=sendto --recv=recvfrom --repeat=N v0 ADDR``: one
RTM_NEWADDR (REPLACE|ACK) and its ack per round, in a throwaway namespace. Each
configuration runs at N and 10*N rounds; the slope (time per round) removes start-up
costs, and the bare client's slope is subtracted, so the figures are the *added* time:

* NLMSGERR -- ``nlcore inject`` failing the v6 request with a synthetic NLMSGERR (the send
  and the receive are both handled: 2 syscalls per request), against strace doing the same
  by hand: ``--inject=sendto:retval=LEN`` and ``--inject=recvfrom:retval=84:poke_exit=
  @arg2=<the same NLMSGERR>`` (which only works because it is the same reply every time).
* syscall errno -- ``nlcore inject --syscall-errno`` against ``--inject=sendto:error=EACCES``
  (1 syscall per request: the client skips its receive when the send fails).
* passed through -- a v4 request under the same v6 rule (the send is read and checked,
  then continued; the receive continued), against ``strace -e trace=sendto,recvfrom``.

``nlcore`` is the native supervisor (csrc/supervise.c), ``pure`` the Python one
(``NLCORE_PURE=1``, what ``--log`` uses); ``*_x`` rows are strace's overhead over nlcore's.

Medians of ``--repeat`` interleaved runs, as wall time and as CPU time (user + system of
every process of the run). On a busy machine CPU time is the steadier figure: a ping-pong
between two processes waits for the scheduler at every hand-over. Needs root or user
namespaces, gcc and strace.

Where the processes run matters as much as what they do: on an idle multi-CPU VM every
hand-over between two processes may wake an idle CPU (slow under a hypervisor; strace's
ptrace stops pay it twice per syscall, seccomp's synchronous wake-up avoids it). Run it
also as ``taskset -c 0 python3 bench/bench_inject.py`` (every process on one CPU): that
measures the work itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlcore.net.netns import ThrowawayNetns  # noqa: E402

V6, V4 = "fe80::1/64", "198.51.100.1/24"
RULE = "RTM_NEWADDR family=inet6"


def build(tmp: str) -> str:
    """Compile the batching client; returns its path."""
    out = os.path.join(tmp, "batch_client")
    subprocess.run(["gcc", "-O2", "-o", out, str(ROOT / "tests" / "c" / "batch_client.c")],
                   check=True)
    return out


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(ns: ThrowawayNetns, argv: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (every process of the run: tool and program, user + system)
    of one run of ``argv`` inside ``ns`` (it must exit 0 or 1)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    c0, t0 = _cpu(), time.perf_counter()
    res = ns.run(argv, env=env)
    dt, dc = time.perf_counter() - t0, _cpu() - c0
    if res.returncode not in (0, 1):
        raise RuntimeError(f"{argv} exited {res.returncode}: {res.stderr}")
    return dt, dc


def slopes(ns: ThrowawayNetns, configs: dict[str, Any], rounds: int,
           repeat: int) -> dict[str, tuple[float, float]]:
    """(wall, cpu) seconds per round of every config: (T(10N) - T(N)) / 9N on the medians
    of ``repeat`` runs, the configs interleaved so that a load change hits them all."""
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(repeat):
        for name, argv_for in configs.items():
            for n in (rounds, 10 * rounds):
                runs.setdefault((name, n), []).append(timed(ns, argv_for(n)))
    out = {}
    for name in configs:
        lo, hi = runs[name, rounds], runs[name, 10 * rounds]
        out[name] = (
            (statistics.median(h[0] for h in hi) - statistics.median(x[0] for x in lo))
            / (9 * rounds),
            (statistics.median(h[1] for h in hi) - statistics.median(x[1] for x in lo))
            / (9 * rounds))
    return out


def measure(rounds: int, repeat: int) -> dict[str, float | None]:
    """Per-round slopes (microseconds) of every configuration, and the derived overheads."""
    strace = shutil.which("strace")
    if strace is None:
        raise SystemExit("strace not found")
    from nlcore.codec.wire import AddrSpec, encode_addr, encode_error_reply

    inject = [sys.executable, "-m", "nlcore.faults.seccomp.inject", "--match", RULE]
    pure = ["env", "NLCORE_PURE=1", *inject]  # the pure-Python supervisor, for reference
    st = [strace, "-f", "--seccomp-bpf", "-o", "/dev/null"]
    with tempfile.TemporaryDirectory() as tmp, ThrowawayNetns() as ns:
        client = build(tmp)
        ns.run(["ip", "link", "add", "v0p", "type", "veth", "peer", "name", "v0"], check=True)
        index = json.loads(ns.run(["ip", "-j", "link", "show", "v0"]).stdout)[0]["ifindex"]
        # the very NLMSGERR nlcore synthesizes (port id aside), for strace to poke in
        req = encode_addr(AddrSpec(V6, index=index, op="replace"), seq=1)
        fake = encode_error_reply(req, -13, 0, ext_ack=False)
        io = ["--send=sendto", "--recv=recvfrom"]

        def cl(addr: str, *extra: str) -> Any:
            return lambda n: [client, *io, *extra, f"--repeat={n}", "v0", addr]

        configs = {
            "bare_v6": cl(V6), "bare_v4": cl(V4),
            # netlink level: a synthetic NLMSGERR (send and receive both handled)
            "nlcore_nlmsgerr": lambda n: [*inject, "--"] + cl(V6)(n),
            "pure_nlmsgerr": lambda n: [*pure, "--"] + cl(V6)(n),
            "strace_nlmsgerr": lambda n: [
                *st, "-e", "trace=sendto,recvfrom", "-e", f"inject=sendto:retval={len(req)}",
                "-e", f"inject=recvfrom:retval={len(fake)}:poke_exit=@arg2={fake.hex()}",
                *cl(V6)(n)],
            # syscall level: the send fails with EACCES
            "nlcore_syscall": lambda n: [*inject, "--syscall-errno", "--"]
            + cl(V6, "--ignore-send-errors")(n),
            "pure_syscall": lambda n: [*pure, "--syscall-errno", "--"]
            + cl(V6, "--ignore-send-errors")(n),
            "strace_syscall": lambda n: [*st, "-e", "trace=sendto", "-e",
                                         "inject=sendto:error=EACCES"]
            + cl(V6, "--ignore-send-errors")(n),
            # passed through: a v4 request under the v6 rule (send and receive)
            "nlcore_pass": lambda n: [*inject, "--"] + cl(V4)(n),
            "pure_pass": lambda n: [*pure, "--"] + cl(V4)(n),
            "strace_pass": lambda n: [*st, "-e", "trace=sendto,recvfrom"] + cl(V4)(n),
        }
        per_round = slopes(ns, configs, rounds, repeat)
    out: dict[str, float | None] = {}
    for i, kind in enumerate(("wall", "cpu")):
        us = {k: v[i] * 1e6 for k, v in per_round.items()}
        out.update({f"{kind}_round_{k}_us": round(v, 2) for k, v in us.items()})
        # an intercepted request skips the kernel's own work, which the bare v6 round
        # includes: subtracting it credits every tool equally
        for tool in ("nlcore", "pure", "strace"):
            out[f"{kind}_{tool}_nlmsgerr_per_request_us"] = round(
                us[f"{tool}_nlmsgerr"] - us["bare_v6"], 2)
            out[f"{kind}_{tool}_syscall_errno_per_call_us"] = round(
                us[f"{tool}_syscall"] - us["bare_v6"], 2)
            out[f"{kind}_{tool}_pass_per_call_us"] = round(
                (us[f"{tool}_pass"] - us["bare_v4"]) / 2, 2)
        for what in ("nlmsgerr_per_request", "syscall_errno_per_call", "pass_per_call"):
            n, t = out[f"{kind}_nlcore_{what}_us"], out[f"{kind}_strace_{what}_us"]
            # None: nlcore's overhead is within the noise of the bare round (<= 0)
            out[f"{kind}_strace_over_nlcore_{what}_x"] = round(t / n, 1) if n > 0 else None
    return out


def main() -> int:
    """Run the comparison and print it."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = measure(a.rounds, a.repeat)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res.items():
            print(f"{k:48s} {'n/a' if v is None else f'{v:.2f}':>10s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
