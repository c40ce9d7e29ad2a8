/* c_limit: how fast can the kernel add/delete/replace interface addresses?
 *
 * The reference loop for nlcore's benchmarks, with no nlcore code: one NETLINK_ROUTE socket in
 * the current network namespace (NETLINK_EXT_ACK and NETLINK_CAP_ACK on), `count` prebuilt
 * RTM_NEWADDR/RTM_DELADDR requests (NLM_F_REQUEST|NLM_F_ACK; add: |CREATE|EXCL, replace:
 * |CREATE|REPLACE), `batch` of them per sendmsg (one iovec), then every ack of that batch is
 * read (recvmmsg) before the next. Only that send/ack loop is timed (CLOCK_MONOTONIC).
 *
 *   c_limit --op add|del|replace --family 4|6 --ifindex N[,N...] --count N --batch B
 *           [--base ADDR] [--spread K] [--same64] [--acks all|errors] [--object addr|route]
 *           [--print]
 *
 * --print writes the prebuilt requests as hex, one per line, and sends nothing (the tests
 * compare them with nlcore's own encoding of the same items).
 * --acks errors sets NLM_F_ACK only on the last request of each batch (the kernel still
 * answers every failure with an NLMSG_ERROR, in order); the loop then reads until that last
 * ack. --object route sends RTM_NEWROUTE/RTM_DELROUTE for the same prefixes instead, as
 * `ip route add|del|replace PREFIX dev NAME` does and nlcore's RouteSpec encodes (table main,
 * proto boot, type unicast, scope link (IPv4) or universe (IPv6) for add/replace; proto 0,
 * type 0, scope nowhere (IPv4) or universe (IPv6) for del; RTA_DST, RTA_OIF): IPv4 /32s and
 * IPv6 /128s at the same addresses as the address loop's.
 *
 * Addresses: IPv4 /32s counting up from --base (default 198.18.0.1), kept inside
 * 198.18.0.0/15; IPv6 /64s with IFA_F_NODAD, 2001:db8:X::1 for X counting up from --base's
 * third group (default 2001:db8::1), or with --same64 all in --base's /64 (low 64 bits counting
 * up); kept inside 2001:db8::/32. Each request carries IFA_LOCAL and IFA_ADDRESS (equal).
 * Request i goes to ifindex list[i % len]; --spread K makes the list N, N+1, ..., N+K-1.
 *
 * Output, one JSON line: {"op","family","n","batch","acks","object","seconds","cpu_seconds",
 * "cpu_clock","per_s","errors":{"errno":count}}; cpu_seconds is the on-CPU time of the timed
 * loop, from perf's task-clock (cpu_clock "task-clock") or, where perf events are refused,
 * getrusage's user+sys ("rusage").
 * Acks that never came (the receive queue overflowed) count under ENOBUFS. Exit 0 when the loop
 * ran (even with errors), 1 on a setup failure, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT   (1u << 20)
#define MAX_BATCH   4096u
#define MAX_IFS     256u
#define MAX_ERRNO   4096
#define MSG_MAX     64u     /* nlmsghdr 16 + ifaddrmsg 8 + 2 * (4 + 16); routes: 60 */
#define ACK_BUF     8192u   /* one ack datagram (capped, plus extack TLVs) */

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

struct opts {
    int op;                    /* RTM_NEWADDR or RTM_DELADDR */
    uint16_t nlflags;
    const char *opname;
    int family;                /* AF_INET or AF_INET6 */
    uint32_t ifs[MAX_IFS];
    size_t nifs;
    uint32_t count, batch, spread;
    int same64;
    int print;                 /* --print: write the requests as hex lines, send nothing */
    int elide;                 /* --acks errors: NLM_F_ACK on the last of each batch only */
    int route;                 /* --object route */
    uint8_t base[16];
};

static unsigned long errors[MAX_ERRNO + 1];

