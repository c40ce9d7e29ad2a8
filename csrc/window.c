/* nlcore window loop: a whole window of requests sent and acked in one native call.
 *
 * nlcore.ops.batches.run_window in C for the case that needs nothing else: batches emitted
 * (address records or pre-encoded messages), each sent in one sendto, and their acks
 * received (recvmmsg, as nlc_sock_recv) and matched while every one is a plain success.
 * Anything else stops the loop and hands the state back, true to the request: a failed
 * send, an empty queue while acks are awaited (the caller waits, with its timeout and its
 * signal handlers), a receive holding anything but plain acks of pending requests (a
 * failure, an ack with TLVs, a duplicate, a reply outside the window, a foreign or cut
 * datagram, an overrun), left unmatched for the caller, so that every exceptional path
 * stays in one place: the caller's. Bounded like the rest of the codec; no allocation.
 */
#include <errno.h>
#include <string.h>

#include "nlbytes.h"
#include "nlcore.h"

enum { ERRLEN = 36, ACK_TLVS = 0x200, T_ERROR = 2, ROOM = 4096 };

struct run {
	const uint8_t *src;
	size_t len;
	const uint64_t *offs;  /* NULL: address records */
};

/* Requests a..b-1 of the run into sbuf with seq of request a: the bytes, or -1 when they
 * do not all fit (or one is invalid). */
static long emit(const struct run *r, uint8_t *sbuf, size_t scap, size_t a, size_t b,
		 uint32_t seq)
{
	size_t done = 0, used = 0;
	long n;

	if (!r->offs)
		n = nlc_addr_emit(sbuf, scap, (const struct nlc_addr *)(const void *)r->src + a,
				  b - a, seq, 0, &done);
	else
		n = nlc_msgs_copy(sbuf, scap, r->src + r->offs[a], (size_t)(r->offs[b] - r->offs[a]),
				  b - a, seq, &used, &done);
	return n < 0 || done != b - a ? -1 : n;
}

/* rbuf[0..len) as plain acks: each a whole NLMSG_ERROR of error 0 without TLVs for a sent
 * request still pend, whose status becomes 0. Returns how many when all of it was; else -1
 * with every status it set put back. */
static long plain(const uint8_t *buf, size_t len, const struct nlc_win *w, int32_t *status,
		  int32_t pend)
{
	size_t pos = 0, end;
	uint32_t n, idx;
	long k = 0;

	while (pos < len) {
		const uint8_t *m = buf + pos;

		if (!msg_ok(m, len - pos, &n) || n < ERRLEN || get_u16(m + 4) != T_ERROR ||
		    (get_u16(m + 6) & ACK_TLVS) || get_u32(m + 16) != 0)
			break;
		idx = get_u32(m + 8) - w->first_seq;
		if (idx >= w->sent || status[idx] != pend)
			break;
		status[idx] = 0;
		k++;
		pos += align4(n);
	}
	if (pos >= len)
		return k;
	end = pos;
	for (pos = 0; pos < end; pos += align4(get_u32(buf + pos)))
		status[get_u32(buf + pos + 8) - w->first_seq] = pend;
	return -1;
}

/* ack_last: every batch from the oldest unsettled whose last request is answered proves
 * its other requests still pend successful. Batches are w->batch long (the window's last
 * may be shorter): they start at multiples of it. */
static void settle(struct nlc_win *w, int32_t *status, int32_t pend, int32_t lost)
{
	while (w->settled < w->sent) {
		uint32_t end = w->sent - w->settled > w->batch ? w->settled + w->batch : w->sent;
		int32_t last = status[end - 1];
		long done;

		if (last == pend || last == lost)
			return;
		done = nlc_status_fill(status, w->settled, end - 1, pend, 0);
		w->pending -= (uint32_t)done;
		w->implicit += (uint32_t)done;
		w->settled = end;
	}
}

/* One receive of at most `most` datagrams: 0 when it was all plain acks (matched), else
 * the NLC_WIN_* stop. */
static uint32_t take(int fd, struct nlc_win *w, int32_t *status, int32_t pend, int32_t lost,
		     uint8_t *rbuf, size_t rcap, size_t most)
{
	uint32_t counts[3] = {0, 0, 0};
	long n = nlc_sock_recv(fd, rbuf, rcap, ROOM, most, (int)w->names, counts);
	long k;

	if (n < 0)
		return NLC_WIN_WAIT;  /* -EAGAIN, or a failure the caller's own receive meets */
	k = n > 0 && !counts[0] && !counts[1] && !counts[2] ?
		plain(rbuf, (size_t)n, w, status, pend) : -1;
	if (k < 0) {
		w->rlen = (uint32_t)n;
		memcpy(w->counts, counts, sizeof counts);
		return NLC_WIN_RECV;
	}
	w->pending -= (uint32_t)k;
	if (w->ack_last)
		settle(w, status, pend, lost);
	return 0;
}

static int valid(const struct nlc_win *w, size_t nstatus, const struct run *r, size_t noffs,
		 size_t scap, size_t rcap)
{
	if (!w->batch || !w->quota || w->window < w->batch || w->count > nstatus ||
	    w->sent > w->count || w->settled > w->sent || w->pending > w->count ||
	    w->pending < w->count - w->sent || w->count > (1u << 30) || !scap || rcap < 16)
		return 0;
	if (!r->offs)
		return (size_t)w->count <= r->len / sizeof(struct nlc_addr);
	if (noffs < (size_t)w->count + 1 || r->offs[w->count] > r->len)
		return 0;
	for (size_t i = 0; i < w->count; i++)
		if (r->offs[i] > r->offs[i + 1])
			return 0;
	return 1;
}

long nlc_window_run(int fd, struct nlc_win *w, int32_t *status, size_t nstatus,
		    int32_t pend, int32_t lost, const uint8_t *src, size_t len,
		    const uint64_t *offs, size_t noffs, uint8_t *sbuf, size_t scap,
		    uint8_t *rbuf, size_t rcap)
{
	const struct run r = {src, len, offs};
	uint32_t quota = w->quota;

	if (!valid(w, nstatus, &r, noffs, scap, rcap))
		return -EINVAL;
	w->err = w->rlen = w->implicit = 0;
	memset(w->counts, 0, sizeof w->counts);
	for (;;) {
		uint32_t unsent = w->count - w->sent, k;
		/* netlink is synchronous: the acks of all that was sent are queued by now; keep
		 * at most window - batch unanswered while more remain, none at the end */
		uint32_t target = unsent + (unsent ? w->window - w->batch : 0);
		long n;

		while (w->pending > target) {
			uint32_t stop = take(fd, w, status, pend, lost, rbuf, rcap,
					     w->pending - target);

			if (stop) {
				w->stop = stop;
				return 0;
			}
		}
		if (!unsent || !quota) {
			w->stop = unsent ? NLC_WIN_QUOTA : NLC_WIN_DONE;
			return 0;
		}
		k = unsent < w->batch ? unsent : w->batch;
		n = emit(&r, sbuf, scap, w->sent, (size_t)w->sent + k, w->first_seq + w->sent);
		if (n < 0) {
			w->stop = NLC_WIN_EMIT;
			return 0;
		}
		if (w->ack_last)
			nlc_msgs_acks(sbuf, (size_t)n);
		if ((n = nlc_send_kernel(fd, sbuf, (size_t)n)) < 0) {
			w->stop = NLC_WIN_SEND;
			w->err = (uint32_t)-n;
			return 0;
		}
		w->sent += k;
		quota = quota > k ? quota - k : 0;
	}
}
