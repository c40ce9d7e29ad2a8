"""``nlcore replay TRACE [--match RULE ...] -- CMD``: CMD's rtnetlink requests answered from
TRACE, never sent to the kernel.

Every send on a NETLINK_ROUTE socket is read from the program's memory and answered by a
:class:`~nlcore.faults.tracematch.Matcher`; the syscall completes with the length sent and
nothing reaches the kernel (another netlink protocol's sends, and sends to a port other
than the kernel's, fail EOPNOTSUPP). Replies wait in the supervisor's queue for the socket;
every receive on the socket is answered from that queue (held while it is empty, see
:mod:`~nlcore.faults.seccomp.traced`). Readiness stays real: for each queued reply (up to
four at a time) the socket's kernel queue holds one NOOP token's ack -- the kernel acks an
NLMSG_NOOP with NLM_F_ACK for anyone, no privilege needed -- so poll, select and epoll wake
as they would for the kernel's reply; the token is consumed as its reply is delivered.
A send whose answer is interrupted by a signal is undone (the restarted send is answered
again, once).
"""

from __future__ import annotations

import argparse
import errno as _errno
import socket
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Hashable

from ...codec import consts as C
from ..trace import Trace, messages, read_trace
from ..tracematch import ACTIONS, Delivery, Exchange, Matcher, UnknownRequest
from . import mem as _mem
from . import notify as _notify
from . import pending as _pending
from .pending import MSG_DONTWAIT, MSG_PEEK
from .rules import RuleSet, parse_errno, parse_rule
from .sends import send_limit
from .taskstate import deliver, route_dup
from .traced import TracedSupervisor
from .tracedrun import err, run_traced, split_cmd
from .tracesends import read_sends

MAX_TOKENS = 4
MAX_IDLE = 256  # duplicates kept before idle ones are closed
_TOKEN_SEQ = 0x4E4C5250  # "NLRP"


@dataclass
class ReplaySock:
    """A program socket under replay: its queue of replies and our duplicate of it."""

    sock: socket.socket
    queue: deque[Delivery] = field(default_factory=deque)
    tokens: int = 0


