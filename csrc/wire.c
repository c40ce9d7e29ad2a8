/* nlcore wire codec: RTM_NEWADDR/RTM_DELADDR emitter and ack scanner (see nlcore.h).
 *
 * libmnl's shape: a cursor over a caller-owned buffer, put helpers that check the bound,
 * ok()/next() iteration with the three-condition check. No malloc; every length is checked
 * against cap/len. Multi-byte fields are in host byte order (the kernel's), moved with memcpy
 * so that no pointer is ever dereferenced unaligned.
 */
#include <errno.h>
#include <string.h>

#include "nlbytes.h"
#include "nlcore.h"

/* Numbers from the uapi headers, spelled here so the build needs no recent linux-libc-dev. */
enum {
	NLMSG_HDRLEN_ = 16,        /* linux/netlink.h: NLMSG_HDRLEN */
	NLMSG_ERROR_ = 2,          /* linux/netlink.h */
	NLMSG_DONE_ = 3,
	NLMSGERR_LEN = 16 + 20,    /* nlmsghdr + struct nlmsgerr (error + echoed header) */
	NLA_HDRLEN_ = 4,           /* linux/netlink.h: NLA_HDRLEN */
	IFA_HDRLEN = 16 + 8,       /* nlmsghdr + struct ifaddrmsg */
	RTM_NEWADDR_ = 20,         /* linux/rtnetlink.h */
	RTM_DELADDR_ = 21,
	AF_INET_ = 2,              /* linux/socket.h */
	AF_INET6_ = 10,
	IFA_ADDRESS_ = 1,          /* linux/if_addr.h */
	IFA_LOCAL_ = 2,
	IFA_LABEL_ = 3,
	IFA_BROADCAST_ = 4,
	IFA_CACHEINFO_ = 6,
	IFA_FLAGS_ = 8,
	IFA_RT_PRIORITY_ = 9,
	IFA_PROTO_ = 11,
	MSG_MAX = 160,             /* > the largest address message (148 bytes) */
	CAPPED_ = 0x100,           /* linux/netlink.h: NLM_F_CAPPED */
	ACK_TLVS_ = 0x200,         /* NLM_F_ACK_TLVS */
	ATTR_MSG_ = 1,             /* NLMSGERR_ATTR_MSG */
	ATTR_OFFS_ = 2             /* NLMSGERR_ATTR_OFFS */
};

/* ---- emitter ------------------------------------------------------------------------- */

/* A write cursor; `full` is sticky: once a put does not fit, nothing more is written. */
struct cur {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	int full;
};

static void put_attr(struct cur *c, uint16_t type, const void *data, size_t len)
{
	static const uint8_t zero[4];
	size_t total = NLA_HDRLEN_ + len;
	uint16_t hdr[2] = { (uint16_t)total, type };

	if (c->full || len > 0xffffu - NLA_HDRLEN_ || align4(total) > c->cap - c->pos) {
		c->full = 1;
		return;
	}
	memcpy(c->buf + c->pos, hdr, sizeof hdr);
	memcpy(c->buf + c->pos + NLA_HDRLEN_, data, len);
	memcpy(c->buf + c->pos + total, zero, align4(total) - total);
	c->pos += align4(total);
}

static void put_attr_u32(struct cur *c, uint16_t type, uint32_t v)
{
	put_attr(c, type, &v, sizeof v);
}

/* nlmsghdr + ifaddrmsg; nlmsg_len is patched by msg_build once the attributes are in. */
static void put_header(struct cur *c, const struct nlc_addr *r, uint32_t seq, uint32_t pid)
{
	uint8_t h[IFA_HDRLEN] = { 0 };
	uint8_t hflags = r->ifa_flags > 0xffu ? 0 : (uint8_t)r->ifa_flags;

	if (c->full || sizeof h > c->cap - c->pos) {
		c->full = 1;
		return;
	}
	memcpy(h + 4, &r->type, 2);
	memcpy(h + 6, &r->nlflags, 2);
	memcpy(h + 8, &seq, 4);
	memcpy(h + 12, &pid, 4);
	h[16] = r->family;
	h[17] = r->prefixlen;
	h[18] = hflags;
	h[19] = r->scope;
	memcpy(h + 20, &r->index, 4);
	memcpy(c->buf + c->pos, h, sizeof h);
	c->pos += sizeof h;
}

/* IFA_ADDRESS / IFA_LOCAL at the front, in the order the present bits ask for. */
static void put_addrs(struct cur *c, const struct nlc_addr *r, size_t alen)
{
	uint32_t p = r->present;

	if (p & NLC_A_ADDRESS_FIRST) {
		put_attr(c, IFA_ADDRESS_, (p & NLC_A_PEER) ? r->address : r->local, alen);
		if (p & NLC_A_LOCAL)
			put_attr(c, IFA_LOCAL_, r->local, alen);
		return;
	}
	if (p & NLC_A_LOCAL)
		put_attr(c, IFA_LOCAL_, r->local, alen);
	if (p & NLC_A_PEER)
		put_attr(c, IFA_ADDRESS_, r->address, alen);
}

