/* nlcore bulk address input: many addresses validated and packed into struct nlc_addr
 * records in one call (see nlcore.h). The pure twin is nlcore/codec/_bulk_pure.py.
 *
 * Bounded byte work only: every item is read within text[0..len), every record written
 * within out[0..n); no malloc. inet_pton is libc's, the same function Python's
 * socket.inet_pton calls, so both backends accept exactly the same address texts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "nlcore.h"

enum {
	AF_INET_ = 2,
	AF_INET6_ = 10,
	SCOPE_HOST_ = 254,   /* RT_SCOPE_HOST: the default scope of an IPv4 loopback add */
	ITEM_MAX = 63        /* longer address parts are invalid (the longest valid one: 45) */
};

/* "24" -> 24; -1 unless 1+ ASCII digits with a value <= max (leading zeros allowed). */
static int parse_plen(const uint8_t *p, size_t n, int max)
{
	int v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v <= max)
			v = v * 10 + (p[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Parse "ADDR[/PLEN]" in p[0..n) into rec's family, prefixlen, local; 0 or -EINVAL. */
static int parse_item(const uint8_t *p, size_t n, struct nlc_addr *rec)
{
	char addr[ITEM_MAX + 1];
	const uint8_t *slash = memchr(p, '/', n);
	size_t alen = slash ? (size_t)(slash - p) : n;
	int v6, plen;

	if (alen > ITEM_MAX || memchr(p, '\0', n))
		return -EINVAL;
	memcpy(addr, p, alen);
	addr[alen] = '\0';
	v6 = memchr(addr, ':', alen) != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, rec->local) != 1)
		return -EINVAL;
	plen = v6 ? 128 : 32;
	if (slash && (plen = parse_plen(slash + 1, n - alen - 1, plen)) < 0)
		return -EINVAL;
	rec->family = v6 ? AF_INET6_ : AF_INET_;
	rec->prefixlen = (uint8_t)plen;
	return 0;
}

/* Fill rec from its template and index; the template's NLC_BULK_AUTOSCOPE asks for the
 * default scope (host for an IPv4 127.x address, else universe). */
static void finish(struct nlc_addr *rec, const struct nlc_addr *t, uint32_t index)
{
	rec->type = t->type;
	rec->nlflags = t->nlflags;
	rec->scope = t->scope;
	if ((t->present & NLC_BULK_AUTOSCOPE) && rec->family == AF_INET_ && rec->local[0] == 127)
		rec->scope = SCOPE_HOST_;
	rec->proto = t->proto;
	rec->index = index;
	rec->ifa_flags = t->ifa_flags;
	rec->present = t->present & ~NLC_BULK_AUTOSCOPE;
	rec->priority = t->priority;
	rec->valid_lft = t->valid_lft;
	rec->preferred_lft = t->preferred_lft;
	memset(rec->address, 0, sizeof rec->address);
	memset(rec->broadcast, 0, sizeof rec->broadcast);
	memcpy(rec->label, t->label, sizeof rec->label);
}

/* The template of item i: tmpls[kind[i]] (kind NULL: tmpls[0]); NULL if out of range. */
static const struct nlc_addr *tmpl_of(const struct nlc_addr *tmpls, size_t ntmpl,
				      const uint8_t *kind, size_t i)
{
	size_t k = kind ? kind[i] : 0;
	return k < ntmpl ? &tmpls[k] : NULL;
}

/* The item at text[pos..) (len bytes in all; `last`: the final one, with no newline after
 * it) parsed into rec when it is valid and has a template t: 1, else 0. Where the next item
 * starts goes to *next (past len once the text is used up). */
static int bulk_item(const uint8_t *text, size_t len, size_t pos, int last,
		     const struct nlc_addr *t, struct nlc_addr *rec, size_t *next)
{
	const uint8_t *nl = pos <= len ? memchr(text + pos, '\n', len - pos) : NULL;
	size_t end = nl ? (size_t)(nl - text) : len;

	*next = (pos > len || !nl) ? len + 1 : end + 1;
	if (pos > len || last == (nl != NULL) || t == NULL)
		return 0;
	memset(rec->local, 0, sizeof rec->local);
	return parse_item(text + pos, end - pos, rec) == 0;
}

