"""What one run of a ``nlcore repro`` scenario produced (:class:`Outcome`) and its report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..codec import consts as C
from ..codec.decode import ErrorMsg, decode
from ..codec.errors import NlcoreError, errno_name
from ..codec.text import describe_request, flag_names
from .kernel import KATA_REQUEST
from .scenario import Scenario


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
                "expected_errno": (errno_name(self.expected_error) if self.expected_error
                                   else None),
                "echo_matches_issue": self.echo_matches_issue,
                "request": describe_request(self.request),
                "request_hex": self.request.hex(), "reply_hex": self.reply.hex(),
                "policies": self.policies, "notes": self.notes}


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
    want = errno_name(o.expected_error) if o.expected_error else "an ack"
    verdict = "reproduced" if o.reproduced else "NOT reproduced"
    lines.append(f"result    {verdict} (expected {want}"
                 + (f" with {o.expected_extack!r}" if o.ext_ack and o.expected_extack else "")
                 + ")")
    return "\n".join(lines)
