"""What every ``nlcore`` subcommand shares: the error classes that pick the exit status, the
global options, the connection and the one-line kernel error."""

from __future__ import annotations

import errno as E
import os
import sys
from typing import TYPE_CHECKING

from ..codec.errors import KernelError

if TYPE_CHECKING:
    from ..net.conn import Conn
    from ..ops.engine import Result


class UsageError(Exception):
    """Wrong command-line shape: exit status 2, one line and a hint (never the whole usage)."""


class UserError(Exception):
    """A value, file, device or namespace that is wrong or missing: exit status 1."""


def err_line(text: str) -> None:
    """Print one line on stderr."""
    print(text, file=sys.stderr)


class Globals:
    """The options before the object: ``-n NETNS``, ``-j``, ``-p``, ``-br``, ``-4``/``-6``,
    ``-batch FILE``."""

    def __init__(self) -> None:
        self.netns: str | None = None
        self.json = False
        self.family = 0
        self.batch: str | None = None
        self.brief = False
        self.pretty = False
        self.given: list[str] = []


def check_netns(name: str) -> str:
    """A network namespace name as ``ip -n`` takes it: no ``/``, no ``..``, no NUL."""
    if not name or "/" in name or ".." in name or "\0" in name or name == "." \
            or len(name.encode()) > 255:
        raise UserError(f"invalid network namespace name {name!r}: a name under /run/netns, "
                        f"without '/' or '..'")
    return name


def enter_netns(name: str) -> None:
    """Move this whole process into ``/run/netns/NAME`` (``nlcore -n NS inject|repro|bench``:
    the command, its threads and children run there, as after ``ip netns exec``)."""
    from ..net._nsutil import _setns
    from ..net.netns import netns_path

    path = netns_path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise UserError(f'Cannot open network namespace "{name}": {e.strerror or e}') from None
    try:
        _setns(fd, path)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- sockets
def open_conn(g: Globals) -> Conn:
    """A Conn in this namespace, or in ``/run/netns/NETNS`` for ``-n NETNS``."""
    from ..net.conn import Conn

    if g.netns is None:
        return Conn()
    try:
        return Conn(ns=g.netns)
    except OSError as e:
        raise UserError(f'Cannot open network namespace "{g.netns}": '
                        f"{e.strerror or e}") from None


def resolve(conn: Conn, name: str) -> int:
    """``dev NAME`` -> ifindex; UserError like ``ip``'s when there is no such device."""
    from ..ops.link import index_of

    try:
        return index_of(conn, name)
    except KernelError as e:
        if e.errno in (E.ENODEV, E.ENOENT):
            raise UserError(f'Cannot find device "{name}"') from None
        raise


def kernel_line(e: KernelError) -> str:
    """``RTNETLINK answers: Permission denied (EACCES): ipv6: IPv6 is disabled on this
    device (at IFA_LOCAL); <hint>`` — iproute2's words plus errno name, extack and hint."""
    text = f"RTNETLINK answers: {e.strerror} ({e.errno_name})"
    if e.msg:
        text += f": {e.msg}"
    if e.attr:
        text += f" (at {e.attr})"
    elif e.offset is not None:
        text += f" (at offset {e.offset})"
    return text + (f"; {e.hint}" if e.hint else "")


def result_line(r: Result) -> str:
    """The one-line reason a Result is not ok."""
    if isinstance(r.error, KernelError):
        return kernel_line(r.error)
    if r.error is not None:  # an AckLostError: the kernel's answer never came
        return f"{r.status}: {r.error}"
    return f"{r.status}: {r.reason or 'no reason given'}"
