"""A hostile netlink client for the record/replay tests (stdlib only: runs as nobody).

``python3 replay_client.py MODE``; prints one line per observation, the same under the
real kernel (recorded) and under replay. Modes: ``epoll`` (non-blocking socket, edge-
triggered epoll), ``threads`` (a blocked receiver woken by another thread's send),
``signals`` (300 request/reply rounds under a 1 kHz SIGALRM), ``timeout`` (SO_RCVTIMEO on an
empty queue), ``monitor`` (a notification on a joined group, caused by another socket), ``alarm``
(a blocked receive interrupted by a signal).
"""

from __future__ import annotations

import errno
import select
import signal
import socket
import struct
import sys
import threading

HDR = struct.Struct("=IHHII")
RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR = 16, 18, 20
NLMSG_ERROR, NLMSG_DONE = 2, 3
REQUEST, MULTI, ACK, DUMP, EXCL, CREATE = 1, 2, 4, 0x300, 0x200, 0x400


def sock() -> socket.socket:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.setsockopt(270, 11, 1)  # NETLINK_EXT_ACK
    s.bind((0, 0))
    return s


def getlink(seq: int, index: int = 1, flags: int = REQUEST | ACK) -> bytes:
    body = struct.pack("=BBHiII", 0, 0, 0, index, 0, 0)
    return HDR.pack(16 + len(body), RTM_GETLINK, flags, seq, 0) + body


def newaddr(seq: int, addr: str, plen: int, index: int) -> bytes:
    raw = socket.inet_aton(addr)
    attrs = b"".join(struct.pack("=HH", 8, t) + raw for t in (2, 1))  # IFA_LOCAL, ADDRESS
    body = struct.pack("=BBBBI", socket.AF_INET, plen, 0, 0, index) + attrs
    return HDR.pack(16 + len(body), RTM_NEWADDR, REQUEST | ACK | EXCL | CREATE, seq, 0) + body


def summary(data: bytes, port: int, base: int) -> list[str]:
    out, pos = [], 0
    while len(data) - pos >= 16:
        n, t, _f, seq, pid = HDR.unpack_from(data, pos)
        if n < 16:
            break
        what = f"type={t}"
        if t == NLMSG_ERROR:
            what += f" error={struct.unpack_from('=i', data, pos + 16)[0]}"
        out.append(f"seq+{seq - base} {what} pid={'ok' if pid == port else pid}")
        pos += (n + 3) & ~3
    return out


def until_ack(s: socket.socket, seq: int) -> list[str]:
    lines: list[str] = []
    port = s.getsockname()[0]
    while True:
        data = s.recv(65536)
        lines += summary(data, port, seq)
        if HDR.unpack_from(data, 0)[1] in (NLMSG_ERROR, NLMSG_DONE):
            return lines


def mode_epoll() -> None:
    s = sock()
    s.setblocking(False)
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLIN | select.EPOLLET)
    port = s.getsockname()[0]
    for seq in (10, 20):
        s.send(getlink(seq, flags=REQUEST | DUMP))
        done = False
        while not done:
            assert ep.poll(5), "epoll never woke"
            while True:  # edge-triggered: drain until EAGAIN
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    break
                for line in summary(data, port, seq):
                    print("epoll", line.split(" pid=")[0].split(" type=")[1], line[-6:])
                done = done or HDR.unpack_from(data, 0)[1] == NLMSG_DONE
    print("epoll done")


def mode_threads() -> None:
    s = sock()
    got: list[str] = []
    t = threading.Thread(target=lambda: got.extend(until_ack(s, 5)))
    t.start()
    t.join(0.3)  # the receiver is blocked (held) by now
    print("threads receiver still waiting:", t.is_alive())
    s.send(getlink(5))
    t.join(10)
    print("threads", got)


def mode_signals() -> None:
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    s = sock()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("=qq", 5, 0))
    seen: dict[int, int] = {}
    lost = 0
    for seq in range(1, 301):
        s.send(getlink(seq))
        try:
            for line in until_ack(s, seq):
                seen[seq] = seen.get(seq, 0) + 1
                assert line.startswith("seq+0 "), line
        except (BlockingIOError, TimeoutError):
            lost += 1
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    dup = sum(1 for c in seen.values() if c != 2)  # NEWLINK + ack each, exactly
    print(f"signals rounds=300 replies={sum(seen.values())} dup={dup} lost={lost}")


def mode_timeout() -> None:
    s = sock()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("=qq", 0, 200000))
    print("timeout", until_ack(s, 1) if s.send(getlink(1)) else "")
    try:
        s.recv(65536)
        print("timeout: got data")
    except OSError as exc:
        print("timeout", errno.errorcode.get(exc.errno or 0))


def mode_many() -> None:
    """300 sockets in turn, each asking once (and a monitor open throughout)."""
    mon = sock()
    mon.setsockopt(270, 1, 5)  # RTNLGRP_IPV4_IFADDR
    answers = 0
    for i in range(300):
        s = sock()
        s.send(getlink(i))
        answers += len(until_ack(s, i))
        s.close()
    s = sock()
    s.send(newaddr(1, "198.18.0.2", 24, 1))
    until_ack(s, 1)
    print("many sockets", answers, "notification type", HDR.unpack_from(mon.recv(65536))[1])


class Alarm(Exception):
    pass


def mode_alarm() -> None:
    """A receive blocked on an empty queue is interrupted by a signal, as in the kernel."""
    def ring(*_: object) -> None:
        raise Alarm

    signal.signal(signal.SIGALRM, ring)
    s = sock()
    print("alarm", until_ack(s, 1) if s.send(getlink(1)) else "")
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        s.recv(65536)
        print("alarm: got data")
    except Alarm:
        print("alarm: the blocked receive was interrupted by SIGALRM")
    s.send(getlink(2))  # and the socket still works
    print("alarm", until_ack(s, 2))


def mode_monitor() -> None:
    mon = sock()
    mon.setsockopt(270, 1, 5)  # NETLINK_ADD_MEMBERSHIP RTNLGRP_IPV4_IFADDR
    s = sock()
    s.send(newaddr(1, "198.18.0.1", 24, 1))
    print("monitor", until_ack(s, 1))
    data = mon.recv(65536)
    n, t, _f, seq, pid = HDR.unpack_from(data, 0)
    print("monitor note type", t, "len", n, "seq", seq - 1, "from the adder:",
          pid == s.getsockname()[0])


if __name__ == "__main__":
    {"epoll": mode_epoll, "threads": mode_threads, "signals": mode_signals,
     "timeout": mode_timeout, "monitor": mode_monitor, "alarm": mode_alarm,
     "many": mode_many}[sys.argv[1]]()
