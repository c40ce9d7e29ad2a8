/* nlcore C API: bounded byte work on caller-owned buffers.
 *
 * The part between the CDEF markers is read verbatim by nlcore/_build.py as the cffi cdef, so
 * it holds only declarations cffi understands (no #include, no macros with expressions).
 * Every codec function returns a length/count (>= 0) or a negative errno and allocates
 * nothing; the supervisor at the end is the one long-running, allocating part.
 */
#ifndef NLCORE_H
#define NLCORE_H
#include <stddef.h>
#include <stdint.h>

/* CDEF-BEGIN */
/* One RTM_NEWADDR/RTM_DELADDR request, fully resolved by the caller (96 bytes, no padding).
 * The Python struct layout nlcore.codec._pure.ADDR_REC ("=HHBBBBIIIIII16s16s16s16s") mirrors it. */
struct nlc_addr {
    uint16_t type;           /* RTM_NEWADDR (20) or RTM_DELADDR (21) */
    uint16_t nlflags;        /* nlmsg_flags */
    uint8_t  family;         /* AF_INET (2) or AF_INET6 (10) */
    uint8_t  prefixlen;      /* <= 32 / <= 128 */
    uint8_t  scope;          /* ifa_scope */
    uint8_t  proto;          /* IFA_PROTO value, with NLC_A_PROTO */
    uint32_t index;          /* ifa_index */
    uint32_t ifa_flags;      /* IFA_F_*: <= 0xff goes in the header, else an IFA_FLAGS u32 */
    uint32_t present;        /* NLC_A_* bits below */
    uint32_t priority;       /* IFA_RT_PRIORITY, with NLC_A_PRIORITY */
    uint32_t valid_lft;      /* IFA_CACHEINFO, with NLC_A_CACHEINFO */
    uint32_t preferred_lft;
    uint8_t  local[16];      /* IFA_LOCAL (first 4 bytes for AF_INET) */
    uint8_t  address[16];    /* IFA_ADDRESS when NLC_A_PEER (the peer) */
    uint8_t  broadcast[16];  /* IFA_BROADCAST */
    char     label[16];      /* IFA_LABEL, NUL-terminated within 16 bytes */
};

/* Emit records recs[0..n) as consecutive messages into buf[0..cap), message i with
 * nlmsg_seq = seq + i (mod 2^32) and nlmsg_pid = pid. Stops before the first message that
 * does not fit. Returns the bytes written and stores the number of messages in *emitted;
 * returns -EINVAL for an invalid record (unknown type, family, present bit, prefixlen out of
 * range, label without NUL, neither NLC_A_LOCAL nor NLC_A_PEER) with *emitted = its index; nothing after it is written.
 * Attribute order (iproute2's for the canonical command line `LOCAL [peer P] [broadcast B]
 * [label L] [metric M] [proto P] [flags] [lifetimes]`):
 *   ADDRESS_FIRST ? IFA_ADDRESS(peer or local), IFA_LOCAL : IFA_LOCAL, IFA_ADDRESS(peer if PEER)
 *   IFA_BROADCAST (BROADCAST and not BRD_LATE), IFA_LABEL, IFA_RT_PRIORITY, IFA_PROTO,
 *   IFA_FLAGS (ifa_flags > 0xff), IFA_ADDRESS(local) (LOCAL, not PEER, not ADDRESS_FIRST),
 *   IFA_BROADCAST (BROADCAST and BRD_LATE), IFA_CACHEINFO {preferred, valid, 0, 0}. */
long nlc_addr_emit(uint8_t *buf, size_t cap, const struct nlc_addr *recs, size_t n,
                   uint32_t seq, uint32_t pid, size_t *emitted);

/* Walk the netlink messages in buf[0..len) and store, for message i (at most cap of them):
 * seq[i], off[i] (offset of its header), tf[i] = nlmsg_type | nlmsg_flags << 16 and err[i] =
 * the error of an NLMSG_ERROR (0 for an ack) or of an NLMSG_DONE with a 4-byte payload, else 0.
 * Returns the number of messages stored; *stop = the offset after the last one stored.
 * Malformed input (a header that does not fit, nlmsg_len < 16 or past the end, an NLMSG_ERROR
 * shorter than 36 bytes, 1..15 trailing bytes) returns -EBADMSG with *stop = its offset.
 * With ext (3 per message, may be NULL): ext[3i] = offset in buf of the extack message text
 * (NLMSGERR_ATTR_MSG), ext[3i+1] = its length without the NUL, ext[3i+2] = the extack
 * NLMSGERR_ATTR_OFFS; (0, 0, UINT32_MAX) when absent. A malformed TLV ends that walk only. */