class Replayer(TracedSupervisor):
    """Answers the program from a trace (see the module docstring)."""

    def __init__(self, listener: int, matcher: Matcher) -> None:
        super().__init__(listener)
        self.matcher = matcher
        self.socks: dict[int, ReplaySock] = {}
        self.parked: dict[int, list[Delivery]] = {}  # for sockets whose duplicate we closed
        self._tokens = 0
        self.stats.update(requests=0, replies=0, strays=0, refused=0)

    def other_netlink(self, ino: int) -> int | None:
        return ino  # its sends are refused (on_send), its receives go to the kernel

    # ------------------------------------------------------------------ sockets
    def _attach(self, ino: int, pid: int, fd: int, bind: bool) -> ReplaySock:
        st = self.socks.get(ino)
        if st is None:
            if len(self.socks) >= MAX_IDLE:
                self._forget_idle()
            st = self.socks[ino] = ReplaySock(route_dup(pid, fd))
            st.queue.extend(self.parked.pop(ino, ()))
        port = st.sock.getsockname()[0]
        if not port and bind:  # the kernel binds a socket at its first send
            st.sock.bind((0, 0))
            port = st.sock.getsockname()[0]
        self._enqueue(self.matcher.attach(ino, int(port)))
        return st

    def _forget_idle(self) -> None:
        """Close our duplicates of sockets with nothing queued (a program that opens many
        sockets in turn must not exhaust our fds); one used again is duplicated anew."""
        for ino, st in list(self.socks.items()):
            if not st.queue and not self.held.get(ino):
                st.sock.close()
                del self.socks[ino]

    def _enqueue(self, out: list[tuple[Hashable, Delivery]]) -> None:
        touched = []
        for key, d in out:
            st = self.socks.get(key)  # type: ignore[call-overload]
            if st is not None:
                st.queue.append(d)
                touched.append(st)
            else:  # a forgotten idle socket: queued at its next syscall
                self.parked.setdefault(key, []).append(d)  # type: ignore[arg-type]
        for st in touched:
            self._top_up(st)

    def _top_up(self, st: ReplaySock) -> None:
        while st.tokens < min(len(st.queue), MAX_TOKENS):
            self._tokens = (self._tokens + 1) & 0x7FFFFFFF
            st.sock.send(_pending.token(_TOKEN_SEQ, self._tokens))
            st.tokens += 1

    def _drain(self, st: ReplaySock, want_token: bool) -> None:
        """Consume one of our tokens (``want_token``) and any stray datagram before it."""
        while True:
            try:
                data = st.sock.recv(65536, MSG_PEEK | MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError:  # a socket error (a flood of host notifications): not ours
                self.stats["strays"] += 1
                continue
            tok = _pending.token_of(data)
            if tok is not None and tok[0] == _TOKEN_SEQ:
                if not want_token:
                    return
                st.sock.recv(64, MSG_DONTWAIT)
                st.tokens = max(0, st.tokens - 1)
                return
            st.sock.recv(65536, MSG_DONTWAIT)  # a real datagram: replay delivers none
            self.stats["strays"] += 1

    # ------------------------------------------------------------------ sends
    def on_send(self, n: _notify.Notif, name: str, ino: int) -> None:
        fd = n.args[0] & 0xFFFFFFFF
        if self.kinds.get(ino) != C.NETLINK_ROUTE:
            self.stats["refused"] += 1
            _notify.reply_errno(self.listener, n.id, _errno.EOPNOTSUPP)
            return
        with _mem.Mem(n.pid) as mem:
            sends = read_sends(mem, n, name)
            limit = send_limit(n.pid, fd, max(len(d or b"") for _, d in sends))
            if any(p != 0 for p, _ in sends) or any(d is None or len(d) > limit
                                                    for _, d in sends):
                self.stats["refused"] += 1  # another port: not the kernel; too long: EMSGSIZE
                bad = next(p for p, d in sends if p != 0 or d is None or len(d) > limit)
                _notify.reply_errno(self.listener, n.id,
                                    _errno.EOPNOTSUPP if bad else _errno.EMSGSIZE)
                return
            st = self._attach(ino, n.pid, fd, bind=True)
            ext = bool(st.sock.getsockopt(C.SOL_NETLINK, C.NETLINK_EXT_ACK))
            cap = bool(st.sock.getsockopt(C.SOL_NETLINK, C.NETLINK_CAP_ACK))
            if not _notify.id_valid(self.listener, n.id):
                return
            out: list[tuple[Hashable, Delivery]] = []
            used = self.matcher.journal = []
            try:
                for _port, data in sends:
                    assert data is not None
                    for off, ln in messages(data):
                        out += self.matcher.request(ino, data[off:off + ln], ext, cap)
                        self.stats["requests"] += 1
            except UnknownRequest as exc:
                self._undo(used)
                err(f"nlcore replay: {exc}")
                self.kill(str(exc))
                _notify.reply_errno(self.listener, n.id, _errno.EIO)
                return
            if name == "sendmmsg":
                mem.poke([(n.args[1] + i * _mem.MMSGHDR_SIZE + _mem.MSG_LEN_OFF,
                           _mem.U32.pack(len(d or b""))) for i, (_, d) in enumerate(sends)])
        ret = len(sends) if name == "sendmmsg" else len(sends[0][1] or b"")
        if not _notify.reply_value(self.listener, n.id, ret):
            self._undo(used)  # interrupted: the restarted send is answered again
            return
        self._enqueue(out)

    def _undo(self, used: list[Exchange]) -> None:
        for ex in used:
            ex.used = False

    # ------------------------------------------------------------------ receives
    def try_recv(self, n: _notify.Notif, name: str, flags: int, ino: int,
                 sock: socket.socket) -> bool:
        if self.kinds.get(ino) != C.NETLINK_ROUTE:
            _notify.reply_continue(self.listener, n.id)
            return True
        st = self.socks.get(ino) or self._attach(ino, n.pid, n.args[0] & 0xFFFFFFFF, False)
        if not st.queue:
            self._drain(st, want_token=False)
            return False
        if not _notify.id_valid(self.listener, n.id):
            return True
        d = st.queue[0]
        peek = bool(flags & MSG_PEEK) and name != "read"
        if isinstance(d, int):
            ret, ok_peek = -d, False
        else:
            with _mem.Mem(n.pid) as mem:
                ret, ok_peek = deliver(mem, name, n.args, flags, d), peek
        if not ok_peek:
            st.queue.popleft()
            self._drain(st, want_token=True)
        ok = (_notify.reply_errno(self.listener, n.id, -ret) if ret < 0 else
              _notify.reply_value(self.listener, n.id, ret))
        if not ok and not ok_peek:
            st.queue.appendleft(d)  # interrupted: the next receive gets it
        elif not ok_peek:
            self.stats["replies"] += 1
        self._top_up(st)
        return True

    def close(self) -> None:
        super().close()
        for st in self.socks.values():
            st.sock.close()
        self.socks.clear()


def split_action(text: str) -> tuple[str, str]:
    """``'RTM_NEWROUTE family=inet6 action=lose'`` -> (rule text, action)."""
    words, action = [], "error"
    for w in text.split():
        if w.startswith("action="):
            action = w[7:]
            if action not in ACTIONS:
                raise ValueError(f"{w!r}: action is one of {', '.join(ACTIONS)}")
        else:
            words.append(w)
    return " ".join(words), action


def matcher_for(trace: Trace, rules: list[str], errno: str | int = "EACCES",
                extack: str | None = None, action: str = "error",
                unknown: str = "error") -> Matcher:
    """A Matcher for ``trace`` with ``--match`` rules (each may end in ``action=...``)."""
    parsed, actions = [], []
    for text in rules:
        rule_text, act = split_action(text)
        parsed.append(parse_rule(rule_text))
        actions.append(act if "action=" in text else action)
    ruleset = RuleSet(parsed) if parsed else None
    return Matcher(trace, ruleset, parse_errno(errno), extack, actions, unknown)


def replay(trace: Trace, cmd: list[str], matcher: Matcher, **popen_kw: object
           ) -> tuple[int, Replayer]:
    """Run ``cmd`` answered by ``matcher``; (exit status, the supervisor)."""
    code, sup = run_traced(cmd, lambda lst: Replayer(lst, matcher), **popen_kw)  # type: ignore[arg-type]
    assert isinstance(sup, Replayer)
    return code, sup


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nlcore replay", description=(
        "Run CMD with its rtnetlink requests answered from TRACE (never sent to the kernel). "
        "Rules as nlcore inject's, plus action=error|lose|overrun."))
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("--match", action="append", default=[], metavar="RULE")
    p.add_argument("--errno", default="EACCES", help="errno of failing rules (default EACCES)")
    p.add_argument("--extack", default=None, metavar="MSG", help="extack message of failures")
    p.add_argument("--action", default="error", choices=ACTIONS,
                   help="what a firing rule does: error (NLMSGERR), lose (no reply), "
                        "overrun (the receive fails ENOBUFS)")
    p.add_argument("--unknown", default="error", choices=("error", "eopnotsupp"),
                   help="a request not in TRACE: stop the program (error) or answer "
                        "NLMSGERR EOPNOTSUPP")
    return p


