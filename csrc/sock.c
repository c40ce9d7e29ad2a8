/* nlcore socket fast path: drain queued netlink datagrams, match acks to a request window.
 *
 * netlink is synchronous: when sendmsg() returns, the kernel has queued every ack of the
 * batch. nlc_sock_recv takes them all in one native call (one recvmsg each, no Python in
 * between) and nlc_acks_match records them in the caller's status array, so a batch of N
 * requests costs a few Python calls, not N. Both are bounded by cap/len like wire.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/netlink.h>

#include "nlbytes.h"
#include "nlcore.h"

enum { HDR = 16, ERRLEN = 36, ACK_TLVS = 0x200, T_ERROR = 2 };

/* SLOTS 64: one recvmmsg takes up to 64 acks (a window of 256 in 4 calls, as the C limit
 * loop reads them). Measured (nlcore bench --quick, interleaved): +0.05-0.10 of the C
 * limit's rate on the rows with an ack per message. Under `nlcore inject` both supervisors
 * hand a recvmmsg of several one real datagram at a time while synthetic replies pend
 * (docs/inject.md, property 4); the inject suites pass with it. */
enum { SLOTS = 64 };

/* The recvmmsg slots: up to SLOTS (and max) of `room` bytes from buf + base, the last one
 * reaching to the end of buf. */
struct slots {
	struct sockaddr_nl sa[SLOTS];
	struct iovec iov[SLOTS];
	struct mmsghdr mm[SLOTS];
	size_t count;
};

static void slots_init(struct slots *s, uint8_t *buf, size_t cap, size_t base, size_t room,
		       size_t max, int names)
{
	size_t i, n = (cap - base) / room;

	n = n < SLOTS ? n : SLOTS;
	n = n < max ? n : max;
	s->count = n ? n : 1;
	memset(s->mm, 0, s->count * sizeof s->mm[0]);
	memset(s->sa, 0, s->count * sizeof s->sa[0]);  /* a sender without a name reads as pid 0 */
	for (i = 0; i < s->count; i++) {
		s->iov[i].iov_base = buf + base + i * room;
		s->iov[i].iov_len = i + 1 < s->count ? room : cap - base - i * room;
		if (names) {  /* each name costs the kernel a copy-out per datagram */
			s->mm[i].msg_hdr.msg_name = &s->sa[i];
			s->mm[i].msg_hdr.msg_namelen = sizeof s->sa[i];
		}
		s->mm[i].msg_hdr.msg_iov = &s->iov[i];
		s->mm[i].msg_hdr.msg_iovlen = 1;
	}
}

/* Slot i as received: counted when foreign (counts[0]) or cut short (counts[1]), else kept,
 * moved back to back at *pos. */
static void slot_keep(const struct slots *s, size_t i, uint8_t *buf, size_t cap, size_t *pos,
		      uint32_t *counts)
{
	if (s->sa[i].nl_pid != 0) {
		counts[0]++;
	} else if (s->mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
		counts[1]++;
	} else {
		memmove(buf + *pos, s->iov[i].iov_base, s->mm[i].msg_len);
		*pos += align4(s->mm[i].msg_len);
		if (*pos > cap)
			*pos = cap;
	}
}

/* One recvmmsg into the slots from buf + *pos; the datagrams kept (from the kernel, not cut
 * short) are moved back to back at *pos. Returns the number of datagrams received or -errno.
 * Slots never overlap what is kept: room is a multiple of 4, and a kept datagram is at most
 * room bytes. */
