"""nlcore bench (the main job): it runs, its rows are well formed, its ratios are the ratios
of its own rows, and it leaves nothing behind, even when interrupted or killed.

No timing is asserted: timings never pass or fail anything.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nlcore.bench import job
from nlcore.net import netns as N

ROOT = Path(__file__).resolve().parents[1]
OURS = ("c_limit", "pyroute2_methods", "nlcore-bench-", "nlcore.bench.job", "sleep 61")
# A stand-in for bench/climit.py whose "C loop" runs for a minute inside the namespace, so
# that the job is surely stopped while one of its tools runs.
FAKE_CLIMIT = """
import subprocess
def build():
    return "sleep"
def run(argv_prefix, **kw):
    subprocess.run([*argv_prefix, "sleep", "61"], check=False)
    raise RuntimeError("stand-in C limit")
"""
KEYS = {"method", "backend", "op", "family", "n", "per_s", "cpu_us", "acks", "input",
        "x_limit", "x_pyroute2"}


def _namespaces_ok() -> str:
    try:
        N.mode()
    except PermissionError as exc:
        return str(exc)
    return ""


kernel = pytest.mark.skipif(bool(_namespaces_ok()), reason=_namespaces_ok() or "ok")


def _inode(stderr: str) -> int:
    m = re.search(r"namespace net:\[(\d+)\]", stderr)
    assert m, stderr
    return int(m.group(1))


def _ours_in(inode: int) -> list[str]:
    """Command lines of bench processes still inside namespace ``inode``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino != inode:
                continue
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(k in cmd for k in OURS):
            found.append(f"{pid}: {cmd}")
    return found


def _fds_in(inode: int) -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == f"net:[{inode}]":
                out.append(fd)
        except OSError:
            pass
    return out


@kernel
def test_smoke_json_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert job.main(["--smoke", "-j"]) == 0
    cap = capsys.readouterr()
    rows: list[dict[str, Any]] = json.loads(cap.out)
    inode = _inode(cap.err)
    assert _fds_in(inode) == [] and _ours_in(inode) == []
    methods = {r["method"] for r in rows}
    assert {"nlcore apply", job.ONE, job.E2E, job.BULK, "nlcore acks_scan",
            "nlcore Conn.collect", "nlcore Report", "nlcore decode()",
            "nlcore encode_addrs_into", "import nlcore"} <= methods
    for r in rows:
        assert KEYS <= r.keys(), r
        assert r["op"] in ("add", "del", "parse", "encode", "import")
        assert r["family"] in ((None,) if r["op"] == "import" else (4, 6))
        assert isinstance(r["per_s"], float) and r["per_s"] > 0
        assert r["acks"] in ("all", "errors") and r["input"] in ("specs", "strings")
        # root opens perf's task-clock; the rounds behind the medians are all there
        assert r["cpu_clock"] == ("task-clock" if os.geteuid() == 0 else r["cpu_clock"])
        assert len(r["round_seconds"]) == r["rounds"]
        assert r["errors"] == 0, r
        assert r["x_pyroute2"] is None  # --smoke leaves pyroute2 out
    applied = [r for r in rows if r["op"] in ("add", "del")]
    for r in applied:  # every apply row measured its CPU time, per item (ip -batch: less
        # an empty batch's, clamped to 0; at --smoke's N=50 one row may see no CPU tick)
        assert isinstance(r["cpu_us"], float) and r["cpu_us"] >= 0, r
    for m in {r["method"] for r in applied} - {"ip -batch"}:  # but every method some
        assert sum(r["cpu_us"] for r in applied if r["method"] == m) > 0, m
    assert {r["input"] for r in applied if r["method"] in (job.E2E, job.BULK, "ip -batch")} \
        == {"strings"}
    assert {r["object"] for r in applied} == {"addr", "route"}

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["object"], r["op"], r["family"], r["n"], r["devices"], r["acks"])

    limits = {key(r): r for r in rows if r["method"] == job.LIMIT}
    for r in rows:
        if key(r) in limits:
            assert r["x_limit"] == pytest.approx(_ratio(limits[key(r)], r))
        else:
            assert r["x_limit"] is None
    if limits:  # the C limit was built: every apply row has its ratio, both ack modes ran
        assert all(r["x_limit"] is not None for r in applied)
        assert {k[5] for k in limits} == {"all", "errors"}
    apply_keys = {(r["op"], r["family"], r["devices"]) for r in applied
                  if r["object"] == "addr"}
    assert apply_keys == {(op, f, d) for op in ("add", "del") for f in (4, 6) for d in (1, 16)}