long nlc_acks_scan(const uint8_t *buf, size_t len, uint32_t *seq, int32_t *err, uint32_t *off,
                   uint32_t *tf, size_t cap, size_t *stop, uint32_t *ext);

/* Receive datagrams from netlink socket fd into buf[0..cap), back to back, without waiting
 * (recvmmsg of SLOTS slots of `room` bytes rounded up to 4; SLOTS is 64, see sock.c): stops
 * when the socket has nothing queued, after max datagrams, or when fewer than `room` bytes
 * are left. The first receive always happens: a room larger than cap is cut to cap. With
 * `names`, a datagram from a sender other than the kernel (nl_pid != 0) is dropped and
 * counted in counts[0]; without, no sender address is asked for (the caller's socket is
 * connected to the kernel, which then refuses every other unicast sender, and joined no
 * group). One cut short (MSG_TRUNC) is dropped and counted in counts[1]; ENOBUFS (the
 * kernel dropped replies; it reports that once) sets counts[2] = 1 and the drain goes on.
 * Returns the bytes stored, -EINVAL when cap < 16 or max == 0, or -errno when the first
 * receive fails and no ENOBUFS was seen (-EAGAIN: nothing queued). */
long nlc_sock_recv(int fd, uint8_t *buf, size_t cap, size_t room, size_t max, int names,
                   uint32_t *counts);

/* Match the acks in buf[0..len) to requests first_seq .. first_seq+count-1. For each
 * NLMSG_ERROR whose seq is in the window and whose status[i] is still `pending`, store its
 * error in status[i]; if the error is nonzero or the ack carries TLVs, append its offset to
 * detail[] (at most detail_cap; the walk stops before a message that would not fit).
 * counts[0] += answered, counts[1] += replies outside the window (or not NLMSG_ERROR),
 * counts[2] += duplicates, counts[3] = number of detail offsets stored.
 * Returns the offset where the walk stopped (len when done), or -EBADMSG for malformed
 * input (including an NLMSG_ERROR whose error is > 0, which no kernel sends and which would
 * read as a status) with counts[3] as above and nothing matched beyond the bad message. */
long nlc_acks_match(const uint8_t *buf, size_t len, uint32_t first_seq, int32_t *status,
                    size_t count, int32_t pending, uint32_t *detail, size_t detail_cap,
                    uint32_t *counts);

/* One request, one ack, one native call: emit rec as message seq (nlmsg_pid 0) at buf[0],
 * send it to the kernel on fd, drain the queued replies into buf[NLC_CALL_RX..cap) as
 * nlc_sock_recv does, and match them to the window {seq} as nlc_acks_match does (*status
 * starts as `pending`). out[0..2] = foreign, truncated, overrun; out[3..5] = answered,
 * outside, duplicates; out[6] = offset (from NLC_CALL_RX) of the reply to keep (a failure or
 * an ack with TLVs), or UINT32_MAX. Returns the bytes received (>= 0; *status may still be
 * `pending` if the ack was not queued yet), -EINVAL/-ENOSPC for a bad record or small buf,
 * or -errno of the failing syscall with out[7] = 1 for sendto, 2 for recvmsg. */
long nlc_addr_call(int fd, const struct nlc_addr *rec, uint32_t seq, uint8_t *buf,
                   size_t cap, int32_t *status, int32_t pending, uint32_t *out);
/* Walk the length-prefixed records in buf[start..end) (end <= len): netlink attributes when
 * hdr == 4 (struct nlattr), multipath nexthops when hdr == 8 (struct rtnexthop). For record
 * i (at most cap): out[3i] = the u16 after its length (nla_type with its flag bits, or
 * rtnh_flags | rtnh_hops << 8), out[3i+1] = its offset in buf, out[3i+2] = its length
 * (header included, padding not). Returns the number stored with *stop = the offset after
 * the last one (end when the walk is done). A record whose header does not fit, whose
 * length is below the header or past end returns -EBADMSG with *stop = its offset; a bad
 * range or hdr returns -EINVAL. Pure twin: nlcore.codec._pure_tlv.tlv_walk. */