static void put_middle(struct cur *c, const struct nlc_addr *r, size_t alen)
{
	uint32_t p = r->present;

	if ((p & NLC_A_BROADCAST) && !(p & NLC_A_BRD_LATE))
		put_attr(c, IFA_BROADCAST_, r->broadcast, alen);
	if (p & NLC_A_LABEL) {
		const char *nul = memchr(r->label, 0, sizeof r->label);
		put_attr(c, IFA_LABEL_, r->label, (size_t)(nul - r->label) + 1u);
	}
	if (p & NLC_A_PRIORITY)
		put_attr_u32(c, IFA_RT_PRIORITY_, r->priority);
	if (p & NLC_A_PROTO)
		put_attr(c, IFA_PROTO_, &r->proto, 1);
	if (r->ifa_flags > 0xffu)
		put_attr_u32(c, IFA_FLAGS_, r->ifa_flags);
}

static void put_tail(struct cur *c, const struct nlc_addr *r, size_t alen)
{
	uint32_t p = r->present;
	uint32_t ci[4] = { r->preferred_lft, r->valid_lft, 0, 0 };

	if ((p & NLC_A_LOCAL) && !(p & (NLC_A_PEER | NLC_A_ADDRESS_FIRST)))
		put_attr(c, IFA_ADDRESS_, r->local, alen);
	if ((p & NLC_A_BROADCAST) && (p & NLC_A_BRD_LATE))
		put_attr(c, IFA_BROADCAST_, r->broadcast, alen);
	if (p & NLC_A_CACHEINFO)
		put_attr(c, IFA_CACHEINFO_, ci, sizeof ci);
}

/* The address length of a valid record, 0 for an invalid one (checked before any write). */
static size_t rec_alen(const struct nlc_addr *r)
{
	size_t alen = r->family == AF_INET_ ? 4u : r->family == AF_INET6_ ? 16u : 0u;

	if (r->type != RTM_NEWADDR_ && r->type != RTM_DELADDR_)
		return 0;
	if ((r->present & ~NLC_A_ALL) || !(r->present & (NLC_A_LOCAL | NLC_A_PEER)))
		return 0;
	if (r->prefixlen > alen * 8u)
		return 0;
	if ((r->present & NLC_A_LABEL) && !memchr(r->label, 0, sizeof r->label))
		return 0;
	return alen;
}

/* Build one message at c->buf[c->pos..c->cap); returns its length, 0 if it does not fit. */
static size_t msg_build(struct cur *c, const struct nlc_addr *r, size_t alen, uint32_t seq,
			uint32_t pid)
{
	size_t start = c->pos;
	uint32_t len;

	put_header(c, r, seq, pid);
	put_addrs(c, r, alen);
	put_middle(c, r, alen);
	put_tail(c, r, alen);
	if (c->full)
		return 0;
	len = (uint32_t)(c->pos - start);
	memcpy(c->buf + start, &len, sizeof len);
	return len;
}

/* Emit one message at out->pos. With MSG_MAX bytes of room it is built in place; near the
 * end it is built on the stack and copied only if it fits, so no byte past the last whole
 * message is ever touched. */
static size_t msg_emit(struct cur *out, const struct nlc_addr *r, size_t alen, uint32_t seq,
		       uint32_t pid)
{
	uint8_t tmp[MSG_MAX];
	struct cur scratch = { tmp, sizeof tmp, 0, 0 };
	size_t len;

	if (out->cap - out->pos >= MSG_MAX)
		return msg_build(out, r, alen, seq, pid);
	len = msg_build(&scratch, r, alen, seq, pid);
	if (len == 0 || len > out->cap - out->pos)
		return 0;
	memcpy(out->buf + out->pos, tmp, len);
	out->pos += len;
	return len;
}

long nlc_addr_emit(uint8_t *buf, size_t cap, const struct nlc_addr *recs, size_t n,
		   uint32_t seq, uint32_t pid, size_t *emitted)
{
	const uint8_t *src = (const uint8_t *)recs;
	struct cur out = { buf, cap, 0, 0 };
	struct nlc_addr r;
	size_t i;

	for (i = 0; i < n; i++) {
		size_t alen;

		memcpy(&r, src + i * sizeof r, sizeof r);
		alen = rec_alen(&r);
		if (alen == 0) {
			*emitted = i;
			return -EINVAL;
		}
		if (msg_emit(&out, &r, alen, seq + (uint32_t)i, pid) == 0)
			break;
	}
	*emitted = i;
	return (long)out.pos;
}

