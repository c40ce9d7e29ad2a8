"""Transports: the one seam between nlcore and the kernel.

:class:`NetlinkSocket` is the only code that makes netlink syscalls; the in-memory
transports (:mod:`nlcore.net.fake`) answer from Python, so tests get a real
:class:`~nlcore.net.conn.Conn` with no kernel.
A transport moves whole datagrams: ``send`` one buffer (one syscall, however many messages
it holds), ``recv`` one datagram with its sender's port id.
"""

from __future__ import annotations

import errno
import os
import select
import socket
from typing import Protocol

from ..codec import consts as C
from ..codec._backend import codec
from ..codec.errors import BufferOverrunError, SpecError, TransportError

MSG_TRUNC = getattr(socket, "MSG_TRUNC", 0x20)
MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0x40)
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32


class Transport(Protocol):
    """What :class:`~nlcore.net.conn.Conn` needs from a transport."""

    @property
    def pid(self) -> int:
        """The local port id (nl_pid) replies are addressed to."""

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` (any number of messages) in one datagram."""

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """Receive one datagram into ``buf``: ``(nbytes, sender_pid)``.

        Raises BlockingIOError when ``block`` is false and nothing is queued, TimeoutError
        when a blocking receive times out, :class:`BufferOverrunError` on ENOBUFS and
        :class:`TransportError` for a datagram larger than ``buf`` (it is lost; ``nbytes``
        of the error's detail says how large it was)."""

    def close(self) -> None:
        """Release the transport."""


class NetlinkSocket:
    """A NETLINK_ROUTE socket with strict defaults.

    ``sock`` adopts an already-open socket (e.g. one opened inside another namespace by
    :func:`nlcore.net.netns.open_socket`). Options: NETLINK_EXT_ACK, NETLINK_CAP_ACK and
    NETLINK_GET_STRICT_CHK are switched on when the kernel offers them (``features`` says
    which took); ``rcvbuf``/``sndbuf`` are set with the FORCE variants where permitted.
    """

    def __init__(self, sock: socket.socket | None = None, *, rcvbuf: int = 4 << 20,
                 sndbuf: int = 1 << 20, ext_ack: bool = True, cap_ack: bool = True,
                 strict: bool = True, timeout: float | None = 10.0) -> None:
        for what, size in (("rcvbuf", rcvbuf), ("sndbuf", sndbuf)):
            if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 1 << 30:
                raise SpecError(f"invalid {what} {size!r}: expected an integer 0..{1 << 30} "
                                f"(0: the system default)")
        if timeout is not None and (isinstance(timeout, bool) or
                                    not isinstance(timeout, (int, float)) or not timeout > 0):
            raise SpecError(f"invalid timeout {timeout!r}: expected seconds > 0 or None")
        try:
            self.sock = sock if sock is not None else socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW, C.NETLINK_ROUTE)
        except OSError as exc:
            raise TransportError("socket", exc.errno or errno.EINVAL, str(exc)) from None
        self.features: set[str] = set()
        wanted = {"ext_ack": (C.NETLINK_EXT_ACK, ext_ack), "cap_ack": (C.NETLINK_CAP_ACK, cap_ack),
                  "strict": (C.NETLINK_GET_STRICT_CHK, strict)}
        for name, (opt, on) in wanted.items():
            if on and self._setopt(C.SOL_NETLINK, opt, 1):
                self.features.add(name)
        self._set_buf(socket.SO_RCVBUF, SO_RCVBUFFORCE, rcvbuf)
        self._set_buf(socket.SO_SNDBUF, SO_SNDBUFFORCE, sndbuf)
        try:
            self.sock.bind((0, 0))
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: already bound (adopted socket)
                self.sock.close()
                raise TransportError("bind", exc.errno or errno.EINVAL, str(exc)) from None
        self._pid: int = self.sock.getsockname()[0]
        self.kernel_only = self._connect(sock is None)
        self.timeout = timeout
        # non-blocking underneath; blocking receives wait in select() with `timeout`
        self.sock.setblocking(False)
        self.truncated = 0

    def _connect(self, fresh: bool) -> bool:
        """Connect to the kernel (nl_pid 0): from then on the kernel refuses unicast from
        any other socket (ECONNREFUSED to the sender), so a reply can only be the kernel's.
        True when, besides, the socket is in no multicast group (a group member could still
        hear another process): receives then skip asking for each sender's address."""
        try:
            self.sock.connect((0, 0))
        except OSError:
            return False
        if fresh:
            return True
        try:
            groups = self.sock.getsockopt(C.SOL_NETLINK, C.NETLINK_LIST_MEMBERSHIPS, 128)
        except OSError:
            return False
        return not any(groups) and self.sock.getsockname()[1] == 0

    def _setopt(self, level: int, opt: int, value: int) -> bool:
        try:
            self.sock.setsockopt(level, opt, value)
            return True
        except OSError as exc:
            if exc.errno in (errno.ENOPROTOOPT, errno.EINVAL, errno.EOPNOTSUPP):
                return False
            raise TransportError("setsockopt", exc.errno or errno.EINVAL, str(exc)) from None

    def _set_buf(self, opt: int, force: int, size: int) -> None:
        if size <= 0:
            return
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, force, size)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, opt, size)

    @property
    def pid(self) -> int:
        """The port id the kernel assigned at bind."""
        return self._pid

    @property
    def rcvbuf(self) -> int:
        """The receive buffer size the kernel granted (it doubles what was asked)."""
        return int(self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    @property
    def sndbuf(self) -> int:
        """The send buffer size the kernel granted."""
        return int(self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self.sock.fileno()

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """One ``sendto`` to the kernel (nl_pid 0) for the whole buffer."""
        try:
            sent = self.sock.sendto(data, (0, 0))
        except OSError as exc:
            raise TransportError("send", exc.errno or errno.EIO, str(exc)) from None
        if sent != len(data):
            raise TransportError("send", errno.EMSGSIZE, f"sent {sent} of {len(data)} bytes")

    def _wait(self) -> None:
        ready, _, _ = select.select([self.sock], [], [], self.timeout)
        if not ready:
            raise TimeoutError(errno.ETIMEDOUT, f"no reply within {self.timeout} s")

    def recv(self, buf: bytearray, block: bool = True) -> tuple[int, int]:
        """One datagram into ``buf`` (MSG_TRUNC asks the kernel for its real length)."""
        while True:
            try:
                n, addr = self.sock.recvfrom_into(buf, 0, MSG_TRUNC)
                break
            except BlockingIOError:
                if not block:
                    raise
                self._wait()
            except OSError as exc:
                raise self._error(exc) from None
        if n > len(buf):
            self.truncated += 1
            cut = TransportError("recv", errno.EMSGSIZE,
                                 f"datagram of {n} bytes truncated to {len(buf)}")
            cut.size = n  # type: ignore[attr-defined]
            raise cut
        return n, addr[0]

    def recv_batch(self, buf: bytearray, block: bool = True,
                   most: int = 1 << 16) -> tuple[int, int, int, int]:
        """Every queued datagram (at most ``most``) into ``buf`` back to back, in one native
        call. A caller that knows how many replies it waits for passes that: the receive then
        stops when they are in, without one more ``recvmmsg`` to find the queue empty.

        Returns ``(nbytes, foreign, truncated, overrun)``: datagrams from other senders and
        cut-short ones are dropped and counted, never passed on.
        """
        while True:
            try:
                # slots of 4 KiB: an ack (the echoed header or request, extack) always fits;
                # a kernel reply cut short is counted, and the caller resolves its request
                out = codec.sock_recv(self.sock, buf, 1 << 12, max(1, most),
                                      not self.kernel_only)
            except BlockingIOError:
                if not block:
                    raise
                self._wait()
                continue
            except OSError as exc:
                raise self._error(exc) from None
            self.truncated += out[2]
            return out

    @staticmethod
    def _error(exc: OSError) -> TransportError:
        if exc.errno == errno.ENOBUFS:
            return BufferOverrunError()
        return TransportError("recv", exc.errno or errno.EIO, str(exc))

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> NetlinkSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fd_count() -> int:
    """Open file descriptors of this process (for leak tests)."""
    return len(os.listdir("/proc/self/fd"))