static int usage(const char *why)
{
    fprintf(stderr, "c_limit: %s\nusage: c_limit --op add|del|replace --family 4|6 "
            "--ifindex N[,N...] --count N --batch B [--base ADDR] [--spread K] [--same64] "
            "[--acks all|errors] [--object addr|route] [--print]\n",
            why);
    return 2;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_ifs(const char *s, struct opts *o)
{
    char buf[4096], *tok, *save = NULL;

    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->nifs >= MAX_IFS || parse_u32(tok, 1, INT32_MAX, &o->ifs[o->nifs]))
            return -1;
        o->nifs++;
    }
    return o->nifs ? 0 : -1;
}

/* Address i into out[0..alen): base plus i in the counting field; -1 if it leaves the range. */
static int nth_addr(const struct opts *o, uint32_t i, uint8_t *out)
{
    uint32_t v;
    uint64_t lo;

    memcpy(out, o->base, 16);
    if (o->family == AF_INET) {
        v = ((uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 | (uint32_t)out[2] << 8 | out[3]);
        if (v + (uint64_t)i > 0xc613ffffu)          /* last of 198.18.0.0/15 */
            return -1;
        v += i;
        out[0] = (uint8_t)(v >> 24); out[1] = (uint8_t)(v >> 16);
        out[2] = (uint8_t)(v >> 8); out[3] = (uint8_t)v;
        return 0;
    }
    if (o->same64) {
        lo = 0;
        for (int k = 8; k < 16; k++)
            lo = lo << 8 | out[k];
        if (lo + i < lo)
            return -1;
        lo += i;
        for (int k = 15; k >= 8; k--, lo >>= 8)
            out[k] = (uint8_t)lo;
        return 0;
    }
    v = ((uint32_t)out[4] << 8 | out[5]) + i;
    if (v > 0xffffu)
        return -1;
    out[4] = (uint8_t)(v >> 8); out[5] = (uint8_t)v;
    return 0;
}

static int base_ok(const struct opts *o)
{
    static const uint8_t db8[4] = {0x20, 0x01, 0x0d, 0xb8};

    if (o->family == AF_INET)    /* 198.18.0.0/15 */
        return o->base[0] == 198 && (o->base[1] & 0xfe) == 18;
    return memcmp(o->base, db8, 4) == 0;
}

static void put_attr(uint8_t *p, uint16_t type, const uint8_t *data, uint16_t len)
{
    struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type };

    memcpy(p, &a, sizeof(a));
    memcpy(p + NLA_HDRLEN, data, len);
}

/* The flags of request i: NLM_F_ACK dropped inside a batch with --acks errors. */
static uint16_t flags_of(const struct opts *o, uint32_t i)
{
    int last = (i + 1) % o->batch == 0 || i + 1 == o->count;

    return (uint16_t)(o->elide && !last ? o->nlflags & ~NLM_F_ACK : o->nlflags);
}

/* Route request i (RTA_DST, RTA_OIF) at buf; returns its length or 0 if out of range. */
static size_t build_route(const struct opts *o, uint32_t i, uint8_t *buf)
{
    uint16_t alen = o->family == AF_INET ? 4 : 16;
    size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct rtmsg)) + NLA_ALIGN(NLA_HDRLEN + alen)
                 + NLA_ALIGN(NLA_HDRLEN + 4);
    struct nlmsghdr h = { .nlmsg_len = (uint32_t)len, .nlmsg_type = (uint16_t)o->op,
                          .nlmsg_flags = flags_of(o, i), .nlmsg_seq = i + 1 };
    int del = o->op == RTM_DELROUTE;
    struct rtmsg r = {
        .rtm_family = (uint8_t)o->family, .rtm_dst_len = (uint8_t)(alen * 8),
        .rtm_table = RT_TABLE_MAIN, .rtm_protocol = del ? 0 : RTPROT_BOOT,
        /* as iproute2 (and RouteSpec): IPv6 is always universe; IPv4 del nowhere */
        .rtm_scope = o->family == AF_INET6 ? RT_SCOPE_UNIVERSE
                     : del ? RT_SCOPE_NOWHERE : RT_SCOPE_LINK,
        .rtm_type = del ? 0 : RTN_UNICAST,
    };
    uint8_t addr[16];
    uint32_t oif = o->ifs[i % o->nifs];
    uint8_t *p = buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(r));

    if (len > MSG_MAX || nth_addr(o, i, addr))
        return 0;
    memset(buf, 0, len);
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + NLMSG_HDRLEN, &r, sizeof(r));
    put_attr(p, RTA_DST, addr, alen);
    put_attr(p + NLA_ALIGN(NLA_HDRLEN + alen), RTA_OIF, (const uint8_t *)&oif, 4);
    return len;
}

