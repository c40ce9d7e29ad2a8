/* Sanitizer harness for csrc/wire.c (built by tests/test_native_sanitizers.py).
 *
 * Compiled with -fsanitize=address,undefined: every buffer handed to the codec is a heap
 * block of exactly the size under test, so a one-byte overread or overwrite aborts. The
 * codec is checked against small reference models written here in another shape (byte-wise
 * little-endian, table-driven), over golden vectors and deterministic pseudo-random input.
 * Prints "harness: OK ..." and exits 0, or lists mismatches and exits 1.
 * `harness overflow` reads one byte past a heap block on purpose (proves ASan is live).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nlcore.h"

#define REC_SIZE sizeof(struct nlc_addr)
#define MAXMSG 256

static unsigned long emit_cases, scan_cases;

static void *xmalloc(size_t n) /* exact size; malloc(0) is a valid zero-byte block for ASan */
{
	void *p = malloc(n);
	if (!p && n) {
		perror("malloc");
		exit(2);
	}
	return p;
}

static void *dup_exact(const void *src, size_t n)
{
	void *p = xmalloc(n);
	if (n)
		memcpy(p, src, n);
	return p;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- emitter model ------------------------------------------------------------------- */

struct mattr {
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

static int model_valid(const struct nlc_addr *r, size_t *alen)
{
	uint32_t p = r->present;
	*alen = r->family == 2 ? 4 : r->family == 10 ? 16 : 0;
	return (r->type == 20 || r->type == 21) && *alen && !(p & ~0x1ffu) && (p & 3u) &&
	       r->prefixlen <= *alen * 8 &&
	       (!(p & 0x20u) || memchr(r->label, 0, sizeof r->label) != NULL);
}

/* Attribute list in the documented order: one row per (condition, type, payload). */
static size_t model_attrs(const struct nlc_addr *r, size_t alen, struct mattr *a,
			  uint8_t scratch[28])
{
	uint32_t p = r->present;
	int af = (p & 4u) != 0, peer = (p & 2u) != 0, loc = (p & 1u) != 0;
	int brd = (p & 8u) != 0, late = (p & 16u) != 0;
	size_t lablen = (p & 0x20u) ? strlen(r->label) + 1 : 0;
	struct { int on; uint16_t type; const uint8_t *data; size_t len; } rows[] = {
		{ af, 1, peer ? r->address : r->local, alen },
		{ af && loc, 2, r->local, alen },
		{ !af && loc, 2, r->local, alen },
		{ !af && peer, 1, r->address, alen },
		{ brd && !late, 4, r->broadcast, alen },
		{ lablen > 0, 3, (const uint8_t *)r->label, lablen },
		{ (p & 0x40u) != 0, 9, scratch, 4 },
		{ (p & 0x80u) != 0, 11, &r->proto, 1 },
		{ r->ifa_flags > 0xff, 8, scratch + 4, 4 },
		{ loc && !peer && !af, 1, r->local, alen },
		{ brd && late, 4, r->broadcast, alen },
		{ (p & 0x100u) != 0, 6, scratch + 8, 16 },
	};
	size_t i, n = 0;

	put32(scratch, r->priority);
	put32(scratch + 4, r->ifa_flags);
	put32(scratch + 8, r->preferred_lft);
	put32(scratch + 12, r->valid_lft);
	memset(scratch + 16, 0, 8);
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (rows[i].on)
			a[n++] = (struct mattr){ rows[i].type, rows[i].data, rows[i].len };
	return n;
}

static size_t model_msg(uint8_t *out, const struct nlc_addr *r, size_t alen, uint32_t seq,
			uint32_t pid)
{
	struct mattr a[16];
	uint8_t scratch[28];
	size_t i, pos = 24, n = model_attrs(r, alen, a, scratch);

	memset(out, 0, MAXMSG);
	put16(out + 4, r->type);
	put16(out + 6, r->nlflags);
	put32(out + 8, seq);
	put32(out + 12, pid);
	out[16] = r->family;
	out[17] = r->prefixlen;
	out[18] = r->ifa_flags > 0xff ? 0 : (uint8_t)r->ifa_flags;
	out[19] = r->scope;
	put32(out + 20, r->index);
	for (i = 0; i < n; i++) {
		put16(out + pos, (uint32_t)(4 + a[i].len));
		put16(out + pos + 2, a[i].type);
		memcpy(out + pos + 4, a[i].data, a[i].len);
		pos += (4 + a[i].len + 3) / 4 * 4;
	}
	put32(out, (uint32_t)pos);
	return pos;
}

/* Expected result of nlc_addr_emit; `out` holds at least n * MAXMSG bytes. */
static long model_emit(uint8_t *out, size_t cap, const struct nlc_addr *recs, size_t n,
		       uint32_t seq, uint32_t pid, size_t *emitted)
{
	size_t i, pos = 0, alen, len;
	uint8_t msg[MAXMSG];

	for (i = 0; i < n; i++) {
		if (!model_valid(&recs[i], &alen)) {
			*emitted = i;
			return -EINVAL;
		}
		len = model_msg(msg, &recs[i], alen, seq + (uint32_t)i, pid);
		if (len > cap - pos)
			break;
		memcpy(out + pos, msg, len);
		pos += len;
	}
	*emitted = i;
	return (long)pos;
}

static void rand_bytes(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd();
}

static void gen_rec(struct nlc_addr *r)
{
	size_t nul;

	rand_bytes((uint8_t *)r, sizeof *r);
	r->type = (uint16_t)(20 + below(2));
	r->family = below(2) ? 10 : 2;
	r->prefixlen = (uint8_t)below(r->family == 2 ? 33 : 129);
	r->present = (rnd() & 0x1ffu) | (1u + below(3));
	r->ifa_flags = below(2) ? rnd() & 0xffu : rnd() & 0xfffu;
	nul = below(16);
	r->label[nul] = 0;
	if (below(8))
		return;
	switch (below(5)) { /* one way to be invalid (or, by chance, still valid) */
	case 0: r->type = (uint16_t)(below(2) ? rnd() : 19 + below(4)); break;
	case 1: r->family = (uint8_t)(below(2) ? rnd() : below(12)); break;
	case 2: r->present = below(2) ? rnd() & 0x3ffu : r->present & ~3u; break;
	case 3: r->prefixlen = (uint8_t)(below(2) ? rnd() : (r->family == 2 ? 32 : 128) + below(3)); break;
	default: memset(r->label, 'x', sizeof r->label); r->present |= 0x20u; break;
	}
}

/* One record set against every capacity 0..200, each in an exact-size heap block. */
static void emit_case(size_t n)
{
	struct nlc_addr *recs = xmalloc(n * REC_SIZE);
	uint8_t *want = xmalloc(n * MAXMSG + 1);
	uint32_t seq = below(4) ? rnd() : 0xfffffffeu, pid = rnd();
	size_t cap, i, got_n, want_n;

	for (i = 0; i < n; i++)
		gen_rec(&recs[i]);
	for (cap = 0; cap <= 200; cap++) {
		uint8_t *buf = xmalloc(cap);
		long got, exp;

		memset(buf, 0xa5, cap);
		exp = model_emit(want, cap, recs, n, seq, pid, &want_n);
		got = nlc_addr_emit(buf, cap, recs, n, seq, pid, &got_n);
		CHECK(got == exp && got_n == want_n, "emit n=%zu cap=%zu: got %ld/%zu want %ld/%zu",
		      n, cap, got, got_n, exp, want_n);
		if (got == exp && exp > 0)
			CHECK(!memcmp(buf, want, (size_t)exp), "emit n=%zu cap=%zu: bytes differ", n, cap);
		for (i = got > 0 ? (size_t)got : 0; i < cap && buf[i] == 0xa5; i++)
			;
		CHECK(i == cap || got < 0, "emit n=%zu cap=%zu: wrote past the end (%zu)", n, cap, i);
		free(buf);
	}
	emit_cases++;
	free(want);
	free(recs);
}

/* Many records into one buffer of exactly their size, then one byte less. */
static void emit_bulk(size_t n)
{
	struct nlc_addr *recs = xmalloc(n * REC_SIZE);
	uint8_t *want = xmalloc(n * MAXMSG);
	size_t i, total, got_n, want_n, alen;
	uint8_t *buf;
	long got;

	for (i = 0; i < n; i++) {
		do
			gen_rec(&recs[i]);
		while (!model_valid(&recs[i], &alen));
	}
	total = (size_t)model_emit(want, n * MAXMSG, recs, n, 7, 0, &want_n);
	buf = xmalloc(total);
	got = nlc_addr_emit(buf, total, recs, n, 7, 0, &got_n);
	CHECK(got == (long)total && got_n == n && !memcmp(buf, want, total), "bulk emit");
	got = nlc_addr_emit(buf, total - 1, recs, n, 7, 0, &got_n);
	CHECK(got_n == n - 1 && got < (long)total, "bulk emit, one byte short: %zu", got_n);
	free(buf);
	free(want);
	free(recs);
}

static void emit_golden(void)
{
	static const uint8_t kata[64] = {
		64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0,
		20, 0, 1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183,
		20, 0, 2, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183 };
	static const uint8_t ll[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
					0xc4, 0x4c, 0x1c, 0xff, 0xfe, 0x84, 0xf6, 0xb7 };
	struct nlc_addr *r = xmalloc(REC_SIZE);
	uint8_t *buf;
	size_t cap, got_n;
	long got;

	memset(r, 0, REC_SIZE);
	r->type = 20;
	r->nlflags = 0x505;
	r->family = 10;
	r->prefixlen = 64;
	r->index = 2;
	r->present = NLC_A_LOCAL | NLC_A_PEER | NLC_A_ADDRESS_FIRST;
	memcpy(r->local, ll, 16);
	memcpy(r->address, ll, 16);
	for (cap = 63; cap <= 64; cap++) {
		buf = xmalloc(cap);
		got = nlc_addr_emit(buf, cap, r, 1, 19, 0, &got_n);
		if (cap == 64)
			CHECK(got == 64 && got_n == 1 && !memcmp(buf, kata, 64), "kata vector");
		else
			CHECK(got == 0 && got_n == 0, "kata vector does not fit in 63 bytes");
		free(buf);
	}
	memset(r->label, 'x', sizeof r->label); /* no NUL, but NLC_A_LABEL is not set: valid */
	buf = xmalloc(64);
	CHECK(nlc_addr_emit(buf, 64, r, 1, 19, 0, &got_n) == 64, "label without NUL, unused");
	r->present |= NLC_A_LABEL; /* now invalid, even with no room at all */
	CHECK(nlc_addr_emit(buf, 0, r, 1, 19, 0, &got_n) == -EINVAL && got_n == 0, "bad label");
	free(buf);
	free(r);
}

/* ---- scanner model ------------------------------------------------------------------- */

static long model_scan(const uint8_t *b, size_t len, size_t cap, uint32_t *seq, int32_t *err,
		       uint32_t *off, uint32_t *tf, size_t *stop)
{
	long long left = (long long)len;
	size_t pos = 0, i = 0;

	while (i < cap && left > 0) {
		uint32_t n, type;

		if (left < 16 || (n = rd32(b + pos)) < 16 || n > left ||
		    ((type = b[pos + 4] | (uint32_t)b[pos + 5] << 8) == 2 && n < 36)) {
			*stop = pos;
			return -EBADMSG;
		}
		seq[i] = rd32(b + pos + 8);
		err[i] = (type == 2 || (type == 3 && n >= 20)) ? (int32_t)rd32(b + pos + 16) : 0;
		off[i] = (uint32_t)pos;
		tf[i] = type | (uint32_t)(b[pos + 6] | b[pos + 7] << 8) << 16;
		i++;
		pos += (n + 3u) & ~3u;
		left -= (long long)((n + 3u) & ~3u);
	}
	*stop = pos < len ? pos : len;
	return (long)i;
}

/* Run both scanners over an exact-size copy of src[0..len) with exact-size arrays. */
static void scan_check(const uint8_t *src, size_t len, size_t cap, const char *what)
{
	uint8_t *b = dup_exact(src, len);
	uint32_t *a = xmalloc(cap * 4 * sizeof *a), *m = xmalloc(cap * 4 * sizeof *m);
	size_t s1 = 12345, s2 = 54321;
	long got, exp;

	memset(a, 0x5a, cap * 4 * sizeof *a);
	memset(m, 0x5a, cap * 4 * sizeof *m);
	got = nlc_acks_scan(b, len, a, (int32_t *)(a + cap), a + 2 * cap, a + 3 * cap, cap, &s1, NULL);
	exp = model_scan(b, len, cap, m, (int32_t *)(m + cap), m + 2 * cap, m + 3 * cap, &s2);
	CHECK(got == exp && s1 == s2, "scan %s len=%zu cap=%zu: got %ld@%zu want %ld@%zu", what,
	      len, cap, got, s1, exp, s2);
	CHECK(!cap || !memcmp(a, m, cap * 4 * sizeof *a), "scan %s len=%zu: arrays", what, len);
	scan_cases++;
	free(m);
	free(a);
	free(b);
}

static size_t put_msg(uint8_t *p, uint32_t len, uint32_t type, uint32_t flags, uint32_t seq)
{
	put32(p, len);
	put16(p + 4, type);
	put16(p + 6, flags);
	put32(p + 8, seq);
	put32(p + 12, 0);
	return (len + 3u) & ~3u;
}

/* A valid reply stream: acks, extack errors, DONE with and without a payload, others. */
static size_t gen_stream(uint8_t *b, size_t room, size_t *count)
{
	size_t pos = 0, k = 0;

	while (pos + 96 <= room && below(6)) {
		uint32_t kind = below(5), seq = rnd(), n;
		uint8_t *p = b + pos;

		if (kind == 0 || kind == 1) { /* ack / error, capped, maybe with an extack msg */
			n = kind ? 36 + 4 + 16 : 36;
			rand_bytes(p, n);
			put_msg(p, n, 2, kind ? 0x300 : 0x100, seq);
			put32(p + 16, kind ? (uint32_t)-(int32_t)(1 + below(133)) : 0);
			if (kind) {
				put16(p + 36, 20);
				put16(p + 38, 1);
			}
		} else if (kind == 2) { /* DONE, payload of 0..7 bytes */
			n = 16 + below(8);
			rand_bytes(p, (n + 3u) & ~3u);
			put_msg(p, n, 3, 2, seq);
		} else { /* anything else, unaligned length, random padding */
			n = 16 + below(60);
			rand_bytes(p, (n + 3u) & ~3u);
			put_msg(p, n, rnd() & 0xffffu, rnd() & 0xffffu, seq);
		}
		pos += (n + 3u) & ~3u;
		k++;
	}
	*count = k;
	return pos;
}

static void scan_golden(void)
{
	uint8_t s[36 + 80 + 20];
	static const char msg[] = "ipv6: IPv6 is disabled on this device.";
	uint32_t *a = xmalloc(3 * 4 * sizeof *a);
	uint8_t *b;
	size_t stop, p;
	long got;

	memset(s, 0, sizeof s);
	p = put_msg(s, 36, 2, 0x100, 19);                       /* ack of seq 19 */
	put_msg(s + 20, 64, 20, 0x505, 19);                     /* its echoed header */
	p += put_msg(s + p, 80, 2, 0x300, 20);                  /* EACCES + extack */
	put32(s + 52, (uint32_t)-13);
	put_msg(s + 56, 64, 20, 0x505, 20);
	put16(s + 72, 4 + sizeof msg);
	put16(s + 74, 1);
	memcpy(s + 76, msg, sizeof msg - 1);
	p += put_msg(s + p, 20, 3, 2, 21);                       /* DONE, error 0 */
	b = dup_exact(s, p);
	got = nlc_acks_scan(b, p, a, (int32_t *)(a + 3), a + 6, a + 9, 3, &stop, NULL);
	CHECK(p == 136 && got == 3 && stop == 136, "golden scan: %ld stop %zu", got, stop);
	CHECK(a[0] == 19 && a[1] == 20 && a[2] == 21, "golden seq");
	CHECK((int32_t)a[3] == 0 && (int32_t)a[4] == -13 && (int32_t)a[5] == 0, "golden err");
	CHECK(a[6] == 0 && a[7] == 36 && a[8] == 116, "golden off");
	CHECK(a[9] == 0x1000002u && a[10] == 0x3000002u && a[11] == 0x20003u, "golden tf");
	got = nlc_acks_scan(b, 35, a, (int32_t *)(a + 3), a + 6, a + 9, 3, &stop, NULL);
	CHECK(got == -EBADMSG && stop == 0, "golden: ack cut at 35 bytes");
	got = nlc_acks_scan(b, 136, a, (int32_t *)(a + 3), a + 6, a + 9, 1, &stop, NULL);
	CHECK(got == 1 && stop == 36, "golden: cap 1");
	free(b);
	free(a);
}

/* Random and mutated streams: every prefix, lying lengths, zero headers, flipped bytes. */
static void scan_fuzz(unsigned rounds)
{
	static const uint32_t lies[] = { 0, 1, 4, 15, 16, 17, 19, 20, 35, 36, 37, 0xffffffffu };
	uint8_t s[1024];
	unsigned r;

	for (r = 0; r < rounds; r++) {
		size_t k, len = gen_stream(s, sizeof s, &k), i, at;
		size_t cap = below(4) ? k + 1 : below((uint32_t)k + 2);

		scan_check(s, len, cap, "valid");
		for (i = 0; i < len && r % 8 == 0; i++)
			scan_check(s, i, cap, "prefix");
		if (len < 16)
			continue;
		at = below((uint32_t)(len - 15)) & ~(size_t)3u;  /* some header, or not */
		put32(s + at, below(2) ? lies[below((uint32_t)(sizeof lies / sizeof lies[0]))] : (uint32_t)(len - at + below(3)) - 1);
		scan_check(s, len, cap, "lying length");
		memset(s + at, 0, 16);
		scan_check(s, len, cap, "zero header");
		for (i = below(4); i > 0; i--)
			s[below((uint32_t)len)] = (uint8_t)rnd();
		scan_check(s, len, cap, "flipped");
		put16(s + at + 4, 2);
		scan_check(s, len, cap, "error type");
		rand_bytes(s, len);
		scan_check(s, below((uint32_t)len), below(6), "random");
	}
}

int main(int argc, char **argv)
{
	unsigned i;

	rng = 0x6e6c636f72652121ull;  /* a fixed seed: the same cases every run */
	if (argc > 1 && !strcmp(argv[1], "overflow")) {
		volatile uint8_t *p = xmalloc(36);
		int v = p[36]; /* one past the end: ASan must stop here */
		printf("harness: overflow not detected (%d)\n", v);
		return 0;
	}
	emit_golden();
	scan_golden();
	for (i = 0; i < 3000; i++)
		emit_case(below(6));
	emit_bulk(2000);
	scan_fuzz(20000);
	if (failures) {
		printf("harness: FAIL %lu of %lu checks\n", failures, checks);
		return 1;
	}
	printf("harness: OK %lu checks, %lu emit cases x 201 capacities, %lu scans\n", checks,
	       emit_cases, scan_cases);
	return 0;
}
