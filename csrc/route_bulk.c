/* Bulk route input: one route message per parsed destination, stamped from a sample.
 *
 * The sample is a whole route request of one family as nlcore's RouteSpec encodes it for the
 * shared fields (nlmsghdr, rtmsg, RTA_DST, the shared attributes, RTA_OIF last); item i gets
 * the sample with its own prefix length, destination and interface index (no RTA_OIF when
 * the index is 0, as RouteSpec leaves it out). Like wire.c: bounded by the caller's lengths,
 * no allocation, no syscalls.
 */
#include <errno.h>
#include <string.h>

#include "nlbytes.h"
#include "nlcore.h"

enum { HDR = 16, RTMSG = 12, DST_LEN = HDR + 1, DST_ATTR = HDR + RTMSG, OIF = 8,
       SAMPLE_MAX = 128 };

static size_t alen_of(uint8_t family)
{
	return family == 2 ? 4u : family == 10 ? 16u : 0u;
}

/* Is s[0..len) a usable sample for `family`: aligned, within SAMPLE_MAX, its header length
 * and family right, RTA_DST of the family's size first, RTA_OIF (8 bytes) last? */
static int sample_ok(const uint8_t *s, size_t len, uint8_t family)
{
	size_t alen = alen_of(family);

	if (!s || !alen || len % 4u || len > SAMPLE_MAX || len < DST_ATTR + 4u + alen + OIF)
		return 0;
	return get_u32(s) == len && s[HDR] == family && get_u16(s + DST_ATTR) == 4u + alen &&
	       get_u16(s + DST_ATTR + 2) == 1u && get_u16(s + len - OIF) == OIF &&
	       get_u16(s + len - OIF + 2) == 4u;
}

long nlc_route_bulk(const struct nlc_addr *recs, size_t n, const uint8_t *s4, size_t l4,
		    const uint8_t *s6, size_t l6, uint8_t *out, size_t cap, uint64_t *offs,
		    size_t *bad)
{
	int ok4 = sample_ok(s4, l4, 2), ok6 = sample_ok(s6, l6, 10);
	size_t pos = 0;

	*bad = 0;
	for (size_t i = 0; i < n; i++) {
		const struct nlc_addr *r = &recs[i];
		int v4 = r->family == 2;
		const uint8_t *s = v4 ? s4 : s6;
		size_t alen = alen_of(r->family), m;
		uint32_t len;

		if (!alen || !(v4 ? ok4 : ok6) || r->prefixlen > alen * 8u) {
			*bad = i;
			return -EAFNOSUPPORT;
		}
		m = (v4 ? l4 : l6) - (r->index ? 0u : (size_t)OIF);
		if (m > cap - pos) {
			*bad = i;
			return -ENOSPC;
		}
		memcpy(out + pos, s, m);
		len = (uint32_t)m;
		memcpy(out + pos, &len, 4);
		out[pos + DST_LEN] = r->prefixlen;
		memcpy(out + pos + DST_ATTR + 4, r->local, alen);
		if (r->index)
			memcpy(out + pos + m - 4, &r->index, 4);
		offs[i] = pos;
		pos += m;
	}
	offs[n] = pos;
	return (long)pos;
}
