/* csrc/dump.c under ASan/UBSan: nlc_dump_scan over deterministic pseudo-random datagrams
 * (well-formed, then with lengths and bytes mutated), each copied into an exact-size heap
 * block, against a byte-by-byte reference model. Prints "dump_harness: OK <checks> checks
 * <scans> scans" or the first disagreement. Built and run by tests/test_dumpscan.py. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlcore.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Du;
static unsigned long checks, scans;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static uint32_t le(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int k = n - 1; k >= 0; k--)
		v = v << 8 | p[k];
	return v;
}

static uint32_t model_attrs(const uint8_t *b, size_t pos, size_t end, uint32_t *mask)
{
	uint32_t n = 0;
	*mask = 0;
	while (pos < end) {
		uint32_t len, t;
		if (end - pos < 4)
			return 0xffffffffu;
		len = le(b + pos, 2);
		if (len < 4 || len > end - pos)
			return 0xffffffffu;
		t = le(b + pos + 2, 2) & 0x3fffu;
		*mask |= t < 31 ? 1u << t : 1u << 31;
		n++;
		pos += (len + 3u) & ~3u;
	}
	return n;
}

static long model(const uint8_t *b, size_t len, size_t start, size_t fixed, uint32_t *out,
                  size_t cap, size_t *stop)
{
	size_t pos = start, i = 0;
	for (; pos < len && i < cap; i++) {
		uint32_t n, *r = out + NLC_DUMP_COLS * i;
		if (len - pos < 16 || (n = le(b + pos, 4)) < 16 || n > len - pos) {
			*stop = pos;
			return -1;
		}
		r[0] = (uint32_t)pos, r[1] = n, r[2] = le(b + pos + 4, 4);
		r[3] = le(b + pos + 8, 4), r[4] = le(b + pos + 12, 4), r[6] = 0;
		r[5] = le(b + pos + 4, 2) < 16 || n < 16 + fixed ? 0xfffffffeu
		       : model_attrs(b, pos + 16 + fixed, pos + n, &r[6]);
		pos += (n + 3u) & ~3u;
		if (pos > len)
			pos = len;
	}
	*stop = pos;
	return (long)i;
}

static int check(const uint8_t *src, size_t len, size_t start, size_t fixed, size_t cap)
{
	uint8_t *b = malloc(len ? len : 1);
	uint32_t *o1 = calloc(NLC_DUMP_COLS * cap + 1, 4), *o2 = calloc(NLC_DUMP_COLS * cap + 1, 4);
	size_t s1 = 0, s2 = 0;
	long r1, r2;
	int ok;

	memcpy(b, src, len);
	r1 = nlc_dump_scan(b, len, start, fixed, o1, cap, &s1);
	r2 = model(b, len, start, fixed, o2, cap, &s2);
	scans++;
	checks += 3;
	ok = (r1 < 0 ? -1 : r1) == r2 && s1 == s2 &&
	     (r1 <= 0 || memcmp(o1, o2, (size_t)r1 * NLC_DUMP_COLS * 4) == 0);
	if (!ok)
		printf("dump_harness: MISMATCH len %zu start %zu fixed %zu cap %zu: %ld/%ld stop "
		       "%zu/%zu\n", len, start, fixed, cap, r1, r2, s1, s2);
	free(b);
	free(o1);
	free(o2);
	return ok;
}

/* A datagram of messages: nlmsghdr, `fixed` bytes, attributes; lengths sometimes forged. */
static size_t build(uint8_t *buf, size_t room, size_t fixed)
{
	size_t pos = 0;
	while (pos + 16 + fixed <= room && rnd() % 6) {
		size_t start = pos, p = pos + 16 + fixed, end = p + rnd() % 64;
		uint32_t n;
		if (end > room)
			end = room;
		for (size_t k = pos; k < end; k++)
			buf[k] = (uint8_t)rnd();
		while (p + 4 <= end) {
			uint16_t a = (uint16_t)(4 + rnd() % 12);
			if (rnd() % 16 == 0)
				a = (uint16_t)rnd();
			memcpy(buf + p, &a, 2);
			p += (a + 3u) & ~3u;
		}
		n = (uint32_t)(end - start);
		if (rnd() % 24 == 0)
			n = rnd() % 2 ? rnd() : n + 4;
		memcpy(buf + start, &n, 4);
		buf[start + 4] = (uint8_t)(rnd() % 4 ? 20 + rnd() % 12 : rnd() % 20);
		buf[start + 5] = (uint8_t)(rnd() % 8 ? 0 : rnd());
		pos = (end + 3u) & ~(size_t)3u;
		if (pos > room)
			pos = room;
	}
	return pos;
}

int main(void)
{
	uint8_t buf[512];
	int ok = 1;

	for (int it = 0; it < 100000 && ok; it++) {
		size_t fixed = rnd() % 3 ? (rnd() % 2 ? 8 : 12) : rnd() % 40;
		size_t len = build(buf, rnd() % sizeof buf, fixed);
		size_t start = rnd() % 6 ? 0 : (len ? rnd() % (len + 1) : 0);
		if (rnd() % 8 == 0 && len)
			len = rnd() % (len + 1);  /* cut anywhere */
		if (start > len)
			start = len;
		ok &= check(buf, len, start, fixed, rnd() % 8 ? 64 : rnd() % 4);
	}
	{ /* start past the end: -EINVAL, nothing read or stored */
		uint32_t row[NLC_DUMP_COLS] = {0};
		size_t stop = 0;
		ok &= nlc_dump_scan(buf, 10, 11, 8, row, 1, &stop) == -EINVAL && stop == 11;
		checks++;
	}
	if (!ok)
		return 1;
	printf("dump_harness: OK %lu checks %lu scans\n", checks, scans);
	return 0;
}