static long recv_many(int fd, uint8_t *buf, size_t cap, size_t *pos, size_t room, size_t max,
		      int names, uint32_t *counts, int *more)
{
	struct slots s;
	size_t i;
	int r;

	slots_init(&s, buf, cap, *pos, room, max, names);
	do
		r = recvmmsg(fd, s.mm, (unsigned int)s.count, MSG_DONTWAIT, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	*more = (size_t)r == s.count;  /* fewer: the queue is empty (MSG_DONTWAIT stopped it) */
	for (i = 0; i < (size_t)r; i++)
		slot_keep(&s, i, buf, cap, pos, counts);
	return r;
}

/* The slot size: room rounded up to 4, at least a header, at most all of buf (so the first
 * receive always happens). */
static size_t slot_room(size_t room, size_t cap)
{
	room = align4(room < HDR ? HDR : room);
	return room > (cap & ~(size_t)3u) ? cap & ~(size_t)3u : room;
}

long nlc_sock_recv(int fd, uint8_t *buf, size_t cap, size_t room, size_t max, int names,
		   uint32_t *counts)
{
	size_t pos = 0, got = 0, overruns = 0;

	if (cap < HDR || max == 0)
		return -EINVAL;  /* never a 0 without a receive: a caller could spin on it */
	room = slot_room(room, cap);
	while (got < max && cap - pos >= room) {
		int more = 0;
		long n = recv_many(fd, buf, cap, &pos, room, max - got, names, counts, &more);

		/* the kernel reports ENOBUFS once and clears it: note it, keep draining */
		if (n == -ENOBUFS && overruns++ < max) {
			counts[2] = 1;
			continue;
		}
		if (n < 0)
			return got == 0 && !counts[2] ? n : (long)pos;
		got += (size_t)n;
		if (!more)
			break;
	}
	return (long)pos;
}

static int32_t get_err(const uint8_t *m)
{
	int32_t e;

	memcpy(&e, m + HDR, sizeof e);
	return e;
}

/* The request window an ack buffer is matched against (see nlc_acks_match). */
struct window {
	uint32_t first_seq;
	int32_t *status;
	size_t count;
	int32_t pending;
	uint32_t *detail;
	size_t detail_cap;
	uint32_t *counts;
};

/* The ack m (at offset pos) of pending request idx: its status, and its offset in detail
 * when it failed or carries TLVs. 0 if detail is full (nothing recorded), else 1. */
static int take_ack(const struct window *w, const uint8_t *m, size_t pos, uint32_t idx)
{
	int32_t err = get_err(m);

	if (err != 0 || (get_u16(m + 6) & ACK_TLVS)) {
		if (w->counts[3] >= w->detail_cap)
			return 0;
		w->detail[w->counts[3]++] = (uint32_t)pos;
	}
	w->status[idx] = err;
	w->counts[0]++;
	return 1;
}

/* Message m (n bytes, msg_ok, at offset pos) against the window: outside it, a duplicate,
 * or an ack taken. 1 go on, 0 stop here (detail full), -EBADMSG. */
static int match_one(const struct window *w, const uint8_t *m, uint32_t n, size_t pos)
{
	uint32_t idx = get_u32(m + 8) - w->first_seq;

	if (get_u16(m + 4) != T_ERROR || idx >= w->count) {
		w->counts[1]++;
		return 1;
	}
	if (n < ERRLEN || get_err(m) > 0)
		return -EBADMSG;  /* kernels send 0 or -errno; > 0 would read as a status */
	if (w->status[idx] != w->pending) {
		w->counts[2]++;
		return 1;
	}
	return take_ack(w, m, pos, idx);
}

long nlc_acks_match(const uint8_t *buf, size_t len, uint32_t first_seq, int32_t *status,
		    size_t count, int32_t pending, uint32_t *detail, size_t detail_cap,
		    uint32_t *counts)
{
	const struct window w = {first_seq, status, count, pending, detail, detail_cap, counts};
	size_t pos = 0;
	uint32_t n;
	int r;

	counts[3] = 0;
	while (pos < len) {
		if (!msg_ok(buf + pos, len - pos, &n))
			return -EBADMSG;
		r = match_one(&w, buf + pos, n, pos);
		if (r <= 0)
			return r < 0 ? r : (long)pos;
		pos += align4(n);
	}
	return (long)(len < pos ? len : pos);
}

long nlc_send_kernel(int fd, const uint8_t *msg, size_t len)
{
	struct sockaddr_nl kernel;
	ssize_t n;

	memset(&kernel, 0, sizeof kernel);
	kernel.nl_family = AF_NETLINK;
	do
		n = sendto(fd, msg, len, 0, (const struct sockaddr *)&kernel, sizeof kernel);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EMSGSIZE;
}

/* One receive's match counts into out: answered, outside, duplicates, and the offset of the
 * ack with a detail (from rx, `got` bytes before this receive's). */
static void call_tally(uint32_t *out, const uint32_t *mc, long got, uint32_t detail)
{
	out[3] += mc[0];
	out[4] += mc[1];
	out[5] += mc[2];
	if (mc[3])
		out[6] = (uint32_t)got + detail;
}

/* The replies of a one-request call into rx[0..cap), one datagram at a time, so that no
 * recvmsg is spent on an empty queue once the ack is in: the common case is exactly one
 * recvmsg. Returns the bytes received or -errno (out[7] = 2 for a failed receive). */
static long call_recv(int fd, uint8_t *rx, size_t cap, uint32_t seq, int32_t *status,
		      int32_t pending, uint32_t *out)
{
	uint32_t detail = UINT32_MAX, mc[4];
	long got, stop;

	for (got = 0; *status == pending && cap - (size_t)got >= 4096u;) {
		long r = nlc_sock_recv(fd, rx + got, cap - (size_t)got, 1u << 12, 1, 1, out);

		if (r < 0) {
			out[7] = r == -EAGAIN ? 0 : 2;
			return r == -EAGAIN ? got : r;
		}
		memset(mc, 0, sizeof mc);
		stop = nlc_acks_match(rx + got, (size_t)r, seq, status, 1, pending, &detail, 1, mc);
		if (stop < 0)
			return stop;
		call_tally(out, mc, got, detail);
		got += r;
		if (r == 0 && !out[2])
			break;
	}
	return got;
}

long nlc_addr_call(int fd, const struct nlc_addr *rec, uint32_t seq, uint8_t *buf,
		   size_t cap, int32_t *status, int32_t pending, uint32_t *out)
{
	size_t emitted = 0;
	long n;

	memset(out, 0, 8 * sizeof *out);
	out[6] = UINT32_MAX;
	if (cap < NLC_CALL_RX + 4096u)
		return -ENOSPC;
	n = nlc_addr_emit(buf, NLC_CALL_RX, rec, 1, seq, 0, &emitted);
	if (n < 0 || emitted != 1)
		return n < 0 ? n : -ENOSPC;
	if ((n = nlc_send_kernel(fd, buf, (size_t)n)) < 0) {
		out[7] = 1;
		return n;
	}
	return call_recv(fd, buf + NLC_CALL_RX, cap - NLC_CALL_RX, seq, status, pending, out);
}