long nlc_addr_bulk(const uint8_t *text, size_t len, size_t n, const struct nlc_addr *tmpls,
		   size_t ntmpl, const uint8_t *kind, const uint32_t *index, size_t nindex,
		   uint8_t *marks, struct nlc_addr *out, size_t *bad)
{
	size_t pos = 0, j = 0;
	*bad = 0;
	if (nindex == 0)
		return -EINVAL;
	*bad = n;
	for (size_t i = 0; i < n; i++) {
		const struct nlc_addr *t = tmpl_of(tmpls, ntmpl, kind, i);
		int ok = bulk_item(text, len, pos, i + 1 == n, t, &out[j], &pos);
		if (!ok && *bad == n)
			*bad = i;
		if (!ok && !marks)
			return -EINVAL;
		if (marks)
			marks[i] = (uint8_t)!ok;
		if (ok)
			finish(&out[j++], t, index[i % nindex]);
	}
	return (long)j;
}

/* base + i as a big-endian number of `bytes` bytes; 0, or -ERANGE past the family's end. */
static int add_be(uint8_t *dst, const uint8_t *base, size_t bytes, uint64_t i)
{
	unsigned carry = 0;
	for (size_t k = bytes; k-- > 0;) {
		unsigned s = base[k] + (unsigned)(i & 0xffu) + carry;
		dst[k] = (uint8_t)s;
		carry = s >> 8;
		i >>= 8;
	}
	return (carry || i) ? -ERANGE : 0;
}

long nlc_addr_bulk_range(const uint8_t *base, uint8_t family, uint8_t prefixlen, size_t n,
			 const struct nlc_addr *tmpl, const uint32_t *index, size_t nindex,
			 struct nlc_addr *out, size_t *bad)
{
	size_t bytes = family == AF_INET6_ ? 16 : 4;
	*bad = 0;
	if ((family != AF_INET_ && family != AF_INET6_) || prefixlen > bytes * 8 || nindex == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		*bad = i;
		memset(out[i].local, 0, sizeof out[i].local);
		if (add_be(out[i].local, base, bytes, (uint64_t)i) < 0)
			return -ERANGE;
		out[i].family = family;
		out[i].prefixlen = prefixlen;
		finish(&out[i], tmpl, index[i % nindex]);
	}
	*bad = n;
	return (long)n;
}

/* ---- batch files: the common `addr` line, tokenized in C --------------------------- */
enum { WORDS_MAX = 16, IFNAMSIZ_ = 16 };

struct words {
	const uint8_t *p[WORDS_MAX];
	size_t n[WORDS_MAX];
	size_t count;
};

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A byte that sends the line to the careful path: comment, continuation, quote, the
 * separators str.split() knows beyond ASCII white space, NUL, anything non-ASCII. */
static int is_special(uint8_t c)
{
	return c == '#' || c == '\\' || c == '"' || c == '\'' || (c >= 0x1c && c <= 0x1f) ||
	       c == 0 || c >= 0x80;
}

/* Split line p[0..n) into words; -1 for a special byte or too many words. */
static int split_line(const uint8_t *p, size_t n, struct words *w)
{
	size_t i = 0;
	w->count = 0;
	while (i < n) {
		size_t j = i;
		if (is_space(p[i])) {
			i++;
			continue;
		}
		while (j < n && !is_space(p[j])) {
			if (is_special(p[j]))
				return -1;
			j++;
		}
		if (w->count == WORDS_MAX)
			return -1;
		w->p[w->count] = p + i;
		w->n[w->count++] = j - i;
		i = j;
	}
	return 0;
}

/* Is word (p, n) a non-empty prefix of kw (iproute2's abbreviation rule)? */
static int prefix_of(const uint8_t *p, size_t n, const char *kw)
{
	return n > 0 && n <= strlen(kw) && memcmp(p, kw, n) == 0;
}

/* add 0, del 1, replace 2, else -1 (ip addr's abbreviations of those three). */
static int op_of(const uint8_t *p, size_t n)
{
	if (prefix_of(p, n, "add"))
		return 0;
	if (prefix_of(p, n, "delete"))
		return 1;
	if (prefix_of(p, n, "replace"))
		return 2;
	return -1;
}

static const struct { const char *word; uint32_t bit; } FLAG_WORDS[] = {
	{"nodad", 0x02}, {"optimistic", 0x04}, {"home", 0x10}, {"mngtmpaddr", 0x100},
	{"noprefixroute", 0x200}, {"autojoin", 0x400},
};

/* IFA_F_* bit of a flag word, 0 if it is none. */
static uint32_t flag_of(const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < sizeof FLAG_WORDS / sizeof FLAG_WORDS[0]; k++)
		if (strlen(FLAG_WORDS[k].word) == n && memcmp(p, FLAG_WORDS[k].word, n) == 0)
			return FLAG_WORDS[k].bit;
	return 0;
}