/* ---- scanner ------------------------------------------------------------------------- */

/* The only place the cursor moves: past this message and its padding. */
static size_t nlmsg_next(const uint8_t *buf, size_t pos)
{
	return pos + align4(get_u32(buf + pos));
}

/* Store message i (already msg_ok); 0 if it is an NLMSG_ERROR too short for its body. */
static int scan_one(const uint8_t *m, size_t pos, size_t i, uint32_t *seq, int32_t *err,
		    uint32_t *off, uint32_t *tf)
{
	uint32_t n = get_u32(m);
	uint16_t type = get_u16(m + 4);
	int32_t e = 0;

	if (type == NLMSG_ERROR_ && n < NLMSGERR_LEN)
		return 0;
	if (type == NLMSG_ERROR_ || (type == NLMSG_DONE_ && n >= NLMSG_HDRLEN_ + 4u))
		memcpy(&e, m + NLMSG_HDRLEN_, sizeof e);
	seq[i] = get_u32(m + 8);
	err[i] = e;
	off[i] = (uint32_t)pos;
	tf[i] = type | (uint32_t)get_u16(m + 6) << 16;
	return 1;
}

/* Where the extack TLVs of message m (n bytes, msg_ok) start, or 0 if it has none. */
static size_t tlv_start(const uint8_t *m, uint32_t n)
{
	uint16_t type = get_u16(m + 4), flags = get_u16(m + 6);
	uint32_t echo;

	if (!(flags & ACK_TLVS_))
		return 0;
	if (type == NLMSG_DONE_)
		return n >= NLMSG_HDRLEN_ + 4u ? NLMSG_HDRLEN_ + 4u : 0;
	if (type != NLMSG_ERROR_)
		return 0;
	if (flags & CAPPED_)
		return NLMSGERR_LEN;
	echo = get_u32(m + NLMSG_HDRLEN_ + 4);
	if (echo < NLMSG_HDRLEN_ || echo > n - NLMSG_HDRLEN_ - 4u)
		return 0;  /* an echo that lies: no TLVs to trust */
	return NLMSG_HDRLEN_ + 4u + align4(echo);
}

/* One extack TLV (type atype, payload p of plen bytes at offset at of the buffer) into ext:
 * the first NLMSGERR_ATTR_MSG and the first well-sized NLMSGERR_ATTR_OFFS count. */
static void extack_attr(uint16_t atype, const uint8_t *p, size_t plen, size_t at, uint32_t *ext)
{
	size_t k = 0;

	if (atype == ATTR_MSG_ && !ext[0]) {
		while (k < plen && p[k])
			k++;
		ext[0] = (uint32_t)at;
		ext[1] = (uint32_t)k;
	} else if (atype == ATTR_OFFS_ && plen == 4 && ext[2] == UINT32_MAX) {
		ext[2] = get_u32(p);
	}
}

/* ext[0..2] = (offset of the NLMSGERR_ATTR_MSG text in buf, its length without the NUL,
 * NLMSGERR_ATTR_OFFS) or (0, 0, UINT32_MAX); a malformed TLV ends the walk, never the scan. */
static void scan_extack(const uint8_t *m, size_t pos, uint32_t *ext)
{
	uint32_t n = get_u32(m);
	size_t a = tlv_start(m, n);

	ext[0] = 0;
	ext[1] = 0;
	ext[2] = UINT32_MAX;
	/* a may sit past n: the echo's padding is not always there (a lying or cut message) */
	while (a && a <= n && n - a >= NLA_HDRLEN_) {
		uint16_t alen = get_u16(m + a);

		if (alen < NLA_HDRLEN_ || alen > n - a)
			return;
		extack_attr(get_u16(m + a + 2) & 0x3fffu, m + a + NLA_HDRLEN_,
			    (size_t)alen - NLA_HDRLEN_, pos + a + NLA_HDRLEN_, ext);
		a += align4(alen);
	}
}

long nlc_acks_scan(const uint8_t *buf, size_t len, uint32_t *seq, int32_t *err, uint32_t *off,
		   uint32_t *tf, size_t cap, size_t *stop, uint32_t *ext)
{
	size_t pos = 0;
	size_t i;
	uint32_t n;

	for (i = 0; i < cap && pos < len; i++, pos = nlmsg_next(buf, pos)) {
		if (!msg_ok(buf + pos, len - pos, &n) || !scan_one(buf + pos, pos, i, seq, err, off, tf)) {
			*stop = pos;
			return -EBADMSG;
		}
		if (ext)
			scan_extack(buf + pos, pos, ext + 3 * i);
	}
	*stop = pos < len ? pos : len;  /* a last message without its padding ends at len */
	return (long)i;
}
