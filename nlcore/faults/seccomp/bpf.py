"""Classic-BPF seccomp programs for the netlink syscalls, built as bytes.

Both programs check the architecture first (x86_64 and aarch64 are known; the x32 bit on
x86_64 and any other architecture get ENOSYS, so nothing slips past under another ABI),
then dispatch on the syscall number. Offsets are those of ``struct seccomp_data``
(include/uapi/linux/seccomp.h): nr at 0, arch at 4, args[i] at 16 + 8*i; on these
little-endian machines the low 32 bits of an argument come first.
"""

from __future__ import annotations

import platform
import struct
from typing import Iterable, Mapping, Sequence, Union

# include/uapi/linux/audit.h, include/uapi/linux/seccomp.h, include/uapi/linux/filter.h
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JA = 0x05
BPF_RET_K = 0x06
ENOSYS = 38
AF_NETLINK = 16

#: The syscalls a netlink client can use, per architecture (arch/x86/entry/syscalls/
#: syscall_64.tbl; include/uapi/asm-generic/unistd.h for aarch64).
SYSCALLS: dict[int, dict[str, int]] = {
    AUDIT_ARCH_X86_64: {"read": 0, "write": 1, "socket": 41, "sendto": 44, "recvfrom": 45,
                        "sendmsg": 46, "recvmsg": 47, "bind": 49, "recvmmsg": 299,
                        "sendmmsg": 307, "readv": 19, "writev": 20, "sendfile": 40,
                        "splice": 275, "preadv2": 327, "pwritev2": 328,
                        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
    AUDIT_ARCH_AARCH64: {"read": 63, "write": 64, "socket": 198, "bind": 200, "sendto": 206,
                         "recvfrom": 207, "sendmsg": 211, "recvmsg": 212, "recvmmsg": 243,
                         "sendmmsg": 269, "readv": 65, "writev": 66, "sendfile": 71,
                         "splice": 76, "preadv2": 286, "pwritev2": 287,
                         "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
}
ALL_SYSCALLS = ("sendto", "sendmsg", "sendmmsg", "write", "recvfrom", "recvmsg", "recvmmsg",
                "read", "socket", "bind")
SEND_SYSCALLS = ("sendto", "sendmsg", "sendmmsg", "write", "writev")
RECV_SYSCALLS = ("recvfrom", "recvmsg", "recvmmsg", "read", "readv")
#: notified and refused (EOPNOTSUPP) when their socket is a NETLINK_ROUTE one: no other
#: way into a route socket escapes the rules
REFUSED_SYSCALLS = ("sendfile", "splice", "preadv2", "pwritev2")
#: refused in the filter itself (ENOSYS, as a kernel without io_uring answers): an io_uring
#: send would reach the kernel without a syscall to notify
URING_SYSCALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register")
NOTIFIED_SYSCALLS = SEND_SYSCALLS + RECV_SYSCALLS + REFUSED_SYSCALLS
_MACHINES = {"x86_64": AUDIT_ARCH_X86_64, "aarch64": AUDIT_ARCH_AARCH64,
             "arm64": AUDIT_ARCH_AARCH64}

# An instruction: (code, jt, jf, k) where jt/jf may be label names resolved by assemble().
Insn = tuple[int, Union[int, str], Union[int, str], int]
Item = Union[Insn, str]  # a str alone is a label


def native_arch() -> int:
    """AUDIT_ARCH_* of this machine; OSError(ENOSYS) elsewhere."""
    arch = _MACHINES.get(platform.machine())
    if arch is None:
        raise OSError(ENOSYS, f"seccomp filters are built for x86_64 and aarch64, not "
                      f"{platform.machine()}")
    return arch


def syscall_names(arch: int | None = None) -> dict[int, str]:
    """Number -> name for ``arch`` (default: this machine)."""
    return {v: k for k, v in SYSCALLS[arch or native_arch()].items()}


def arg_low(i: int) -> int:
    """Offset of the low 32 bits of args[i] in struct seccomp_data (little endian)."""
    return 16 + 8 * i


def assemble(items: Sequence[Item]) -> bytes:
    """Pack instructions into struct sock_filter bytes, resolving label jumps (forward only)."""
    labels: dict[str, int] = {}
    pos = 0
    for it in items:
        if isinstance(it, str):
            labels[it] = pos
        else:
            pos += 1
    out, pos = [], 0
    for it in items:
        if isinstance(it, str):
            continue
        code, jt, jf, k = it
        rel = []
        for j in (jt, jf):
            off = labels[j] - pos - 1 if isinstance(j, str) else j
            if not 0 <= off <= 255:
                raise ValueError(f"jump offset {off} out of range at instruction {pos}")
            rel.append(off)
        out.append(struct.pack("=HBBI", code, rel[0], rel[1], k & 0xFFFFFFFF))
        pos += 1
    if pos > 4096:
        raise ValueError(f"BPF program of {pos} instructions exceeds BPF_MAXINSNS")
    return b"".join(out)


def _ret(action: int) -> Insn:
    return (BPF_RET_K, 0, 0, action)


def _ld(off: int) -> Insn:
    return (BPF_LD_W_ABS, 0, 0, off)


def _dispatch(handlers: Mapping[str, str], arches: Iterable[int]) -> list[Item]:
    """Arch check, then one ``jeq nr`` per syscall jumping to ``handlers[name]``."""
    arches = list(arches)
    items: list[Item] = [_ld(4)]
    for arch in arches:
        items.append((BPF_JEQ_K, f"arch_{arch:x}", 0, arch))
    items.append(_ret(SECCOMP_RET_ERRNO | ENOSYS))  # unknown architecture
    for arch in arches:
        items += [f"arch_{arch:x}", _ld(0)]
        if arch == AUDIT_ARCH_X86_64:
            items.append((BPF_JGE_K, "enosys", 0, X32_SYSCALL_BIT))
        for name, label in handlers.items():
            items.append((BPF_JEQ_K, label, 0, SYSCALLS[arch][name]))
        items.append(_ret(SECCOMP_RET_ALLOW))
    items += ["enosys", _ret(SECCOMP_RET_ERRNO | ENOSYS)]
    return items


def errno_filter(syscalls: Iterable[str], err: int, fd: int | None = None,
                 arches: Iterable[int] = (AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64)) -> bytes:
    """SECCOMP_RET_ERRNO(``err``) for ``syscalls``; with ``fd``, only when args[0] == fd
    (low 32 bits). ``socket`` has no fd argument: it fails when its domain is AF_NETLINK."""
    names = list(dict.fromkeys(syscalls))
    unknown = [n for n in names if n not in ALL_SYSCALLS]
    if unknown or not names:
        raise ValueError(f"unknown or no syscalls {unknown}: choose from {', '.join(ALL_SYSCALLS)}")
    if not 1 <= err <= 4095:
        raise ValueError(f"errno must be 1..4095, not {err}")
    handlers = {n: ("sock" if n == "socket" else "fd" if fd is not None else "deny")
                for n in names}
    items = _dispatch(handlers, arches)
    if "socket" in names:
        items += ["sock", _ld(arg_low(0)), (BPF_JEQ_K, "deny", 0, AF_NETLINK),
                  _ret(SECCOMP_RET_ALLOW)]
    if fd is not None:
        items += ["fd", _ld(arg_low(0)), (BPF_JEQ_K, "deny", 0, fd & 0xFFFFFFFF),
                  _ret(SECCOMP_RET_ALLOW)]
    items += ["deny", _ret(SECCOMP_RET_ERRNO | err)]
    return assemble(items)


def notify_filter(syscalls: Iterable[str] = NOTIFIED_SYSCALLS,
                  arches: Iterable[int] = (AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64),
                  refused: Iterable[str] = URING_SYSCALLS) -> bytes:
    """SECCOMP_RET_USER_NOTIF for ``syscalls`` and ENOSYS for ``refused``, without any
    exception (nothing the trampoline needs survives exec)."""
    handlers = {n: "notify" for n in dict.fromkeys(syscalls)}
    handlers.update({n: "enosys" for n in refused})
    items = _dispatch(handlers, arches)
    items += ["notify", _ret(SECCOMP_RET_USER_NOTIF)]
    return assemble(items)


def simulate(program: bytes, nr: int, arch: int, args: Sequence[int] = ()) -> int:
    """Run ``program`` on a ``struct seccomp_data`` the way the kernel would and return the
    action (e.g. ``SECCOMP_RET_ERRNO | 13``). Knows the instructions this module emits."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    insns = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while 0 <= pc < len(insns):
        code, jt, jf, k = insns[pc]
        if code == BPF_RET_K:
            return int(k)
        if code == BPF_LD_W_ABS:
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code in (BPF_JEQ_K, BPF_JGE_K):
            taken = acc == k if code == BPF_JEQ_K else acc >= k
            pc += 1 + (jt if taken else jf)
        elif code == BPF_JA:
            pc += 1 + k
        else:
            raise ValueError(f"instruction {code:#x} at {pc} is not one this module emits")
    raise ValueError("program ran off its end")
