"""Build and run bench/c_limit.c, the raw-C reference for the kernel's address add/del rate.

``build()`` compiles it into bench/_bin/c_limit (only when the binary is missing or older than the
source). ``run(argv_prefix, ...)`` runs it, with ``argv_prefix`` choosing where (for example
``["nsenter", "--net=/proc/PID/ns/net"]``), and returns its JSON line as a dict.
``throwaway_netns()`` gives such a prefix for a namespace that lives only as long as the block.

    python3 bench/climit.py          # print the rates for N=1000, batch 256 and 1, v4 and v6
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "c_limit.c"
BINARY = HERE / "_bin" / "c_limit"
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"]
VETH_SETUP: tuple[tuple[str, ...], ...] = (("ip", "link", "add", "v0", "type", "veth", "peer",
                                            "name", "v1"),)


class CLimitError(RuntimeError):
    """c_limit (or its build, or the namespace around it) failed."""


def build(cc: Optional[str] = None) -> Path:
    """Compile c_limit.c into bench/_bin/c_limit if missing or stale; return the binary's path."""
    if BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BINARY
    compiler = cc or os.environ.get("CC") or shutil.which("gcc") or "cc"
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".c_limit.", dir=BINARY.parent)
    os.close(fd)
    try:
        done = subprocess.run([compiler, *CFLAGS, "-o", tmp, str(SOURCE)], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise CLimitError(f"{compiler} failed: {done.stderr.strip()}")
        os.replace(tmp, BINARY)  # atomic: a concurrent build never sees half a binary
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return BINARY


def run(argv_prefix: Sequence[str], *, op: str, family: int, ifindex: Sequence[int],
        count: int, batch: int, base: Optional[str] = None, spread: int = 1,
        same64: bool = False, timeout: float = 300.0,
        extra: Sequence[str] = ()) -> dict[str, Any]:
    """Run c_limit under ``argv_prefix`` and return its result line.

    The dict has ``op, family, n, batch, acks, object, seconds, cpu_seconds, per_s`` and
    ``errors`` ({"errno": count}, empty when every request was acked with 0); ``extra``
    adds options (``["--acks", "errors", "--object", "route"]``). A usage or setup failure
    raises CLimitError.
    """
    argv = [*argv_prefix, str(build()), "--op", op, "--family", str(family),
            "--ifindex", ",".join(str(i) for i in ifindex), "--count", str(count),
            "--batch", str(batch), "--spread", str(spread)]
    if base is not None:
        argv += ["--base", base]
    if same64:
        argv.append("--same64")
    argv += list(extra)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise CLimitError(f"c_limit exited {done.returncode}: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@contextlib.contextmanager
def throwaway_netns(setup: Sequence[Sequence[str]] = VETH_SETUP) -> Iterator[list[str]]:
    """A fresh network namespace for the block; yields the argv prefix that enters it.

    A holder process (``unshare -n``, or ``unshare -rn`` when not root) keeps the namespace
    alive while it reads its stdin; when this process ends, even by SIGKILL, the pipe closes,
    the holder exits and the namespace is gone. ``setup`` commands run inside it first.
    """
    root = os.geteuid() == 0
    holder = subprocess.Popen(
        ["unshare", "-n" if root else "-rn", "--", sys.executable, "-I", "-c",
         "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        if holder.stdout.readline().strip() != b"ready":
            err = holder.stderr.read().decode() if holder.stderr else ""
            raise CLimitError(f"cannot create a network namespace: {err.strip()}")
        ns = f"/proc/{holder.pid}/ns"
        prefix = ["nsenter", f"--net={ns}/net"] if root else \
            ["nsenter", f"--user={ns}/user", f"--net={ns}/net"]
        for cmd in setup:
            done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise CLimitError(f"setup {list(cmd)} failed: {done.stderr.strip()}")
        yield prefix
    finally:
        if holder.stdin:
            holder.stdin.close()
        try:
            holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        for stream in (holder.stdout, holder.stderr):
            if stream:
                stream.close()


def ifindex(prefix: Sequence[str], name: str) -> int:
    """The index of interface ``name`` as seen under ``prefix`` (``ip -j link show``)."""
    out = subprocess.run([*prefix, "ip", "-j", "link", "show", "dev", name],
                         capture_output=True, text=True, check=True).stdout
    index: int = json.loads(out)[0]["ifindex"]
    return index


def main() -> int:
    """Print one result line per (family, batch) for 1,000 adds and 1,000 deletes on a veth."""
    for family in (4, 6):
        for batch in (256, 1):
            with throwaway_netns() as prefix:
                idx = ifindex(prefix, "v0")
                for op in ("add", "del"):
                    res = run(prefix, op=op, family=family, ifindex=[idx], count=1000,
                              batch=batch)
                    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