long nlc_tlv_walk(const uint8_t *buf, size_t len, size_t start, size_t end, size_t hdr,
                  uint32_t *out, size_t cap, size_t *stop);

/* ---- engine batches (batch.c) ---- */
/* Copy the netlink messages of src[0..len) (each padded to 4 bytes; the last may be
 * unpadded) into buf[0..cap), at most max of them, message i with nlmsg_seq = seq + i and
 * nlmsg_pid = 0. Stops before the first message that does not fit. Returns the bytes
 * written; *used = the bytes of src consumed, *emitted = the messages copied; -EBADMSG
 * (with nothing reported as used) for a malformed message in src. */
long nlc_msgs_copy(uint8_t *buf, size_t cap, const uint8_t *src, size_t len, size_t max,
                   uint32_t seq, size_t *used, size_t *emitted);

/* The byte offset of each of the n netlink messages of src[0..len) in offs[0..n] (offs[n] =
 * len) and the largest nlmsg_len in *biggest, when src is exactly n whole messages back to
 * back, each nlmsg_len a multiple of 4. Returns 0, or -EINVAL for anything else (nothing
 * past the last message checked is trusted; offs may be partly written). */
long nlc_msgs_index(const uint8_t *src, size_t len, size_t n, uint64_t *offs,
                    uint32_t *biggest);

/* acks="errors": clear NLM_F_ACK on every message of buf[0..len) but the last, and set it
 * on the last. Returns the number of messages, or -EBADMSG for malformed input. */
long nlc_msgs_acks(uint8_t *buf, size_t len);

/* status[i] == from -> to for start <= i < end; returns how many changed. */
long nlc_status_fill(int32_t *status, size_t start, size_t end, int32_t from, int32_t to);

/* The indexes i < n with status[i] != ok, the first cap of them stored in idx[]; returns
 * how many there are (may exceed cap). */
long nlc_status_scan(const int32_t *status, size_t n, int32_t ok, uint32_t *idx, size_t cap);

/* Bulk input (bulk.c): n address texts "ADDR[/PLEN]" separated by '\n' in text[0..len)
 * (exactly n - 1 newlines) -> out[0..n) records. Item i takes the template tmpls[kind[i]]
 * (kind NULL: tmpls[0]; everything but family, prefixlen, local and index comes from it;
 * NLC_BULK_AUTOSCOPE in its `present` asks for the default scope: host for an IPv4 127.x
 * address, else its scope) and index[i % nindex] (nindex >= 1).
 * Validation is AddrSpec's: libc inet_pton (IPv6 when the text has a ':'), PLEN all ASCII
 * digits <= 32 / 128. Returns n, or -EINVAL with *bad = the first bad item. With marks
 * (n bytes; may be NULL) bad items do not stop the walk: marks[i] = 1 for a bad item, 0 for
 * a good one, the good records are stored back to back, *bad = the first bad item (n: none)
 * and the number of good records is returned. */
long nlc_addr_bulk(const uint8_t *text, size_t len, size_t n, const struct nlc_addr *tmpls,
                   size_t ntmpl, const uint8_t *kind, const uint32_t *index, size_t nindex,
                   uint8_t *marks, struct nlc_addr *out, size_t *bad);

/* n consecutive addresses base, base + 1, ... (base: 4 or 16 bytes, big-endian) of family
 * with prefixlen, on index[i % nindex], from tmpl as above. Returns n, -EINVAL for a bad
 * family/prefixlen/nindex, or -ERANGE with *bad = the first item past the family's end. */
long nlc_addr_bulk_range(const uint8_t *base, uint8_t family, uint8_t prefixlen, size_t n,
                         const struct nlc_addr *tmpl, const uint32_t *index, size_t nindex,
                         struct nlc_addr *out, size_t *bad);

