/* The native supervisor of `nlcore inject`: matching messages against the --match rules. */
#define _GNU_SOURCE
#include "sup_internal.h"

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------ rules */
int prefix_has(const struct nlc_rule *r, const uint8_t *ip, uint32_t len)
{
	if (len != (r->prefix_family == 10 ? 16u : 4u))
		return 0;
	uint32_t full = r->prefix_len / 8u, rest = r->prefix_len % 8u;
	if (memcmp(ip, r->prefix, full))
		return 0;
	return !rest || ((ip[full] ^ r->prefix[full]) & (0xffu << (8u - rest)) & 0xffu) == 0;
}

/* The first attribute of type t (nested flags masked) of m[pos..n) into *v, *vlen: 1
 * found, 0 absent, -1 when an attribute is malformed (the message does not decode). */
static int first_attr(const uint8_t *m, size_t n, size_t pos, uint16_t t, const uint8_t **v,
		      uint32_t *vlen)
{
	int found = 0;
	while (pos < n) {
		if (n - pos < 4)
			return -1;
		uint16_t alen = rd16(m + pos);
		if (alen < 4 || alen > n - pos)
			return -1;
		if (!found && (rd16(m + pos + 2) & 0x3fff) == t) {
			*v = m + pos + 4;
			*vlen = alen - 4u;
			found = 1;
		}
		pos += align4(alen);
	}
	return found;
}

/* IFA_LOCAL, else IFA_ADDRESS, of an address message as nlcore.codec.decode reads it: 1 and the
 * value when it is 4 or 16 bytes; 0 when absent, of another length, or the message does
 * not decode (a malformed attribute). */
int addr_local(const uint8_t *m, size_t n, const uint8_t **ip, uint32_t *len)
{
	const uint8_t *loc = NULL, *adr = NULL;
	uint32_t loc_n = 0, adr_n = 0;
	if (first_attr(m, n, 24, 2, &loc, &loc_n) < 0 || first_attr(m, n, 24, 1, &adr, &adr_n) < 0)
		return 0;
	if (!loc || !loc_n) {  /* absent or empty: the falsy value falls back */
		loc = adr;
		loc_n = adr_n;
	}
	if (!loc || (loc_n != 4 && loc_n != 16))
		return 0;
	*ip = loc;
	*len = loc_n;
	return 1;
}

int pattern(const struct nlc_rule *r, const uint8_t *m, size_t n)
{
	if (n < 16)
		return 0;
	uint16_t tp = rd16(m + 4), fl = rd16(m + 6);
	if (tp != r->type || !(fl & NLM_F_REQUEST))
		return 0;
	if (r->has_family && (n <= 16 || m[16] != r->family))
		return 0;
	int addr = tp >= 20 && tp <= 22, link = tp >= 16 && tp <= 19;
	if (r->has_index && (!(addr || link) || n < (addr ? 24u : 32u) || rd32(m + 20) != r->index))
		return 0;
	if (r->has_prefix) {
		const uint8_t *ip;
		uint32_t len;
		if (!addr || n < 24 || !addr_local(m, n, &ip, &len) || !prefix_has(r, ip, len))
			return 0;
	}
	if ((r->has_dst || r->has_table || r->has_oif || r->has_via) && !fields_match(r, m, n))
		return 0;
	return 1;
}

long nlc_rules_decide(const struct nlc_rule *rules, size_t nrules, uint32_t *counts,
		      const uint8_t *msg, size_t len)
{
	long chosen = -1;
	for (size_t i = 0; i < nrules; i++) {
		const struct nlc_rule *r = &rules[i];
		if (!pattern(r, msg, len))
			continue;
		uint32_t c = ++counts[i];
		if (chosen < 0 && c >= r->first && (!r->last || c <= r->last))
			chosen = (long)i;
	}
	return chosen;
}

int rule_err(const struct nlc_sup *s, long rule)
{
	return s->rules[rule].err;
}

/* A cheap first pass: does any message of data[0..n) have a rule's type at all? */
static int any_typed(const struct nlc_sup *s, const uint8_t *data, size_t n)
{
	for (size_t p = 0; n - p >= 16; ) {
		uint32_t ln = rd32(data + p);
		if (ln < 16 || ln > n - p)
			break;
		for (size_t i = 0; i < s->nrules; i++)
			if (rd16(data + p + 4) == s->rules[i].type)
				return 1;
		p += align4(ln);
		if (p > n)
			break;
	}
	return 0;
}

/* Room for one more span in *spans (of *cap): 0, or -ENOMEM. */
static int grow_spans(struct span **spans, size_t k, size_t *cap)
{
	if (k < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	struct span *ns = realloc(*spans, nc * sizeof *ns);
	if (!ns)
		return -ENOMEM;
	*spans = ns;
	*cap = nc;
	return 0;
}

size_t decide(struct nlc_sup *s, const uint8_t *data, size_t n, struct span **spans,
		     size_t *cap, int *err)
{
	size_t k = 0, pos = 0, fired = 0;
	*err = 0;
	if (!any_typed(s, data, n))
		return 0;
	while (n - pos >= 16) {
		uint32_t ln = rd32(data + pos);
		if (ln < 16 || ln > n - pos)
			break;
		if ((*err = grow_spans(spans, k, cap)))
			return 0;
		long r = nlc_rules_decide(s->rules, s->nrules, s->counts, data + pos, ln);
		(*spans)[k++] = (struct span){ (uint32_t)pos, ln, r };
		fired += r >= 0;
		pos += align4(ln);
		if (pos > n)
			break;
	}
	return fired ? k : 0;
}
