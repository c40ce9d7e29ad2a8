/* nlcore engine batches: pre-encoded requests copied with their seq patched, the
 * acks-on-the-last-message flag pass, and the status scans of a finished window.
 *
 * Like wire.c: bounded by the caller's lengths, no allocation, no syscalls. Every walk uses
 * the three-condition check (remaining >= header, len >= header, len <= remaining) and
 * advances in one place.
 */
#include <errno.h>
#include <string.h>

#include "nlbytes.h"
#include "nlcore.h"

enum { F_ACK = 0x4 };

/* Message src (n bytes) into dst, its padding zeroed, with seq s and nlmsg_pid 0. */
static void copy_msg(uint8_t *dst, const uint8_t *src, uint32_t n, uint32_t s)
{
	uint32_t pid = 0;

	memcpy(dst, src, n);
	memset(dst + n, 0, align4(n) - n);
	memcpy(dst + 8, &s, 4);
	memcpy(dst + 12, &pid, 4);
}

/* NLM_F_ACK of the message at m set (on) or cleared. */
static void set_ack(uint8_t *m, int on)
{
	uint16_t flags = get_u16(m + 6);

	flags = (uint16_t)(on ? flags | F_ACK : flags & ~F_ACK);
	memcpy(m + 6, &flags, 2);
}

long nlc_msgs_copy(uint8_t *buf, size_t cap, const uint8_t *src, size_t len, size_t max,
		   uint32_t seq, size_t *used, size_t *emitted)
{
	size_t in = 0, out = 0, k = 0;
	uint32_t n;

	*used = 0;
	*emitted = 0;
	while (in < len && k < max) {
		if (!msg_ok(src + in, len - in, &n))
			return -EBADMSG;
		if (align4(n) > cap - out)
			break;
		copy_msg(buf + out, src + in, n, seq + (uint32_t)k);
		out += align4(n);
		in += align4(n) < len - in ? align4(n) : len - in;
		k++;
	}
	*used = in;
	*emitted = k;
	return (long)out;
}

long nlc_msgs_index(const uint8_t *src, size_t len, size_t n, uint64_t *offs, uint32_t *biggest)
{
	size_t pos = 0, k = 0;
	uint32_t m, big = 0;

	*biggest = 0;
	while (k < n) {
		if (!msg_ok(src + pos, len - pos, &m) || (m & 3u))
			return -EINVAL;
		offs[k++] = pos;
		big = m > big ? m : big;
		pos += m;
	}
	if (pos != len)
		return -EINVAL;
	offs[n] = pos;
	*biggest = big;
	return 0;
}

long nlc_msgs_acks(uint8_t *buf, size_t len)
{
	size_t pos = 0, last = len, k = 0;
	uint32_t n;

	while (pos < len) {
		if (!msg_ok(buf + pos, len - pos, &n))
			return -EBADMSG;
		set_ack(buf + pos, 0);
		last = pos;
		k++;
		pos += align4(n);
	}
	if (last < len)
		set_ack(buf + last, 1);
	return (long)k;
}

long nlc_status_fill(int32_t *status, size_t start, size_t end, int32_t from, int32_t to)
{
	long done = 0;

	for (size_t i = start; i < end; i++) {
		if (status[i] == from) {
			status[i] = to;
			done++;
		}
	}
	return done;
}

long nlc_status_scan(const int32_t *status, size_t n, int32_t ok, uint32_t *idx, size_t cap)
{
	long found = 0;

	for (size_t i = 0; i < n; i++) {
		if (status[i] != ok) {
			if ((size_t)found < cap)
				idx[found] = (uint32_t)i;
			found++;
		}
	}
	return found;
}