/* One window of an `ip -batch` file, text[0..len) (lines separated by '\n'), scanned for the
 * fast form `ADDR-OBJ OP ADDR[/PLEN] dev NAME [FLAG...]` (ADDR-OBJ an abbreviation of
 * "address", OP of add/delete/replace, FLAG one of nodad optimistic home mngtmpaddr
 * noprefixroute autojoin, at most 16 words, no '#', '\\', quote, 0x1c-0x1f, NUL or
 * non-ASCII byte, not after a line with a '\\'). Each fast line whose address is valid
 * (as nlc_addr_bulk; of `family` unless 0) and whose NAME is in names[0..nnames) (16-byte
 * NUL-padded slots; its index nindex[k]) becomes out[j] from tmpls[op] (add, del, replace)
 * with its flags OR-ed in, lines[j] = its line (from 0); at most cap of them. Every other
 * non-blank line goes in slow[] (its line; | 0x80000000 when only its NAME is unknown).
 * counts = {records, slow lines, of which unknown names}. Returns the number of lines. */
long nlc_batch_scan(const uint8_t *text, size_t len, const struct nlc_addr *tmpls,
                    const char (*names)[16], const uint32_t *nindex, size_t nnames,
                    uint8_t family, struct nlc_addr *out, uint32_t *lines, size_t cap,
                    uint32_t *slow, uint32_t *counts);

/* ---- the native supervisor of `nlcore inject` (supervise.c); unlike the codec above, it
 * is a long-running loop that allocates (one buffer per pending synthetic reply). ---- */
#define NLC_SUP_NR 512           /* syscall numbers classified (kinds[nr]) */
#define NLC_SUP_NSTATS 7         /* notifications, continued, failed, delivered, errors,
                                    interrupted, dropped */

/* One `--match` rule, resolved (40 bytes). The Python twin is nlcore.faults.seccomp.rules.Rule. */
struct nlc_rule {
    uint16_t type;           /* nlmsg_type; only requests (NLM_F_REQUEST) match */
    uint8_t  has_family, family;
    uint8_t  has_index;      /* index of an address (>= 24 bytes) or link (>= 32) message */
    uint8_t  has_prefix;     /* IFA_LOCAL (else IFA_ADDRESS) of an address message in prefix */
    uint8_t  prefix_family;  /* 2 or 10 */
    uint8_t  prefix_len;
    uint32_t index;
    uint32_t first, last;    /* occurrences first..last (from 1) fire; last 0: no bound */
    int32_t  err;            /* positive errno of the synthetic reply */
    uint8_t  prefix[16];
    /* route (RTM_*ROUTE) and neighbour (RTM_*NEIGH) fields, as rules_route.py reads them:
     * dst: a route's exact prefix (dst_default: prefix length 0), a neighbour's NDA_DST
     * inside it; table: rtm_table, or RTA_TABLE when present; oif: RTA_OIF, or ndm_ifindex;
     * via: RTA_GATEWAY, or the address in RTA_VIA. A rule with any of them matches only
     * those messages. */
    uint8_t  has_dst, dst_default, dst_family, dst_len;
    uint8_t  has_table, has_oif, has_via, via_family;
    uint32_t table, oif;
    uint8_t  dst[16], via[16];
};

struct nlc_sup;

/* Message msg[0..len) against rules[0..nrules): every rule whose pattern matches counts it
 * (counts[i] += 1); returns the first rule that fires, or -1. */
long nlc_rules_decide(const struct nlc_rule *rules, size_t nrules, uint32_t *counts,
                      const uint8_t *msg, size_t len);

/* A supervisor for seccomp listener fd `listener`: notifications of architecture `arch`
 * are classified by kinds[nr] (0 other, 1 read, 2 write, 3 sendto, 4 sendmsg, 5 sendmmsg,
 * 6 recvfrom, 7 recvmsg, 8 recvmmsg, 9 writev, 10 readv, 11 refused on a route socket with
 * EOPNOTSUPP (sendfile, preadv2, pwritev2: fd in args[0]), 12 splice (args[0] or [2])); rules are copied; syscall_errno fails the send
 * syscall instead of replying; extack (NULL: none) goes in every synthetic NLMSGERR whose
 * socket enabled NETLINK_EXT_ACK. NULL when out of memory. */
