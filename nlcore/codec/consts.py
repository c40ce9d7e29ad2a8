"""Kernel constants, each group citing the uapi header it comes from.

Only numbers live here; the names tables at the bottom map numbers back to the
kernel's spelling for printing and JSON.
"""

from __future__ import annotations

import struct

# --- include/uapi/linux/netlink.h -------------------------------------------
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_LIST_MEMBERSHIPS = 9
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_ECHO = 0x08
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP_FILTERED = 0x20
# modifiers to GET requests
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_ATOMIC = 0x400
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
# modifiers to NEW requests
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
# flags for ACK messages
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLMSGERR_ATTR_UNUSED = 0
NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2
NLMSGERR_ATTR_COOKIE = 3
NLMSGERR_ATTR_POLICY = 4
NLMSGERR_ATTR_MISS_TYPE = 5
NLMSGERR_ATTR_MISS_NEST = 6

NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000
NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF

# --- include/uapi/linux/rtnetlink.h -----------------------------------------
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_GETROUTE = 26
RTM_NEWNEIGH = 28
RTM_DELNEIGH = 29
RTM_GETNEIGH = 30

RTN_UNSPEC = 0
RTN_UNICAST = 1
RTN_LOCAL = 2
RTN_BROADCAST = 3
RTN_ANYCAST = 4
RTN_MULTICAST = 5
RTN_BLACKHOLE = 6
RTN_UNREACHABLE = 7
RTN_PROHIBIT = 8
RTN_THROW = 9
RTN_NAT = 10

RTPROT_UNSPEC = 0
RTPROT_REDIRECT = 1
RTPROT_KERNEL = 2
RTPROT_BOOT = 3
RTPROT_STATIC = 4

RT_TABLE_UNSPEC = 0
RT_TABLE_DEFAULT = 253
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255

RTNH_F_DEAD = 1
RTNH_F_PERVASIVE = 2
RTNH_F_ONLINK = 4

RT_SCOPE_UNIVERSE = 0
RT_SCOPE_SITE = 200
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RT_SCOPE_NOWHERE = 255

RTEXT_FILTER_VF = 1 << 0
RTEXT_FILTER_SKIP_STATS = 1 << 3

# --- include/uapi/linux/socket.h, linux/in.h --------------------------------
AF_UNSPEC = 0
AF_INET = 2
AF_INET6 = 10

# --- include/uapi/linux/if_addr.h -------------------------------------------
IFA_UNSPEC = 0
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_ANYCAST = 5
IFA_CACHEINFO = 6
IFA_MULTICAST = 7
IFA_FLAGS = 8
IFA_RT_PRIORITY = 9
IFA_TARGET_NETNSID = 10
IFA_PROTO = 11

IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_OPTIMISTIC = 0x04
IFA_F_DADFAILED = 0x08
IFA_F_HOMEADDRESS = 0x10
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400
IFA_F_STABLE_PRIVACY = 0x800

INFINITY_LIFE_TIME = 0xFFFFFFFF

# --- include/uapi/linux/if_link.h, linux/if.h, linux/veth.h -----------------
IFLA_UNSPEC = 0
IFLA_ADDRESS = 1
IFLA_BROADCAST = 2
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_QDISC = 6
IFLA_STATS = 7
IFLA_TXQLEN = 13
IFLA_OPERSTATE = 16
IFLA_LINKMODE = 17
IFLA_LINKINFO = 18
IFLA_NET_NS_PID = 19
IFLA_IFALIAS = 20
IFLA_EXT_MASK = 29
IFLA_NET_NS_FD = 28
IFLA_PROMISCUITY = 30
IFLA_NUM_TX_QUEUES = 31
IFLA_NUM_RX_QUEUES = 32
IFLA_CARRIER = 33
IFLA_NEW_IFINDEX = 49
IFLA_MIN_MTU = 50
IFLA_MAX_MTU = 51
IFLA_ALT_IFNAME = 53

IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1

IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
IFF_MULTICAST = 0x1000
IFF_LOWER_UP = 0x10000

IFNAMSIZ = 16

