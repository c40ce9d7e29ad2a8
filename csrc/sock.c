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

#include "nlcore.h"

enum { HDR = 16, ERRLEN = 36, ACK_TLVS = 0x200, T_ERROR = 2 };

/* SLOTS 1: one recvmsg per datagram. recvmmsg (SLOTS > 1) measured no better here and
 * gave false results under `nlcore inject` (a synthetic reply lost, a request read as
 * acked): kept out until the supervisors' recvmmsg delivery is tested against it. */
enum { SLOTS = 1 };

static size_t pad4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

/* One recvmmsg into up to SLOTS slots of `room` bytes from buf + *pos; the datagrams kept
 * (from the kernel, not cut short) are moved back to back at *pos. Returns the number of
 * datagrams received or -errno. Slots never overlap what is kept: room is a multiple of 4,
 * and a kept datagram is at most room bytes. */
static long recv_many(int fd, uint8_t *buf, size_t cap, size_t *pos, size_t room, size_t max,
		      uint32_t *counts, int *more)
{
	struct sockaddr_nl sa[SLOTS];
	struct iovec iov[SLOTS];
	struct mmsghdr mm[SLOTS];
	size_t base = *pos, slots = (cap - base) / room, i;
	int r;

	slots = slots < SLOTS ? slots : SLOTS;
	slots = slots < max ? slots : max;
	if (slots == 0)
		slots = 1;
	memset(mm, 0, slots * sizeof mm[0]);
	memset(sa, 0, slots * sizeof sa[0]);  /* a sender without a name reads as pid 0 */
	for (i = 0; i < slots; i++) {
		iov[i].iov_base = buf + base + i * room;
		iov[i].iov_len = i + 1 < slots ? room : cap - base - i * room;
		mm[i].msg_hdr.msg_name = &sa[i];
		mm[i].msg_hdr.msg_namelen = sizeof sa[i];
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	do
		r = recvmmsg(fd, mm, (unsigned int)slots, MSG_DONTWAIT, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	*more = (size_t)r == slots;  /* fewer: the queue is empty (MSG_DONTWAIT stopped it) */
	for (i = 0; i < (size_t)r; i++) {
		size_t n = mm[i].msg_len;

		if (sa[i].nl_pid != 0) {
			counts[0]++;
		} else if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
			counts[1]++;
		} else {
			memmove(buf + *pos, iov[i].iov_base, n);
			*pos += pad4(n);
			if (*pos > cap)
				*pos = cap;
		}
	}
	return r;
}

long nlc_sock_recv(int fd, uint8_t *buf, size_t cap, size_t room, size_t max,
		   uint32_t *counts)
{
	size_t pos = 0, got = 0, overruns = 0;

	if (cap < HDR || max == 0)
		return -EINVAL;  /* never a 0 without a receive: a caller could spin on it */
	room = pad4(room < HDR ? HDR : room);
	if (room > (cap & ~(size_t)3u))
		room = cap & ~(size_t)3u;  /* the first receive always happens, into all of buf */
	while (got < max && cap - pos >= room) {
		int more = 0;
		long n = recv_many(fd, buf, cap, &pos, room, max - got, counts, &more);

		if (n < 0) {
			/* the kernel reports ENOBUFS once and clears it: note it, keep draining */
			if (n == -ENOBUFS && overruns++ < max) {
				counts[2] = 1;
				continue;
			}
			if (got == 0 && !counts[2])
				return n;
			break;
		}
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

static int ack_ok(const uint8_t *p, size_t rem, uint32_t *len)
{
	if (rem < HDR)
		return 0;
	memcpy(len, p, 4);
	return *len >= HDR && *len <= rem;
}

long nlc_acks_match(const uint8_t *buf, size_t len, uint32_t first_seq, int32_t *status,
		    size_t count, int32_t pending, uint32_t *detail, size_t detail_cap,
		    uint32_t *counts)
{
	size_t pos = 0;
	uint32_t n;

	counts[3] = 0;
	while (pos < len) {
		uint16_t type, flags;
		uint32_t seq, idx;
		int32_t err;

		if (!ack_ok(buf + pos, len - pos, &n))
			return -EBADMSG;
		memcpy(&type, buf + pos + 4, 2);
		memcpy(&flags, buf + pos + 6, 2);
		memcpy(&seq, buf + pos + 8, 4);
		idx = seq - first_seq;
		if (type != T_ERROR || idx >= count) {
			counts[1]++;
		} else if (n < ERRLEN || get_err(buf + pos) > 0) {
			return -EBADMSG;  /* kernels send 0 or -errno; > 0 would read as a status */
		} else if (status[idx] != pending) {
			counts[2]++;
		} else {
			err = get_err(buf + pos);
			if (err != 0 || (flags & ACK_TLVS)) {
				if (counts[3] >= detail_cap)
					return (long)pos;
				detail[counts[3]++] = (uint32_t)pos;
			}
			status[idx] = err;
			counts[0]++;
		}
		pos += ((size_t)n + 3u) & ~(size_t)3u;
	}
	return (long)(len < pos ? len : pos);
}

static long send_kernel(int fd, const uint8_t *msg, size_t len)
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

long nlc_addr_call(int fd, const struct nlc_addr *rec, uint32_t seq, uint8_t *buf,
		   size_t cap, int32_t *status, int32_t pending, uint32_t *out)
{
	size_t emitted = 0;
	uint32_t detail = UINT32_MAX, mc[4];
	long n, got, stop;

	memset(out, 0, 8 * sizeof *out);
	out[6] = UINT32_MAX;
	if (cap < NLC_CALL_RX + 4096u)
		return -ENOSPC;
	n = nlc_addr_emit(buf, NLC_CALL_RX, rec, 1, seq, 0, &emitted);
	if (n < 0 || emitted != 1)
		return n < 0 ? n : -ENOSPC;
	if ((n = send_kernel(fd, buf, (size_t)n)) < 0) {
		out[7] = 1;
		return n;
	}
	/* one datagram at a time, so that no recvmsg is spent on an empty queue once the ack
	 * is in: the common case is exactly one recvmsg */
	for (got = 0; *status == pending && cap - NLC_CALL_RX - (size_t)got >= 4096u;) {
		uint8_t *rx = buf + NLC_CALL_RX + got;
		long r = nlc_sock_recv(fd, rx, cap - NLC_CALL_RX - (size_t)got, 1u << 12, 1, out);

		if (r < 0) {
			out[7] = r == -EAGAIN ? 0 : 2;
			return r == -EAGAIN ? got : r;
		}
		memset(mc, 0, sizeof mc);
		stop = nlc_acks_match(rx, (size_t)r, seq, status, 1, pending, &detail, 1, mc);
		if (stop < 0)
			return stop;
		out[3] += mc[0];
		out[4] += mc[1];
		out[5] += mc[2];
		if (mc[3])
			out[6] = (uint32_t)got + detail;
		got += r;
		if (r == 0 && !out[2])
			break;
	}
	return got;
}
