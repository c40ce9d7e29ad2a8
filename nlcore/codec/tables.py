"""The attribute tables of the four rtnetlink families nlcore speaks: declarations only.

Names and numbers are the kernel's uapi ones (linux/if_addr.h, if_link.h, rtnetlink.h,
neighbour.h); kinds follow the kernel's YNL specs (Documentation/netlink/specs/rt-addr.yaml,
rt-link.yaml, rt-route.yaml, rt-neigh.yaml), which tests/test_codec_ynl.py checks them against.
A row is ``(NAME, kind[, nested set or struct])``, numbered from 1 unless it starts with its
number. Adding a family means adding its sets here, its header in :data:`HEADERS` and a spec.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import consts as C
from .attrs import AttrSet, attrset

IFA = attrset(
    "ifa", ("IFA_ADDRESS", "ip"), ("IFA_LOCAL", "ip"), ("IFA_LABEL", "string"),
    ("IFA_BROADCAST", "ip"), ("IFA_ANYCAST", "ip"),
    ("IFA_CACHEINFO", "struct", "ifa_cacheinfo"), ("IFA_MULTICAST", "ip"), ("IFA_FLAGS", "u32"),
    ("IFA_RT_PRIORITY", "u32"), ("IFA_TARGET_NETNSID", "s32"), ("IFA_PROTO", "u8"))

IFLA = attrset(
    "ifla", ("IFLA_ADDRESS", "mac"), ("IFLA_BROADCAST", "mac"), ("IFLA_IFNAME", "string"),
    ("IFLA_MTU", "u32"), ("IFLA_LINK", "u32"), ("IFLA_QDISC", "string"),
    ("IFLA_STATS", "binary"), ("IFLA_COST", "string"), ("IFLA_PRIORITY", "string"),
    ("IFLA_MASTER", "u32"), ("IFLA_WIRELESS", "string"), ("IFLA_PROTINFO", "string"),
    ("IFLA_TXQLEN", "u32"), ("IFLA_MAP", "struct", "rtnl_link_ifmap"), ("IFLA_WEIGHT", "u32"),
    ("IFLA_OPERSTATE", "u8"), ("IFLA_LINKMODE", "u8"), ("IFLA_LINKINFO", "nest", "ifla_info"),
    ("IFLA_NET_NS_PID", "u32"), ("IFLA_IFALIAS", "string"), ("IFLA_NUM_VF", "u32"),
    ("IFLA_VFINFO_LIST", "nest", "unknown"), ("IFLA_STATS64", "binary"),
    ("IFLA_VF_PORTS", "nest", "unknown"), ("IFLA_PORT_SELF", "nest", "unknown"),
    ("IFLA_AF_SPEC", "nest", "unknown"), ("IFLA_GROUP", "u32"), ("IFLA_NET_NS_FD", "u32"),
    ("IFLA_EXT_MASK", "u32"), ("IFLA_PROMISCUITY", "u32"), ("IFLA_NUM_TX_QUEUES", "u32"),
    ("IFLA_NUM_RX_QUEUES", "u32"), ("IFLA_CARRIER", "u8"), ("IFLA_PHYS_PORT_ID", "binary"),
    ("IFLA_CARRIER_CHANGES", "u32"), ("IFLA_PHYS_SWITCH_ID", "binary"),
    ("IFLA_LINK_NETNSID", "s32"), ("IFLA_PHYS_PORT_NAME", "string"),
    ("IFLA_PROTO_DOWN", "u8"), ("IFLA_GSO_MAX_SEGS", "u32"), ("IFLA_GSO_MAX_SIZE", "u32"),
    ("IFLA_PAD", "binary"), ("IFLA_XDP", "nest", "unknown"), ("IFLA_EVENT", "u32"),
    ("IFLA_NEW_NETNSID", "s32"), ("IFLA_TARGET_NETNSID", "s32"),
    ("IFLA_CARRIER_UP_COUNT", "u32"), ("IFLA_CARRIER_DOWN_COUNT", "u32"),
    ("IFLA_NEW_IFINDEX", "s32"), ("IFLA_MIN_MTU", "u32"), ("IFLA_MAX_MTU", "u32"),
    ("IFLA_PROP_LIST", "nest", "ifla"), ("IFLA_ALT_IFNAME", "string"),
    ("IFLA_PERM_ADDRESS", "mac"), ("IFLA_PROTO_DOWN_REASON", "string"),
    ("IFLA_PARENT_DEV_NAME", "string"), ("IFLA_PARENT_DEV_BUS_NAME", "string"),
    ("IFLA_GRO_MAX_SIZE", "u32"), ("IFLA_TSO_MAX_SIZE", "u32"), ("IFLA_TSO_MAX_SEGS", "u32"),
    ("IFLA_ALLMULTI", "u32"), ("IFLA_DEVLINK_PORT", "binary"),
    ("IFLA_GSO_IPV4_MAX_SIZE", "u32"), ("IFLA_GRO_IPV4_MAX_SIZE", "u32"))

IFLA_INFO = attrset(
    "ifla_info", ("IFLA_INFO_KIND", "string"), ("IFLA_INFO_DATA", "nest", "unknown"),
    ("IFLA_INFO_XSTATS", "binary"), ("IFLA_INFO_SLAVE_KIND", "string"),
    ("IFLA_INFO_SLAVE_DATA", "nest", "unknown"))

RTA = attrset(
    "rta", ("RTA_DST", "ip"), ("RTA_SRC", "ip"), ("RTA_IIF", "u32"), ("RTA_OIF", "u32"),
    ("RTA_GATEWAY", "ip"), ("RTA_PRIORITY", "u32"), ("RTA_PREFSRC", "ip"),
    ("RTA_METRICS", "nest", "rtax"), ("RTA_MULTIPATH", "multipath", "rta"),
    ("RTA_PROTOINFO", "binary"), ("RTA_FLOW", "u32"),
    ("RTA_CACHEINFO", "struct", "rta_cacheinfo"), ("RTA_SESSION", "binary"),
    ("RTA_MP_ALGO", "binary"), ("RTA_TABLE", "u32"), ("RTA_MARK", "u32"),
    ("RTA_MFC_STATS", "binary"), ("RTA_VIA", "via"), ("RTA_NEWDST", "binary"),
    ("RTA_PREF", "u8"), ("RTA_ENCAP_TYPE", "u16"), ("RTA_ENCAP", "binary"),
    ("RTA_EXPIRES", "u32"), ("RTA_PAD", "binary"), ("RTA_UID", "u32"),
    ("RTA_TTL_PROPAGATE", "u8"), ("RTA_IP_PROTO", "u8"), ("RTA_SPORT", "u16"),
    ("RTA_DPORT", "u16"), ("RTA_NH_ID", "u32"), ("RTA_FLOWLABEL", "be32"))

RTAX = attrset(
    "rtax", ("RTAX_LOCK", "u32"), ("RTAX_MTU", "u32"), ("RTAX_WINDOW", "u32"),
    ("RTAX_RTT", "u32"), ("RTAX_RTTVAR", "u32"), ("RTAX_SSTHRESH", "u32"),
    ("RTAX_CWND", "u32"), ("RTAX_ADVMSS", "u32"), ("RTAX_REORDERING", "u32"),
    ("RTAX_HOPLIMIT", "u32"), ("RTAX_INITCWND", "u32"), ("RTAX_FEATURES", "u32"),
    ("RTAX_RTO_MIN", "u32"), ("RTAX_INITRWND", "u32"), ("RTAX_QUICKACK", "u32"),
    ("RTAX_CC_ALGO", "string"), ("RTAX_FASTOPEN_NO_COOKIE", "u32"))

NDA = attrset(
    "nda", ("NDA_DST", "ip"), ("NDA_LLADDR", "mac"), ("NDA_CACHEINFO", "struct", "nda_cacheinfo"),
    ("NDA_PROBES", "u32"), ("NDA_VLAN", "u16"), ("NDA_PORT", "u16"), ("NDA_VNI", "u32"),
    ("NDA_IFINDEX", "u32"), ("NDA_MASTER", "u32"), ("NDA_LINK_NETNSID", "s32"),
    ("NDA_SRC_VNI", "u32"), ("NDA_PROTOCOL", "u8"), ("NDA_NH_ID", "u32"),
    ("NDA_FDB_EXT_ATTRS", "binary"), ("NDA_FLAGS_EXT", "u32"), ("NDA_NDM_STATE_MASK", "u16"),
    ("NDA_NDM_FLAGS_MASK", "u8"))

NLMSGERR = attrset(
    "nlmsgerr", ("NLMSGERR_ATTR_MSG", "string"), ("NLMSGERR_ATTR_OFFS", "u32"),
    ("NLMSGERR_ATTR_COOKIE", "binary"), ("NLMSGERR_ATTR_POLICY", "nest", "policy"),
    ("NLMSGERR_ATTR_MISS_TYPE", "u32"), ("NLMSGERR_ATTR_MISS_NEST", "u32"))

POLICY = attrset(
    "policy", ("NL_POLICY_TYPE_ATTR_TYPE", "u32"), ("NL_POLICY_TYPE_ATTR_MIN_VALUE_S", "binary"),
    ("NL_POLICY_TYPE_ATTR_MAX_VALUE_S", "binary"), ("NL_POLICY_TYPE_ATTR_MIN_VALUE_U", "binary"),
    ("NL_POLICY_TYPE_ATTR_MAX_VALUE_U", "binary"), ("NL_POLICY_TYPE_ATTR_MIN_LENGTH", "binary"),
    ("NL_POLICY_TYPE_ATTR_MAX_LENGTH", "binary"), ("NL_POLICY_TYPE_ATTR_POLICY_IDX", "binary"),
    ("NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE", "binary"),
    ("NL_POLICY_TYPE_ATTR_BITFIELD32_MASK", "binary"), ("NL_POLICY_TYPE_ATTR_PAD", "binary"),
    ("NL_POLICY_TYPE_ATTR_MASK", "binary"))


@dataclass(frozen=True)
class Fixed:
    """A message family's fixed header after the nlmsghdr: its layout and field names
    (``None`` for padding), with each field's offset from the message start."""

    name: str
    layout: struct.Struct
    fields: tuple[tuple[int, str], ...]  # (offset from the nlmsghdr start, field name)
    attrs: AttrSet
    types: tuple[int, ...]