struct nlc_sup *nlc_sup_new(int listener, uint32_t arch, const uint8_t *kinds,
                            const struct nlc_rule *rules, size_t nrules, int syscall_errno,
                            const char *extack);

/* killable: the listener has SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (the default: 1). With
 * 0, a send is answered first and performed only once the answer was delivered. */
void nlc_sup_set_killable(struct nlc_sup *s, int killable);

/* Answer notifications until pidfd (-1: none) becomes readable (returns 1) or every task
 * under the filter is gone (2); -errno when poll or the receive ioctl fails (-EINTR: run
 * signal handlers and call again). Never leaves a notified task waiting. */
long nlc_sup_serve(struct nlc_sup *s, int pidfd);

/* stats[0..NLC_SUP_NSTATS), counts[0..nrules) and the first error text (NUL-terminated in
 * error[0..error_cap)); returns the number of sockets with synthetic replies pending. */
long nlc_sup_report(const struct nlc_sup *s, uint64_t *stats, uint32_t *counts, size_t nrules,
                    char *error, size_t error_cap);

/* Close our duplicates of the target's sockets and free everything (NULL: nothing). */
void nlc_sup_free(struct nlc_sup *s);
/* ---- dump datagrams (dump.c) ---- */
/* Scan the netlink messages of buf[start..len), at most cap of them, into out: NLC_DUMP_COLS
 * u32 per message: offset, nlmsg_len, nlmsg_type | nlmsg_flags << 16, nlmsg_seq, nlmsg_pid,
 * then for a message of type >= 16 holding its nlmsghdr and `fixed` more bytes the count of
 * attributes after them (NLC_DUMP_BAD when one is malformed: header past the end, nla_len < 4
 * or past the message), else NLC_DUMP_SKIP; last a mask of the attribute types seen (bit t
 * for t < 31, bit 31 for the others; 0 when not walked). Returns the rows stored, *stop = the
 * offset after the last (len when done). A message header that does not fit, nlmsg_len < 16
 * or past the end returns -EBADMSG with *stop = its offset; a bad range -EINVAL.
 * Pure twin: nlcore.codec._pure_dump.dump_scan. */
#define NLC_DUMP_COLS 7
long nlc_dump_scan(const uint8_t *buf, size_t len, size_t start, size_t fixed, uint32_t *out,
                   size_t cap, size_t *stop);

/* ---- bulk routes (route_bulk.c) ---- */
/* One route request per record recs[0..n) (family, prefixlen, local as the destination,
 * index) into out[0..cap), back to back, offs[0..n] their offsets (offs[n] = the bytes
 * written): the sample of the record's family (s4[0..l4) for AF_INET, s6[0..l6) for
 * AF_INET6; a whole request with RTA_DST first and RTA_OIF last, 4-aligned, <= 128 bytes)
 * with the record's prefix length, destination and index, without RTA_OIF when the index is
 * 0. Returns the bytes written; -EAFNOSUPPORT with *bad = i when record i has no usable
 * sample (l = 0 refuses a family) or a prefix length past its address, -ENOSPC with *bad = i
 * when out is full. Pure twin: nlcore.codec._bulk_pure.route_bulk. */
long nlc_route_bulk(const struct nlc_addr *recs, size_t n, const uint8_t *s4, size_t l4,
                    const uint8_t *s6, size_t l6, uint8_t *out, size_t cap, uint64_t *offs,
                    size_t *bad);