def main(argv: list[str] | None = None) -> int:
    """``nlcore replay TRACE [options] -- CMD``; CMD's exit status (125: replay's own error,
    such as a request the trace does not hold)."""
    opts, cmd = split_cmd(list(sys.argv[1:] if argv is None else argv))
    p = _parser()
    args = p.parse_args(opts)
    if not cmd:
        p.error("no command given (use: nlcore replay TRACE [--match RULE] -- CMD [ARGS...])")
    try:
        trace = read_trace(args.trace)
        matcher = matcher_for(trace, args.match, args.errno, args.extack, args.action,
                              args.unknown)
    except ValueError as exc:
        p.error(str(exc))
    except OSError as exc:
        err(f"nlcore replay: {args.trace}: {exc.strerror or exc}")
        return 125
    try:
        code, sup = replay(trace, cmd, matcher)
    except OSError as exc:
        err(f"nlcore replay: {exc.strerror or exc}")
        return 125
    for text in matcher.unknowns:
        err(f"nlcore replay: answered EOPNOTSUPP: {text}")
    stats, first = sup.report()
    if stats.get("errors"):
        err(f"nlcore replay: {stats['errors']} syscall(s) failed in the supervisor; "
            f"first: {first}")
    return 125 if sup.stop_reason else code


if __name__ == "__main__":
    sys.exit(main())
