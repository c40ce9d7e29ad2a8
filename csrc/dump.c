/* The scan of a dump datagram: one row of NLC_DUMP_COLS u32 per netlink message, so that
 * Python builds typed messages from packed columns instead of unpacking headers and walking
 * attributes itself (nlcore/codec/dumpscan.py). Bounded byte work only: no allocation, every
 * length (nlmsg_len, nla_len) checked against what remains, the cursor moved in one place.
 * Pure twin: nlcore/codec/_pure_dump.py.
 */
#include <errno.h>
#include <string.h>

#include "nlcore.h"

static uint32_t dump_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint16_t dump_u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* The attributes of buf[pos..end): their count, or NLC_DUMP_BAD at the first whose header
 * does not fit, whose length is below 4 or past end. *mask gets bit t per type t < 31, bit
 * 31 for any higher type. */
static uint32_t dump_attrs(const uint8_t *buf, size_t pos, size_t end, uint32_t *mask)
{
	uint32_t n = 0;

	*mask = 0;
	while (pos < end) {
		size_t rem = end - pos, len;
		uint16_t type;

		if (rem < 4)
			return NLC_DUMP_BAD;
		len = dump_u16(buf + pos);
		if (len < 4 || len > rem)
			return NLC_DUMP_BAD;
		type = (uint16_t)(dump_u16(buf + pos + 2) & 0x3fffu);
		*mask |= type < 31 ? 1u << type : 1u << 31;
		n++;
		pos += (len + 3u) & ~(size_t)3u;
	}
	return n;
}

/* One row for the message of length len at buf[pos]. */
static void dump_row(const uint8_t *buf, size_t pos, size_t len, size_t fixed, uint32_t *row)
{
	uint16_t type = dump_u16(buf + pos + 4);

	row[0] = (uint32_t)pos;
	row[1] = (uint32_t)len;
	row[2] = (uint32_t)type | (uint32_t)dump_u16(buf + pos + 6) << 16;
	row[3] = dump_u32(buf + pos + 8);
	row[4] = dump_u32(buf + pos + 12);
	row[6] = 0;
	if (type < 16 || len < 16 + fixed)
		row[5] = NLC_DUMP_SKIP;
	else
		row[5] = dump_attrs(buf, pos + 16 + fixed, pos + len, &row[6]);
}

long nlc_dump_scan(const uint8_t *buf, size_t len, size_t start, size_t fixed, uint32_t *out,
                   size_t cap, size_t *stop)
{
	size_t pos = start, i = 0;

	if (start > len || fixed > 0xffff || len > 0xffffffffu) {
		*stop = start;
		return -EINVAL;
	}
	while (pos < len && i < cap) {
		size_t rem = len - pos, n;

		if (rem < 16) {
			*stop = pos;
			return -EBADMSG;
		}
		n = dump_u32(buf + pos);
		if (n < 16 || n > rem) {
			*stop = pos;
			return -EBADMSG;
		}
		dump_row(buf, pos, n, fixed, out + NLC_DUMP_COLS * i);
		i++;
		pos += (n + 3u) & ~(size_t)3u;
		if (pos > len)
			pos = len;
	}
	*stop = pos;
	return (long)i;
}