@kernel
def test_rounds_scales_every_group(capsys: pytest.CaptureFixture[str]) -> None:
    """``--rounds 3``: three times the plan's rounds in every apply row."""
    assert job.main(["--smoke", "--routes", "--rounds", "3", "-j"]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert rows and {r["rounds"] for r in rows} == {3}


@pytest.mark.parametrize("value", ["0", "21", "x", "nan"])
def test_rounds_refuses_a_bad_factor(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exc:
        job.main(["--rounds", value])
    assert exc.value.code == 2
    assert f"invalid factor {value!r}: expected a number 0.1..20" in capsys.readouterr().err


@kernel
def test_routes_rows(capsys: pytest.CaptureFixture[str]) -> None:
    """``--routes`` (here with --smoke's N): only route rows, the C route loop in both ack
    modes, apply() of RouteSpecs in both backends and ack modes, ip -batch; every ratio is
    to the C route loop of the same op, family, N and ack mode."""
    assert job.main(["--smoke", "--routes", "-j"]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert rows and {r["object"] for r in rows} == {"route"}
    for r in rows:
        assert KEYS <= r.keys(), r
        assert r["errors"] == 0, r
        assert isinstance(r["cpu_us"], float) and (r["cpu_us"] > 0 or
                                                   r["method"] == "ip -batch"), r
    got = {(r["method"], r["backend"], r["acks"], r["op"], r["family"]) for r in rows}
    for op in ("add", "del"):
        for fam in (4, 6):
            assert {("nlcore apply", "native", "all", op, fam),
                    ("nlcore apply", "native", "errors", op, fam),
                    ("nlcore apply", "pure", "all", op, fam),
                    ("ip -batch", None, "all", op, fam)} <= got
            limits = {r["acks"]: r for r in rows if r["method"] == job.LIMIT
                      and (r["op"], r["family"]) == (op, fam)}
            if not limits:
                continue  # no C compiler: x_limit is null (a note says so)
            assert set(limits) == {"all", "errors"}
            for r in rows:
                if (r["op"], r["family"]) == (op, fam) and r["cpu_us"]:
                    ref = limits[r["acks"]]
                    assert r["x_limit"] == pytest.approx(_ratio(ref, r))
                    assert r["x_limit_cpu"] == pytest.approx(_ratio(ref, r, "cpu"))


def _ratio(ref: dict[str, Any], r: dict[str, Any], what: str = "seconds") -> float:
    """What add_ratios must give: with 3+ shared rounds the median per-round ratio, else
    the ratio of the medians."""
    a, b = ref[f"round_{what}"], r[f"round_{what}"]
    if a and b and len(list(zip(a, b))) >= 3:
        return float(statistics.median(x / y for x, y in zip(a, b)))
    return r["per_s"] / ref["per_s"] if what == "seconds" else ref["cpu_us"] / r["cpu_us"]


def test_paired_ratios_are_medians_of_the_rounds() -> None:
    """Round r of the C loop against round r of the method: a slow phase of the machine
    that hit one round of both does not move the ratio (a ratio of medians it does)."""
    def row(method: str, secs: list[float], cpus: list[float] | None = None) -> dict[str, Any]:
        med = statistics.median(secs)
        return {"method": method, "op": "add", "family": 4, "n": 1000, "devices": 1,
                "per_s": 1000 / med, "x_limit": None, "x_pyroute2": None, "acks": "all",
                "object": "addr", "round_seconds": secs, "round_cpu": cpus,
                "cpu_us": None if cpus is None else statistics.median(cpus) * 1e3}

    # the machine is 3x slower in rounds 0 and 1; the method is 10% slower than the loop
    lim = row(job.LIMIT, [3.0, 3.0, 1.0, 1.0, 1.0], [3.0, 3.0, 1.0, 1.0, 1.0])
    ours = row("nlcore apply", [3.3, 3.3, 1.1, 1.1, 1.1], [3.3, 3.3, 1.1, 1.1, 1.1])
    few = row("nlcore apply_one", [2.0, 2.0])  # two rounds: the ratio of the medians
    few["op"] = "add"
    job.add_ratios([lim, ours, few])
    assert ours["x_limit"] == pytest.approx(1 / 1.1) and \
        ours["x_limit_cpu"] == pytest.approx(1 / 1.1)
    assert few["x_limit"] == pytest.approx(few["per_s"] / lim["per_s"])
    assert few.get("x_limit_cpu") is None  # no CPU measured


def test_ratios_come_from_the_same_run() -> None:
    def row(method: str, op: str, per_s: float, family: int | None = 4, acks: str = "all",
            cpu: float | None = None) -> dict[str, Any]:
        return {"method": method, "op": op, "family": family, "n": 10, "devices": 1,
                "per_s": per_s, "x_limit": None, "x_pyroute2": None, "acks": acks,
                "object": "addr", "cpu_us": cpu}

    rows = [row(job.LIMIT, "add", 100.0, cpu=4.0), row("nlcore apply", "add", 90.0, cpu=5.0),
            row(job.PYROUTE2, "add", 3.0), row("nlcore apply", "del", 50.0),
            row("pyroute2 parse()", "parse", 2.0), row("nlcore acks_scan", "parse", 8.0),
            row(job.LIMIT, "add", 200.0, acks="errors"),
            row("nlcore apply", "add", 150.0, acks="errors")]
    job.add_ratios(rows)
    got = [(r["x_limit"], r["x_pyroute2"]) for r in rows]
    assert got == [(1.0, 100 / 3), (0.9, 30.0), (0.03, 1.0), (None, None), (None, 1.0),
                   (None, 4.0), (1.0, None), (0.75, None)]
    assert rows[1]["x_limit_cpu"] == pytest.approx(0.8)


def _child_of(parent: int) -> int | None:
    """The live stand-in C loop that ``parent`` started, if any."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == parent and fields[0] != "Z" and cmd.startswith("sleep\0"):
            return int(pid)
    return None


def _dead(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def _start(tmp: Path) -> tuple[subprocess.Popen[str], int, int]:
    """Start ``--smoke -j`` with the stand-in C loop; return once that runs."""
    (tmp / "climit.py").write_text(FAKE_CLIMIT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NLCORE_BENCH_DIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "nlcore.bench.job", "--smoke", "-j"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    seen, inode = "", 0
    while True:
        line = proc.stderr.readline()
        seen += line
        if not line:
            proc.communicate()
            pytest.fail(f"nlcore bench did not start: {seen}")
        if "namespace net:[" in line:
            inode = _inode(line)
        if inode and line.startswith("["):  # the first measurement has started
            break
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        child = _child_of(proc.pid)
        if child is not None:
            return proc, inode, child
        time.sleep(0.01)
    proc.kill()
    proc.communicate()
    pytest.fail("the stand-in C loop never started")


def _reap(proc: subprocess.Popen[str], child: int) -> None:
    """Whatever happened, leave nothing running: the job, then its stand-in tool."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if not _dead(child):
        os.kill(child, signal.SIGKILL)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _wait_gone(inode: int, child: int) -> list[str]:
    left = _ours_in(inode)
    for _ in range(50):
        if not left and _dead(child):
            break
        time.sleep(0.1)
        left = _ours_in(inode)
    if not _dead(child):
        left.append(f"{child} (the tool running when the job was stopped)")
    return left


@kernel
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_cleans_up(tmp_path: Path, sig: signal.Signals) -> None:
    proc, inode, child = _start(tmp_path)
    try:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "interrupted" in err and out == ""
        assert _wait_gone(inode, child) == []
    finally:
        _reap(proc, child)


@kernel
def test_killed_run_leaves_no_process_behind(tmp_path: Path) -> None:
    proc, inode, child = _start(tmp_path)
    try:
        proc.kill()
        proc.wait(timeout=30)
        assert _wait_gone(inode, child) == []  # children die with it (setpriv --pdeathsig)
    finally:
        _reap(proc, child)


@kernel
def test_without_native_backend_it_says_so_and_measures_pure(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(ROOT / "nlcore", tmp_path / "nlcore",
                    ignore=shutil.ignore_patterns("_native*.so", "_native.c", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NLCORE_BENCH_DIR": str(ROOT / "bench"),
           "NLCORE_REQUIRE_NATIVE": ""}
    # -S: no site-packages, so an installed (editable) nlcore cannot shadow the copy
    done = subprocess.run([sys.executable, "-S", "-m", "nlcore.bench.job", "--smoke", "-j"],
                          env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "native backend unavailable" in done.stderr
    rows = json.loads(done.stdout)
    assert {r["backend"] for r in rows} <= {"pure", None}
    assert {"nlcore apply", job.ONE, "nlcore acks_scan"} <= {r["method"] for r in rows}
    assert all(r["errors"] == 0 for r in rows)