/* Index of device (p, n) in names[0..nnames) (16-byte NUL-padded slots), or -1. */
static long find_name(const uint8_t *p, size_t n, const char (*names)[16], size_t nnames)
{
	if (n == 0 || n >= IFNAMSIZ_)
		return -1;
	for (size_t k = 0; k < nnames; k++)
		if (memcmp(names[k], p, n) == 0 && names[k][n] == '\0')
			return (long)k;
	return -1;
}

/* What a batch scan reads lines against: the templates of the three ops, the device names
 * (16-byte slots) with their indexes, the family asked for (0: any). */
struct scan_in {
	const struct nlc_addr *tmpls;
	const char (*names)[16];
	const uint32_t *nindex;
	size_t nnames;
	uint8_t family;
};

/* Where a batch scan puts what it finds: records with their line numbers, the slow lines. */
struct scan_out {
	struct nlc_addr *out;
	uint32_t *lines, *slow;
	size_t cap, nout, nslow, nname;
};

/* The head of the fast form, ADDR-OBJ OP ADDR dev NAME: the op (0..2), or -1. */
static int fast_head(const struct words *w)
{
	int op;
	if (w->count < 5 || !prefix_of(w->p[0], w->n[0], "address") ||
	    (op = op_of(w->p[1], w->n[1])) < 0 || w->n[3] != 3 || memcmp(w->p[3], "dev", 3) ||
	    (!memchr(w->p[2], '.', w->n[2]) && !memchr(w->p[2], ':', w->n[2])))
		return -1;
	return op;
}

/* The IFA_F_* bits of the words after the head, or -1 if one is not a flag word. */
static long fast_flags(const struct words *w)
{
	uint32_t flags = 0;
	for (size_t i = 5; i < w->count; i++) {
		uint32_t bit = flag_of(w->p[i], w->n[i]);
		if (!bit)
			return -1;
		flags |= bit;
	}
	return (long)flags;
}

/* The fast form: ADDR-OBJ OP ADDR dev NAME FLAG*; -1 slow, -2 unknown name, else record. */
static int fast_line(const struct words *w, const struct scan_in *in, struct nlc_addr *rec)
{
	int op = fast_head(w);
	long flags = op < 0 ? -1 : fast_flags(w), k;
	if (flags < 0)
		return -1;
	memset(rec->local, 0, sizeof rec->local);
	if (parse_item(w->p[2], w->n[2], rec) < 0 || (in->family && rec->family != in->family))
		return -1;
	k = find_name(w->p[4], w->n[4], in->names, in->nnames);
	if (k < 0)
		return -2;
	finish(rec, &in->tmpls[op], in->nindex[k]);
	rec->ifa_flags |= (uint32_t)flags;
	return 0;
}

/* Line number `line`, p[0..n): blank, fast (a record), or slow (the high bit when only its
 * device name was unknown); every line after one with a backslash is slow. */
static void scan_line(const struct scan_in *in, struct scan_out *o, const uint8_t *p,
		      size_t n, int after_backslash, uint32_t line)
{
	struct words w;
	int rc = split_line(p, n, &w);
	if (rc == 0 && w.count == 0 && !after_backslash)
		return;  /* blank */
	if (rc < 0 || after_backslash || o->nout == o->cap ||
	    (rc = fast_line(&w, in, &o->out[o->nout])) == -1) {
		o->slow[o->nslow++] = line;
	} else if (rc == -2) {
		o->slow[o->nslow++] = line | 0x80000000u;
		o->nname++;
	} else {
		o->lines[o->nout++] = line;
	}
}

long nlc_batch_scan(const uint8_t *text, size_t len, const struct nlc_addr *tmpls,
		    const char (*names)[16], const uint32_t *nindex, size_t nnames,
		    uint8_t family, struct nlc_addr *out, uint32_t *lines, size_t cap,
		    uint32_t *slow, uint32_t *counts)
{
	const struct scan_in in = {tmpls, names, nindex, nnames, family};
	struct scan_out o = {out, lines, slow, cap, 0, 0, 0};
	size_t pos = 0, line = 0;
	int after_backslash = 0;
	for (;;) {
		const uint8_t *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		scan_line(&in, &o, text + pos, end - pos, after_backslash, (uint32_t)line);
		after_backslash = memchr(text + pos, '\\', end - pos) != NULL;
		line++;
		if (!nl)
			break;
		pos = end + 1;
	}
	counts[0] = (uint32_t)o.nout;
	counts[1] = (uint32_t)o.nslow;
	counts[2] = (uint32_t)o.nname;
	return (long)line;
}
