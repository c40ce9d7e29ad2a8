/* nlcore engine batches: pre-encoded requests copied with their seq patched, the
 * acks-on-the-last-message flag pass, and the status scans of a finished window.
 *
 * Like wire.c: bounded by the caller's lengths, no allocation, no syscalls. Every walk uses
 * the three-condition check (remaining >= header, len >= header, len <= remaining) and
 * advances in one place.
 */
#include <errno.h>
#include <string.h>

#include "nlcore.h"

enum { HDR = 16, F_ACK = 0x4 };

static int msg_ok(const uint8_t *p, size_t rem, uint32_t *len)
{
	if (rem < HDR)
		return 0;
	memcpy(len, p, 4);
	return *len >= HDR && *len <= rem;
}

static size_t pad4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

long nlc_msgs_copy(uint8_t *buf, size_t cap, const uint8_t *src, size_t len, size_t max,
		   uint32_t seq, size_t *used, size_t *emitted)
{
	size_t in = 0, out = 0, k = 0;
	uint32_t n, s, pid = 0;

	*used = 0;
	*emitted = 0;
	while (in < len && k < max) {
		if (!msg_ok(src + in, len - in, &n))
			return -EBADMSG;
		if (pad4(n) > cap - out)
			break;
		memcpy(buf + out, src + in, n);
		memset(buf + out + n, 0, pad4(n) - n);
		s = seq + (uint32_t)k;
		memcpy(buf + out + 8, &s, 4);
		memcpy(buf + out + 12, &pid, 4);
		out += pad4(n);
		in += pad4(n) < len - in ? pad4(n) : len - in;
		k++;
	}
	*used = in;
	*emitted = k;
	return (long)out;
}

long nlc_msgs_acks(uint8_t *buf, size_t len)
{
	size_t pos = 0, last = len, k = 0;
	uint32_t n;
	uint16_t flags;

	while (pos < len) {
		if (!msg_ok(buf + pos, len - pos, &n))
			return -EBADMSG;
		memcpy(&flags, buf + pos + 6, 2);
		flags = (uint16_t)(flags & ~F_ACK);
		memcpy(buf + pos + 6, &flags, 2);
		last = pos;
		k++;
		pos += pad4(n);
	}
	if (last < len) {
		memcpy(&flags, buf + last + 6, 2);
		flags = (uint16_t)(flags | F_ACK);
		memcpy(buf + last + 6, &flags, 2);
	}
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