/* Request i at buf (MSG_MAX bytes available); returns its length or 0 if out of range. */
static size_t build_one(const struct opts *o, uint32_t i, uint8_t *buf)
{
    uint16_t alen = o->family == AF_INET ? 4 : 16;
    size_t attr = NLA_ALIGN(NLA_HDRLEN + alen);
    size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifaddrmsg)) + 2 * attr;
    struct nlmsghdr h = { .nlmsg_len = (uint32_t)len, .nlmsg_type = (uint16_t)o->op,
                          .nlmsg_flags = flags_of(o, i), .nlmsg_seq = i + 1 };
    struct ifaddrmsg ifa = {
        .ifa_family = (uint8_t)o->family,
        .ifa_prefixlen = (uint8_t)(o->family == AF_INET ? 32 : 64),
        .ifa_flags = (uint8_t)(o->family == AF_INET6 ? IFA_F_NODAD : 0),
        .ifa_index = o->ifs[i % o->nifs],
    };
    uint8_t addr[16];
    uint8_t *p = buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifa));

    if (o->route)
        return build_route(o, i, buf);
    if (len > MSG_MAX || nth_addr(o, i, addr))
        return 0;
    memset(buf, 0, len);
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + NLMSG_HDRLEN, &ifa, sizeof(ifa));
    put_attr(p, IFA_LOCAL, addr, alen);
    put_attr(p + attr, IFA_ADDRESS, addr, alen);
    return len;
}

static void count_error(int err)
{
    errors[err > 0 && err <= MAX_ERRNO ? err : 0]++;
}

static void grow_buffers(int fd, uint32_t batch)
{
    int snd = (int)(batch * MSG_MAX + 65536), rcv = (int)(batch * 2048u + 65536);

    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

static int open_socket(uint32_t batch)
{
    int one = 1, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

    if (fd < 0) {
        perror("c_limit: socket");
        return -1;
    }
    if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) ||
        setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        perror("c_limit: setsockopt/bind");
        close(fd);
        return -1;
    }
    grow_buffers(fd, batch);
    return fd;
}

/* Account for every message in one received datagram; returns the acks it held. */
static uint32_t scan_acks(const uint8_t *buf, size_t len, uint32_t first, uint32_t n,
                          uint8_t *seen)
{
    uint32_t acks = 0;
    size_t off = 0;

    while (len - off >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        struct nlmsgerr e;

        memcpy(&h, buf + off, sizeof(h));
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off)
            break;
        if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= NLMSG_HDRLEN + sizeof(e) &&
            h.nlmsg_seq - first < n && !seen[h.nlmsg_seq - first]) {
            memcpy(&e, buf + off + NLMSG_HDRLEN, sizeof(e));
            seen[h.nlmsg_seq - first] = 1;
            if (e.error)
                count_error(-e.error);
            acks++;
        }
        off += NLMSG_ALIGN(h.nlmsg_len);
        if (off > len)
            break;
    }
    return acks;
}

static uint8_t ackbufs[64][ACK_BUF];