/* ---- the engine's window loop (window.c) ---- */
/* One window of requests, sent in batches and acked, while nothing needs the caller. */
struct nlc_win {
    uint32_t first_seq;   /* nlmsg_seq of request 0 */
    uint32_t count;       /* requests in the window: status[0..count) */
    uint32_t batch;       /* requests per sendto (>= 1) */
    uint32_t window;      /* requests in flight at most (>= batch) */
    uint32_t ack_last;    /* acks="errors": only each batch's last request asks for an ack */
    uint32_t names;       /* ask for each sender's address (nlc_sock_recv's `names`) */
    uint32_t quota;       /* send at most about this many requests in this call (>= 1) */
    uint32_t pending;     /* in/out: requests not answered yet, the unsent included */
    uint32_t sent;        /* in/out: requests sent */
    uint32_t settled;     /* in/out (ack_last): first request of the oldest batch unsettled */
    uint32_t stop;        /* out: NLC_WIN_* */
    uint32_t err;         /* out: the errno of a failed sendto (NLC_WIN_SEND) */
    uint32_t rlen;        /* out (NLC_WIN_RECV): the bytes of rbuf received, not matched */
    uint32_t counts[3];   /* out (NLC_WIN_RECV): foreign, truncated, overrun, as nlc_sock_recv */
    uint32_t implicit;    /* out (ack_last): requests proven by a later ack of their batch */
};
#define NLC_WIN_DONE 0    /* every request sent and answered */
#define NLC_WIN_SEND 1    /* a sendto failed: err; nothing of that batch went out */
#define NLC_WIN_RECV 2    /* rbuf[0..rlen) holds a receive that is not all plain acks */
#define NLC_WIN_WAIT 3    /* acks are awaited and none is queued (or the receive failed) */
#define NLC_WIN_QUOTA 4   /* the quota was sent and its acks are in; call again */
#define NLC_WIN_EMIT 5    /* the next batch could not be emitted whole into sbuf */

/* Run the window w of requests from the run src[0..len) (offs NULL: len / 96 address
 * records struct nlc_addr, request i the record i; else noffs offsets into src of
 * pre-encoded messages, request i at src[offs[i]..offs[i+1])) on netlink socket fd, as
 * nlcore.ops.batches.run_window does: batches of w->batch from w->sent, emitted into
 * sbuf[0..scap) with nlmsg_seq first_seq + i (NLM_F_ACK on the last only with ack_last),
 * sent, and their acks received into rbuf[0..rcap) until at most `window - batch`
 * requests (none at the end) are unanswered. A receive of plain acks (NLMSG_ERROR 0, no
 * TLVs) of requests still `pend` sets their status to 0; with ack_last each batch whose
 * last request is answered (neither pend nor lost) has its other `pend` requests set to 0.
 * Anything else stops the loop with w->stop saying why and w->pending, w->sent, w->settled
 * true: a receive that holds anything more is left unmatched in rbuf (NLC_WIN_RECV).
 * Returns 0, or -EINVAL (nothing done) for a window that does not fit its arguments: a
 * count past nstatus or past the run, offsets that are not in order within src, a batch or
 * quota of 0, a window below batch, sent/settled/pending that contradict each other. */
long nlc_window_run(int fd, struct nlc_win *w, int32_t *status, size_t nstatus,
                    int32_t pend, int32_t lost, const uint8_t *src, size_t len,
                    const uint64_t *offs, size_t noffs, uint8_t *sbuf, size_t scap,
                    uint8_t *rbuf, size_t rcap);

/* CDEF-END */

#define NLC_DUMP_BAD  0xffffffffu  /* nlc_dump_scan: a malformed attribute */
#define NLC_DUMP_SKIP 0xfffffffeu  /* nlc_dump_scan: attributes not walked */

#define NLC_A_LOCAL          0x001u  /* emit IFA_LOCAL */
#define NLC_A_PEER           0x002u  /* IFA_ADDRESS is `address` (a peer), not a copy of local */
#define NLC_A_ADDRESS_FIRST  0x004u  /* IFA_ADDRESS before IFA_LOCAL (rtnetlink-rs, Kata) */
#define NLC_A_BROADCAST      0x008u  /* emit IFA_BROADCAST */
#define NLC_A_BRD_LATE       0x010u  /* ... after IFA_ADDRESS, as iproute2's `broadcast +` */
#define NLC_A_LABEL          0x020u
#define NLC_A_PRIORITY       0x040u
#define NLC_A_PROTO          0x080u
#define NLC_A_CACHEINFO      0x100u
#define NLC_A_ALL            0x1ffu
#define NLC_BULK_AUTOSCOPE   0x80000000u  /* template only: default scope per address */
#define NLC_CALL_RX          256u    /* where nlc_addr_call receives, after the request */

/* internal: one sendto of msg[0..len) to the kernel, EINTR retried (sock.c); 0 or -errno */
long nlc_send_kernel(int fd, const uint8_t *msg, size_t len);

#endif
