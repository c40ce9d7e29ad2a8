/* The native supervisor of `nlcore inject`: the route and neighbour fields of --match rules
 * (dst=, table=, oif=, via=), decided exactly as nlcore/faults/seccomp/rules_route.py does. */
#include "sup_internal.h"

#include <string.h>

enum { RTA_DST_ = 1, RTA_OIF_ = 4, RTA_GATEWAY_ = 5, RTA_TABLE_ = 15, RTA_VIA_ = 18,
       NDA_DST_ = 1, BODY = 28 /* nlmsghdr + rtmsg or ndmsg (12 bytes each) */ };

/* The first attribute of type t in m[BODY..end), through nlc_tlv_walk (attrs.c) one record
 * at a time and stopping at the first malformed one (as rules_route._attrs does: what
 * precedes it counts): 1 with *v, *vlen its payload; 0 when not there. */
static int early_attr(const uint8_t *m, size_t end, uint16_t t, const uint8_t **v,
		      uint32_t *vlen)
{
	for (size_t pos = BODY; pos < end; ) {
		uint32_t rec[3];
		size_t stop = pos;
		if (nlc_tlv_walk(m, end, pos, end, 4, rec, 1, &stop) != 1)
			return 0;
		if ((rec[0] & 0x3fffu) == t) {
			*v = m + rec[1] + 4;
			*vlen = rec[2] - 4u;
			return 1;
		}
		pos = stop;
	}
	return 0;
}

/* The first plen bits of a and b (alen bytes each) agree; a plen past them never does. */
static int bits_equal(const uint8_t *a, const uint8_t *b, uint32_t plen, uint32_t alen)
{
	uint32_t full = plen / 8u, rest = plen % 8u;
	if (plen > 8u * alen || memcmp(a, b, full))
		return 0;
	return !rest || ((a[full] ^ b[full]) & (0xffu << (8u - rest)) & 0xffu) == 0;
}

static uint32_t family_len(uint8_t family)
{
	return family == 10 ? 16u : 4u;
}

/* A route's dst: exactly the rule's prefix (RTA_DST absent with prefix length 0: zeros). */
static int route_dst(const struct nlc_rule *r, const uint8_t *m, size_t end)
{
	static const uint8_t zeros[16];
	uint8_t plen = m[17];
	if (r->dst_default)
		return plen == 0;
	const uint8_t *v = NULL;
	uint32_t vlen = 0;
	if (!early_attr(m, end, RTA_DST_, &v, &vlen)) {
		if (plen)
			return 0;
		v = zeros;
		vlen = family_len(r->dst_family);
	}
	return vlen == family_len(r->dst_family) && plen == r->dst_len &&
	       bits_equal(v, r->dst, plen, vlen);
}

/* RTA_GATEWAY, or the address after RTA_VIA's 2-byte family, equal to the rule's. */
static int route_via(const struct nlc_rule *r, const uint8_t *m, size_t end)
{
	uint32_t want = family_len(r->via_family), vlen = 0;
	const uint8_t *v = NULL;
	if (early_attr(m, end, RTA_GATEWAY_, &v, &vlen) && vlen == want && !memcmp(v, r->via, want))
		return 1;
	return early_attr(m, end, RTA_VIA_, &v, &vlen) && vlen == want + 2u &&
	       !memcmp(v + 2, r->via, want);
}

static int route_fields(const struct nlc_rule *r, const uint8_t *m, size_t end)
{
	const uint8_t *v = NULL;
	uint32_t vlen = 0;
	if (r->has_oif && !(early_attr(m, end, RTA_OIF_, &v, &vlen) && vlen == 4 &&
			    rd32(v) == r->oif))
		return 0;
	if (r->has_table) {
		uint32_t table = m[20];
		if (early_attr(m, end, RTA_TABLE_, &v, &vlen) && vlen == 4)
			table = rd32(v);
		if (table != r->table)
			return 0;
	}
	if (r->has_via && !route_via(r, m, end))
		return 0;
	return !r->has_dst || route_dst(r, m, end);
}

/* A neighbour has only oif (its ndm_ifindex) and dst (NDA_DST inside the prefix). */
static int neigh_fields(const struct nlc_rule *r, const uint8_t *m, size_t end)
{
	if (r->has_table || r->has_via || (r->has_dst && r->dst_default))
		return 0;
	if (r->has_oif && rd32(m + 20) != r->oif)
		return 0;
	if (!r->has_dst)
		return 1;
	const uint8_t *v = NULL;
	uint32_t vlen = 0;
	return early_attr(m, end, NDA_DST_, &v, &vlen) && vlen == family_len(r->dst_family) &&
	       bits_equal(v, r->dst, r->dst_len, vlen);
}

int fields_match(const struct nlc_rule *r, const uint8_t *m, size_t n)
{
	if (n < BODY)
		return 0;
	uint16_t tp = rd16(m + 4);
	size_t end = rd32(m) < n ? rd32(m) : n;
	if (end < BODY)
		return 0;
	if (tp >= 24 && tp <= 26)
		return route_fields(r, m, end);
	if (tp >= 28 && tp <= 30)
		return neigh_fields(r, m, end);
	return 0;
}
