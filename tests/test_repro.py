"""``nlcore repro``: every scenario on every layer, the JSON keys and exit codes, the text
report (the Kata log's byte list), and unprivileged runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _util import run_unprivileged

from nlcore.faults import repro
from nlcore.faults.kernel import KATA_MSG, KATA_REQUEST, ROUTE_MSG, SCENARIOS
from nlcore.net import netns

REPO = Path(__file__).resolve().parents[1]


KEYS = {"scenario", "layer", "reproduced", "error", "errno", "extack", "echo_matches_issue",
        "request_hex", "reply_hex"}
# the error as kata-containers#11200 logged it (netlink-packet-core's Debug output)
KATA_LOG = ("ErrorMessage { code: Some(-13), header: [64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, "
            "0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0, 20, 0, 1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, "
            "76, 28, 255, 254, 132, 246, 183, 20, 0, 2, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, "
            "28, 255, 254, 132, 246, 183] }")


def _mode() -> str:
    try:
        return netns.mode()
    except PermissionError as exc:
        return f"none ({exc})"


MODE = _mode()
needs_ns = pytest.mark.skipif(MODE.startswith("none"), reason=f"no namespace possible: {MODE}")
needs_root = pytest.mark.skipif(MODE != "root", reason="the in-process caps layer needs root "
                                "(unprivileged it re-execs: see test_unprivileged)")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    rc = repro.main([*args, "-j"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert repro.main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(SCENARIOS)
    assert lines[0].split()[:3] == ["kata-11200", "EACCES", "kernel,synthetic,caps,seccomp"]
    assert repro.main(["--list", "-j"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["scenario"]: r["errno"] for r in rows} == {
        "kata-11200": "EACCES", "ipv6-disabled-dev": "EACCES",
        "ipv6-all-then-default0": "EACCES", "mtu-below-1280": "EINVAL",
        "eperm-cap-drop": "EPERM", "ipv6-route-nexthop": "EACCES", "route-eexist": "EEXIST",
        "route-gateway-offlink": "ENETUNREACH", "route6-gateway-offlink": "EHOSTUNREACH",
        "route-dev-down": "ENETDOWN", "neigh-dev-down": "ack",
        "ipv6-neigh-disabled-dev": "EINVAL"}
    layers = {r["scenario"]: r["layers"] for r in rows}
    assert all("seccomp" not in v for k, v in layers.items() if k != "kata-11200")
    assert layers["route-eexist"] == ["kernel", "synthetic"]


#: facts measured on the real kernel (Linux 6.x, NETLINK_EXT_ACK on): errno and extack
ROUTE_FACTS = {
    "ipv6-route-nexthop": (-13, "IPv6 is disabled on nexthop device"),
    "route-eexist": (-17, None),
    "route-gateway-offlink": (-101, "Nexthop has invalid gateway"),
    "route6-gateway-offlink": (-113, None),
    "route-dev-down": (-100, "Device for nexthop is not up"),
    "neigh-dev-down": (0, None),
    "ipv6-neigh-disabled-dev": (-22, "IPv6 is disabled on this device"),
}


def test_route_facts_declared() -> None:
    assert {n: (SCENARIOS[n].error, SCENARIOS[n].extack) for n in ROUTE_FACTS} == ROUTE_FACTS


@pytest.mark.parametrize("name", list(ROUTE_FACTS))
def test_scenario_request_is_the_specs_message(name: str) -> None:
    """The scenario's hand-built request (checked on the kernel) and the codec's spec for
    it are the same bytes, seq aside."""
    s = SCENARIOS[name]
    msg = bytearray(s.spec.message)
    msg[8:12] = (19).to_bytes(4, "little")
    assert bytes(msg) == s.request(19)


@pytest.mark.kernel
@pytest.mark.parametrize("name,layer", [(n, lay) for n, s in SCENARIOS.items()
                                        for lay in repro.scenario_layers(s)])
def test_every_listed_layer_works(capsys: pytest.CaptureFixture[str], name: str,
                                  layer: str) -> None:
    """``--list`` promises these layers: each reproduces its scenario (or, where no
    namespace is possible here, says so with exit status 3)."""
    rc, out = run_json(capsys, name, "--layer", layer, "--ext-ack")
    if rc == 3 or out.get("unavailable"):
        pytest.skip(f"layer {layer} cannot run here: {out.get('unavailable')}")
    assert (rc, out["reproduced"]) == (0, True), out
    if layer in ("kernel", "synthetic"):
        assert (out["error"], out["extack"]) == (SCENARIOS[name].error, SCENARIOS[name].extack)


def test_unlisted_layer_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert repro.main(["route-eexist", "--layer", "caps"]) == 2
    assert "has no caps layer (it has: kernel, synthetic)" in capsys.readouterr().err


@needs_ns
@pytest.mark.kernel
@pytest.mark.parametrize("ext_ack", [False, True], ids=["no-extack", "extack"])
def test_kata_kernel_json(capsys: pytest.CaptureFixture[str], ext_ack: bool) -> None:
    rc, out = run_json(capsys, "kata-11200", *(["--ext-ack"] if ext_ack else []))
    assert rc == 0
    assert KEYS <= out.keys()
    assert (out["scenario"], out["layer"], out["reproduced"], out["error"], out["errno"]) == \
        ("kata-11200", "kernel", True, -13, "EACCES")
    assert out["extack"] == (KATA_MSG if ext_ack else None)
    assert out["echo_matches_issue"] is True
    assert bytes.fromhex(out["request_hex"]) == KATA_REQUEST
    reply = bytes.fromhex(out["reply_hex"])
    assert reply[20:84] == KATA_REQUEST and len(reply) == (128 if ext_ack else 84)
    assert out["policies"]["strict"].startswith("failed: RTM_NEWADDR fe80::c44c:1cff:fe84:f6b7")
    assert out["policies"]["skip"].startswith("skipped: IPv6 is disabled on")
    assert out["policies"]["preflight-error"].startswith("raises Ipv6DisabledError:")


@needs_ns
@pytest.mark.kernel
def test_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert repro.main(["kata-11200"]) == 0
    text = capsys.readouterr().out
    assert KATA_LOG in text
    assert "[64, 0, 0, 0, 20, 0, 5, 5, 19, 0" in text.split("request")[1]
    assert "NLMSG_ERROR -13 EACCES (Permission denied), request echoed, extack: none" in text
    assert "equals the 64 bytes in kata-containers#11200: yes" in text
    for policy in ("strict", "skip", "preflight-error"):
        assert f" {policy} " in text
    assert text.rstrip().endswith("result    reproduced (expected EACCES)")


@needs_ns
@pytest.mark.kernel
@pytest.mark.parametrize("name", [n for n, s in SCENARIOS.items() if "kernel" in s.layers])
def test_every_kernel_scenario(capsys: pytest.CaptureFixture[str], name: str) -> None:
    rc, out = run_json(capsys, name, "--ext-ack")
    s = SCENARIOS[name]
    assert (rc, out["reproduced"], out["error"], out["extack"]) == (0, True, s.error, s.extack)
    assert out["echo_matches_issue"] is (True if s.request(19) == KATA_REQUEST else None)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_synthetic_scenario(capsys: pytest.CaptureFixture[str], name: str) -> None:
    """No kernel and no privileges needed."""
    rc, out = run_json(capsys, name, "--layer", "synthetic", "--ext-ack")
    s = SCENARIOS[name]
    assert (rc, out["layer"], out["error"], out["extack"]) == (0, "synthetic", s.error, s.extack)


@needs_ns
@pytest.mark.kernel
@pytest.mark.parametrize("ext_ack", [[], ["--ext-ack"]], ids=["no-extack", "extack"])
def test_synthetic_reply_equals_kernel_reply(capsys: pytest.CaptureFixture[str],
                                             ext_ack: list[str]) -> None:
    _, k = run_json(capsys, "kata-11200", *ext_ack)
    _, s = run_json(capsys, "kata-11200", "--layer", "synthetic", *ext_ack)
    kb, sb = bytes.fromhex(k["reply_hex"]), bytes.fromhex(s["reply_hex"])
    assert kb[:12] + kb[16:] == sb[:12] + sb[16:]  # all but nlmsg_pid (the port ids differ)
    assert k["policies"] == s["policies"]


@needs_root
@pytest.mark.kernel
def test_caps_layer(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run_json(capsys, "kata-11200", "--layer", "caps", "--ext-ack")
    assert (rc, out["reproduced"], out["error"], out["errno"], out["extack"]) == \
        (0, True, -1, "EPERM", None)
    assert out["echo_matches_issue"] is True
    rc, out = run_json(capsys, "eperm-cap-drop")
    assert (rc, out["layer"], out["errno"]) == (0, "caps", "EPERM")
    assert out["policies"]["skip"].startswith("failed: ")  # the device is fine: it is sent


def test_route_scenario_policies(capsys: pytest.CaptureFixture[str]) -> None:
    """The engine's IPv6 policy covers routes: skip and preflight-error never send it."""
    rc, out = run_json(capsys, "ipv6-route-nexthop", "--layer", "synthetic", "--ext-ack")
    assert (rc, out["extack"], out["echo_matches_issue"]) == (0, ROUTE_MSG, None)
    pol = out["policies"]
    assert pol["strict"].startswith("failed: RTM_NEWROUTE 2001:db8::/64 dev index 2: [Errno 13]")
    assert pol["skip"].startswith("skipped: IPv6 is disabled on")
    assert pol["preflight-error"].startswith("raises Ipv6DisabledError: 2001:db8::/64")


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert repro.main(["no-such-scenario"]) == 2
    assert repro.main(["eperm-cap-drop", "--layer", "kernel"]) == 2
    assert "has no kernel layer" in capsys.readouterr().err
    assert repro.main(["--layer", "nope"]) == 2
    assert repro.main(["--help"]) == 0