/* Read until all n acks of seqs first..first+n-1 are in; the missing ones count as ENOBUFS. */
static void read_acks(int fd, uint32_t first, uint32_t n, uint8_t *seen, int elide)
{
    struct mmsghdr mm[64];
    struct iovec iov[64];
    uint32_t got = 0;

    memset(seen, 0, n);
    while (elide ? !seen[n - 1] : got < n) {
        unsigned int want = n - got < 64 ? n - got : 64;
        int r;

        for (unsigned int k = 0; k < want; k++) {
            iov[k] = (struct iovec){ .iov_base = ackbufs[k], .iov_len = ACK_BUF };
            mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[k], .msg_iovlen = 1 } };
        }
        r = recvmmsg(fd, mm, want, MSG_WAITFORONE, NULL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {    /* ENOBUFS: acks were dropped; take what is queued, give up the rest */
            int err = errno;
            while ((r = recvmmsg(fd, mm, want, MSG_DONTWAIT, NULL)) > 0)
                for (int k = 0; k < r; k++)
                    got += scan_acks(ackbufs[k], mm[k].msg_len, first, n, seen);
            if (elide && !seen[n - 1])
                count_error(err);   /* the final ack was lost: outcome unknown */
            for (; !elide && got < n; got++)
                count_error(err);
            return;
        }
        for (int k = 0; k < r; k++)
            got += scan_acks(ackbufs[k], mm[k].msg_len, first, n, seen);
    }
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    const char *base = NULL;
    uint32_t fam = 0;
    int have_count = 0, have_batch = 0;

    memset(o, 0, sizeof(*o));
    o->spread = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;

        if (!strcmp(a, "--same64") || !strcmp(a, "--print")) {
            *(a[2] == 's' ? &o->same64 : &o->print) = 1;
            continue;
        }
        if (!v)
            return usage("option without a value");
        i++;
        if (!strcmp(a, "--op"))
            o->opname = v;
        else if (!strcmp(a, "--acks"))
            bad = strcmp(v, "errors") ? strcmp(v, "all") != 0 : !(o->elide = 1);
        else if (!strcmp(a, "--object"))
            bad = strcmp(v, "route") ? strcmp(v, "addr") != 0 : !(o->route = 1);
        else if (!strcmp(a, "--family"))
            bad = parse_u32(v, 4, 6, &fam) || (fam != 4 && fam != 6);
        else if (!strcmp(a, "--ifindex"))
            bad = parse_ifs(v, o);
        else if (!strcmp(a, "--count"))
            bad = parse_u32(v, 1, MAX_COUNT, &o->count) || !(have_count = 1);
        else if (!strcmp(a, "--batch"))
            bad = parse_u32(v, 1, MAX_BATCH, &o->batch) || !(have_batch = 1);
        else if (!strcmp(a, "--spread"))
            bad = parse_u32(v, 1, MAX_IFS, &o->spread);
        else if (!strcmp(a, "--base"))
            base = v;
        else
            return usage("unknown option");
        if (bad)
            return usage("bad value");
    }
    if (!o->opname || !fam || !o->nifs || !have_count || !have_batch)
        return usage("--op, --family, --ifindex, --count and --batch are required");
    if (!strcmp(o->opname, "add")) {
        o->op = RTM_NEWADDR;
        o->nlflags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    } else if (!strcmp(o->opname, "replace")) {
        o->op = RTM_NEWADDR;
        o->nlflags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    } else if (!strcmp(o->opname, "del")) {
        o->op = RTM_DELADDR;
        o->nlflags = NLM_F_REQUEST | NLM_F_ACK;
    } else {
        return usage("--op must be add, del or replace");
    }
    if (o->route) {
        o->op = o->op == RTM_NEWADDR ? RTM_NEWROUTE : RTM_DELROUTE;
        if (o->op == RTM_DELROUTE)
            o->nlflags = NLM_F_REQUEST | NLM_F_ACK;
    }
    o->family = fam == 4 ? AF_INET : AF_INET6;
    if (o->spread > 1) {
        if (o->nifs != 1 || (uint64_t)o->ifs[0] + o->spread - 1 > INT32_MAX)
            return usage("--spread needs one --ifindex and stays below 2^31");
        for (uint32_t k = 1; k < o->spread; k++)
            o->ifs[k] = o->ifs[0] + k;
        o->nifs = o->spread;
    }
    if (!base)
        base = o->family == AF_INET ? "198.18.0.1" : "2001:db8::1";
    if (inet_pton(o->family, base, o->base) != 1 || !base_ok(o))
        return usage("--base must be in 198.18.0.0/15 (IPv4) or 2001:db8::/32 (IPv6)");
    return 0;
}

