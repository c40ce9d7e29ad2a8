/* Byte helpers shared by the codec's C files (wire.c, sock.c, batch.c, attrs.c): reads of
 * host-order fields through memcpy (never an unaligned dereference), 4-byte alignment, and
 * libmnl's three-condition message check. Internal: the cffi cdef is nlcore.h's, not this.
 */
#ifndef NLCORE_NLBYTES_H
#define NLCORE_NLBYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t align4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

static inline uint16_t get_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

static inline uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

/* The message at p with rem bytes left: a whole netlink header, nlmsg_len >= the header,
 * nlmsg_len <= rem (libmnl's mnl_nlmsg_ok). Its nlmsg_len in *len (when a header is there). */
static inline int msg_ok(const uint8_t *p, size_t rem, uint32_t *len)
{
	if (rem < 16u)
		return 0;
	*len = get_u32(p);
	return *len >= 16u && *len <= rem;
}

#endif