# --- include/uapi/linux/neighbour.h -----------------------------------------
NUD_NONE = 0x00
NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NTF_USE = 0x01
NTF_SELF = 0x02
NTF_MASTER = 0x04
NTF_PROXY = 0x08
NTF_ROUTER = 0x80

# --- struct layouts (little/native endian, as the kernel's) -----------------
NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
NLMSGERR = struct.Struct("=i")  # error (followed by the echoed nlmsghdr / request)
NLATTR = struct.Struct("=HH")  # nla_len, nla_type
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFA_CACHEINFO_S = struct.Struct("=IIII")  # prefered, valid, cstamp, tstamp
RTGENMSG = struct.Struct("=Bxxx")
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope,
#                                       type, flags
NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type

NLMSG_HDRLEN = NLMSGHDR.size  # 16
NLA_HDRLEN = NLATTR.size  # 4
NLMSG_ALIGNTO = 4


def align4(n: int) -> int:
    """Round ``n`` up to the netlink alignment (NLMSG_ALIGN / NLA_ALIGN)."""
    return (n + 3) & ~3


# --- names, for printing ------------------------------------------------------
def _names(prefix: str, exclude: tuple[str, ...] = ()) -> dict[int, str]:
    out: dict[int, str] = {}
    for key, val in list(globals().items()):
        if key.startswith(prefix) and isinstance(val, int) and key not in exclude:
            out.setdefault(val, key)
    return out


MSG_TYPE_NAMES: dict[int, str] = {**_names("NLMSG_", ("NLMSG_HDRLEN", "NLMSG_ALIGNTO")),
                                  **_names("RTM_")}
IFA_NAMES: dict[int, str] = _names("IFA_", tuple(k for k in globals() if k.startswith("IFA_F_"))
                                   + ("IFA_CACHEINFO_S",))
IFLA_NAMES: dict[int, str] = _names("IFLA_", ("IFLA_INFO_KIND", "IFLA_INFO_DATA"))
IFA_FLAG_NAMES: dict[int, str] = {v: k for k, v in globals().items()
                                  if k.startswith("IFA_F_") and isinstance(v, int)}
EXTACK_NAMES: dict[int, str] = _names("NLMSGERR_ATTR_")
FAMILY_NAMES: dict[int, str] = {AF_UNSPEC: "unspec", AF_INET: "inet", AF_INET6: "inet6"}
SCOPE_NAMES: dict[int, str] = {RT_SCOPE_UNIVERSE: "global", RT_SCOPE_SITE: "site",
                               RT_SCOPE_LINK: "link", RT_SCOPE_HOST: "host",
                               RT_SCOPE_NOWHERE: "nowhere"}

# Header flag names; which set applies depends on the message (see wire.flag_names).
NLM_F_COMMON = {NLM_F_REQUEST: "NLM_F_REQUEST", NLM_F_MULTI: "NLM_F_MULTI",
                NLM_F_ACK: "NLM_F_ACK", NLM_F_ECHO: "NLM_F_ECHO",
                NLM_F_DUMP_INTR: "NLM_F_DUMP_INTR", NLM_F_DUMP_FILTERED: "NLM_F_DUMP_FILTERED"}
NLM_F_GET = {NLM_F_ROOT: "NLM_F_ROOT", NLM_F_MATCH: "NLM_F_MATCH", NLM_F_ATOMIC: "NLM_F_ATOMIC"}
NLM_F_NEW = {NLM_F_REPLACE: "NLM_F_REPLACE", NLM_F_EXCL: "NLM_F_EXCL",
             NLM_F_CREATE: "NLM_F_CREATE", NLM_F_APPEND: "NLM_F_APPEND"}
NLM_F_ACKFLAGS = {NLM_F_CAPPED: "NLM_F_CAPPED", NLM_F_ACK_TLVS: "NLM_F_ACK_TLVS"}

# Kernel errno names where Python's table differs (errno.errorcode[95] is ENOTSUP).
ERRNO_KERNEL_NAMES = {95: "EOPNOTSUPP"}
