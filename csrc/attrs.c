/* The generic walker over length-prefixed records: netlink attributes (struct nlattr, a
 * 4-byte header) and multipath nexthops (struct rtnexthop, 8 bytes). Both start with a u16
 * length that counts the header, and records are 4-byte aligned. Bounded byte work only: no
 * allocation, every length checked against what remains (libmnl's mnl_attr_ok shape).
 */
#include <errno.h>
#include <string.h>

#include "nlbytes.h"
#include "nlcore.h"

/* The three conditions: a whole header left, length >= header, length <= remaining. */
static int tlv_ok(const uint8_t *buf, size_t pos, size_t end, size_t hdr)
{
	size_t rem = end - pos;
	uint16_t n;

	if (rem < hdr)
		return 0;
	n = get_u16(buf + pos);
	return n >= hdr && n <= rem;
}

/* The only place the cursor moves: past this record and its padding (never past end). */
static size_t tlv_next(const uint8_t *buf, size_t pos, size_t end)
{
	size_t next = pos + align4(get_u16(buf + pos));

	return next < end ? next : end;
}

long nlc_tlv_walk(const uint8_t *buf, size_t len, size_t start, size_t end, size_t hdr,
                  uint32_t *out, size_t cap, size_t *stop)
{
	size_t pos = start, i = 0;

	if (end > len || start > end || (hdr != 4 && hdr != 8)) {
		*stop = start;
		return -EINVAL;
	}
	while (pos < end && i < cap) {
		if (!tlv_ok(buf, pos, end, hdr)) {
			*stop = pos;
			return -EBADMSG;
		}
		out[3 * i] = get_u16(buf + pos + 2);
		out[3 * i + 1] = (uint32_t)pos;
		out[3 * i + 2] = get_u16(buf + pos);
		i++;
		pos = tlv_next(buf, pos, end);
	}
	*stop = pos;
	return (long)i;
}