def fixed(name: str, fields: tuple[tuple[str | None, str], ...], attrs: AttrSet,
          types: tuple[int, ...]) -> Fixed:
    """Build a :class:`Fixed` from ``(field name or None, struct code)`` pairs."""
    layout = struct.Struct("=" + "".join(code for _n, code in fields))
    offs = []
    pos = C.NLMSG_HDRLEN
    for fname, code in fields:
        if fname is not None:
            offs.append((pos, fname))
        pos += struct.calcsize("=" + code)
    return Fixed(name, layout, tuple(offs), attrs, types)


IFADDRMSG = fixed("ifaddrmsg", (("ifa_family", "B"), ("ifa_prefixlen", "B"), ("ifa_flags", "B"),
                                ("ifa_scope", "B"), ("ifa_index", "I")), IFA,
                  (C.RTM_NEWADDR, C.RTM_DELADDR, C.RTM_GETADDR))
IFINFOMSG = fixed("ifinfomsg", (("ifi_family", "B"), (None, "x"), ("ifi_type", "H"),
                                ("ifi_index", "i"), ("ifi_flags", "I"), ("ifi_change", "I")),
                  IFLA, (C.RTM_NEWLINK, C.RTM_DELLINK, C.RTM_GETLINK, C.RTM_SETLINK))
RTMSG = fixed("rtmsg", (("rtm_family", "B"), ("rtm_dst_len", "B"), ("rtm_src_len", "B"),
                        ("rtm_tos", "B"), ("rtm_table", "B"), ("rtm_protocol", "B"),
                        ("rtm_scope", "B"), ("rtm_type", "B"), ("rtm_flags", "I")), RTA,
              (C.RTM_NEWROUTE, C.RTM_DELROUTE, C.RTM_GETROUTE))
NDMSG = fixed("ndmsg", (("ndm_family", "B"), (None, "xxx"), ("ndm_ifindex", "i"),
                        ("ndm_state", "H"), ("ndm_flags", "B"), ("ndm_type", "B")), NDA,
              (C.RTM_NEWNEIGH, C.RTM_DELNEIGH, C.RTM_GETNEIGH))

#: nlmsg_type -> the fixed header (and so the attribute set) of that message.
HEADERS: dict[int, Fixed] = {t: f for f in (IFADDRMSG, IFINFOMSG, RTMSG, NDMSG) for t in f.types}
SETS: dict[str, AttrSet] = {s.name: s for s in (IFA, IFLA, IFLA_INFO, RTA, RTAX, NDA)}