/* On-CPU time: a perf task-clock event on this process where the kernel allows it (getrusage
 * undercounts netlink work on VMs: nlcore/bench/cpuclock.py), else getrusage. */
static int cpu_fd = -1;

static void cpu_open(void)
{
    struct perf_event_attr a;

    memset(&a, 0, sizeof(a));
    a.type = PERF_TYPE_SOFTWARE;
    a.size = sizeof(a);
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    cpu_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static double cpu_now(void)
{
    struct rusage ru;
    uint64_t ns;

    if (cpu_fd >= 0 && read(cpu_fd, &ns, sizeof(ns)) == (ssize_t)sizeof(ns))
        return (double)ns / 1e9;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void print_result(const struct opts *o, double secs, double cpu)
{
    int first = 1;

    printf("{\"op\": \"%s\", \"family\": %d, \"n\": %u, \"batch\": %u, \"acks\": \"%s\", "
           "\"object\": \"%s\", \"seconds\": %.9f, \"cpu_seconds\": %.6f, "
           "\"cpu_clock\": \"%s\", \"per_s\": %.1f, \"errors\": {",
           o->opname, o->family == AF_INET ? 4 : 6, o->count, o->batch,
           o->elide ? "errors" : "all", o->route ? "route" : "addr", secs, cpu,
           cpu_fd >= 0 ? "task-clock" : "rusage", secs > 0 ? o->count / secs : 0.0);
    for (int e = 0; e <= MAX_ERRNO; e++) {
        if (!errors[e])
            continue;
        printf("%s\"%d\": %lu", first ? "" : ", ", e, errors[e]);
        first = 0;
    }
    printf("}}\n");
}

/* --print: one request per line in hex (seq i + 1, pid 0, flags as they would be sent). */
static int print_msgs(const uint8_t *msgs, const size_t *offs, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len;

        memcpy(&len, msgs + offs[i], sizeof(len));
        for (uint32_t k = 0; k < len; k++)
            printf("%02x", msgs[offs[i] + k]);
        putchar('\n');
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct timespec t0, t1;
    double cpu0, cpu1;
    uint8_t *msgs, *seen;
    size_t *offs;
    int fd, rc = parse_args(argc, argv, &o);

    if (rc)
        return rc;
    msgs = malloc((size_t)o.count * MSG_MAX);
    offs = malloc(((size_t)o.count + 1) * sizeof(*offs));
    seen = malloc(o.batch);
    if (!msgs || !offs || !seen)
        return fprintf(stderr, "c_limit: out of memory\n"), 1;
    offs[0] = 0;
    for (uint32_t i = 0; i < o.count; i++) {
        size_t len = build_one(&o, i, msgs + offs[i]);

        if (!len)
            return usage("addresses would leave 198.18.0.0/15 or 2001:db8::/32");
        offs[i + 1] = offs[i] + NLMSG_ALIGN(len);
    }
    if (o.print)
        return print_msgs(msgs, offs, o.count);
    fd = open_socket(o.batch);
    if (fd < 0)
        return 1;
    cpu_open();
    cpu0 = cpu_now();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t i = 0; i < o.count; i += o.batch) {
        uint32_t n = o.count - i < o.batch ? o.count - i : o.batch;
        struct sockaddr_nl to = { .nl_family = AF_NETLINK };
        struct iovec iov = { .iov_base = msgs + offs[i], .iov_len = offs[i + n] - offs[i] };
        struct msghdr mh = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
                             .msg_iovlen = 1 };
        ssize_t sent;

        do
            sent = sendmsg(fd, &mh, 0);
        while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            for (uint32_t k = 0; k < n; k++)
                count_error(errno);
            continue;
        }
        read_acks(fd, i + 1, n, seen, o.elide);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cpu1 = cpu_now();
    print_result(&o, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                 cpu1 - cpu0);
    close(fd);
    free(msgs);
    free(offs);
    free(seen);
    return 0;
}