def test_unavailable_exit_3(capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(userns: bool | None = None) -> None:
        raise PermissionError(1, "cannot create a network namespace: test")

    monkeypatch.setattr(repro, "KernelLab", refuse)
    rc, out = run_json(capsys, "kata-11200")
    assert rc == 3
    assert out == {"scenario": "kata-11200", "layer": "kernel", "reproduced": False,
                   "unavailable": "cannot create a throwaway network namespace: [Errno 1] "
                                  "cannot create a network namespace: test"}


def test_registered_layer_and_exit_1(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer added through the registry (as seccomp will be) is selectable; an outcome
    that differs from the expectation exits 1."""
    monkeypatch.setattr(repro, "LAYERS", dict(repro.LAYERS))
    monkeypatch.setattr(repro, "_CLAIMS", dict(repro._CLAIMS))

    def wrong(s: Any, ext_ack: bool) -> repro.Outcome:
        o = repro.LAYERS["synthetic"](SCENARIOS["eperm-cap-drop"], ext_ack)
        return repro.Outcome(s, "test", o.request, o.reply, ext_ack, s.error, s.extack)

    repro.register_layer("test", wrong)
    assert "test" in repro.list_scenarios(True)
    rc, out = run_json(capsys, "kata-11200", "--layer", "test")
    assert (rc, out["layer"], out["reproduced"], out["errno"]) == (1, "test", False, "EPERM")
    assert "result    NOT reproduced" in repro.format_outcome(wrong(SCENARIOS["kata-11200"],
                                                                  False))


def test_synthetic_100_times_identical(capsys: pytest.CaptureFixture[str]) -> None:
    first = run_json(capsys, "kata-11200", "--layer", "synthetic")
    for _ in range(100):
        assert run_json(capsys, "kata-11200", "--layer", "synthetic") == first


def test_cli_dispatch(capsys: pytest.CaptureFixture[str]) -> None:
    """``nlcore repro`` goes through the CLI dispatcher to this module's main()."""
    cli = pytest.importorskip("nlcore.cli.main", reason="nlcore.cli.main not present")
    assert cli.main(["repro", "--list"]) == 0
    assert "kata-11200" in capsys.readouterr().out


def test_module_entry_point() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "nlcore.faults.repro", "kata-11200", "--layer",
                          "synthetic", "-j"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["echo_matches_issue"] is True


@pytest.mark.kernel
@pytest.mark.parametrize("layer", ["kernel", "caps"])
def test_unprivileged(layer: str) -> None:
    """As an unprivileged user: kernel-true through a user namespace; caps through a re-run
    as root of its own user namespace."""
    res = run_unprivileged("-m", "nlcore.faults.repro", "kata-11200", "--layer", layer, "-j")
    if res.returncode == 3:
        pytest.skip(f"user namespaces unavailable: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["mode"], out["reproduced"], out["echo_matches_issue"]) == \
        ("user namespace", True, True)
    assert out["errno"] == ("EACCES" if layer == "kernel" else "EPERM")
