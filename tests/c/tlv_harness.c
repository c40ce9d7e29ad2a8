/* csrc/attrs.c under ASan/UBSan: nlc_tlv_walk over golden records and deterministic
 * pseudo-random buffers, each in an exact-size heap block, against a reference model that
 * checks the three conditions its own way. Prints "tlv_harness: OK <checks> checks <walks>
 * walks" or the first disagreement. Built and run by tests/test_codec_native.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlcore.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static unsigned long checks, walks;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* The model: count records, -1 for malformed, stop offset in *stop. */
static long model(const uint8_t *b, size_t start, size_t end, size_t hdr, size_t cap,
                  uint32_t *out, size_t *stop)
{
	size_t pos = start, i = 0;

	for (; pos < end && i < cap; i++) {
		unsigned n;
		if (end - pos < hdr) {
			*stop = pos;
			return -1;
		}
		n = (unsigned)b[pos] | (unsigned)b[pos + 1] << 8;
		if (n < hdr || n > end - pos) {
			*stop = pos;
			return -1;
		}
		out[3 * i] = (uint32_t)b[pos + 2] | (uint32_t)b[pos + 3] << 8;
		out[3 * i + 1] = (uint32_t)pos;
		out[3 * i + 2] = n;
		pos += (n + 3u) & ~3u;
		if (pos > end)
			pos = end;
	}
	*stop = pos;
	return (long)i;
}

static int check(const uint8_t *src, size_t len, size_t start, size_t end, size_t hdr,
                 size_t cap)
{
	uint8_t *b = malloc(len ? len : 1);
	uint32_t *o1 = calloc(3 * cap + 1, sizeof *o1), *o2 = calloc(3 * cap + 1, sizeof *o2);
	size_t s1 = 0, s2 = 0;
	long r1, r2;
	int ok;

	memcpy(b, src, len);
	r1 = nlc_tlv_walk(b, len, start, end, hdr, o1, cap, &s1);
	r2 = model(b, start, end, hdr, cap, o2, &s2);
	walks++;
	ok = (r1 < 0 ? -1 : r1) == r2 && s1 == s2 &&
	     (r1 <= 0 || memcmp(o1, o2, (size_t)r1 * 3 * sizeof *o1) == 0);
	checks += 3;
	if (!ok)
		printf("tlv_harness: MISMATCH len %zu start %zu end %zu hdr %zu cap %zu: %ld/%ld "
		       "stop %zu/%zu\n", len, start, end, hdr, cap, r1, r2, s1, s2);
	free(b);
	free(o1);
	free(o2);
	return ok;
}

static size_t build(uint8_t *buf, size_t room)
{
	size_t pos = 0;

	while (pos + 8 <= room && rnd() % 8) {
		size_t n = 4 + rnd() % 24;
		uint16_t len16 = (uint16_t)(rnd() % 16 == 0 ? rnd() : n);
		if (pos + n > room)
			n = room - pos;
		memcpy(buf + pos, &len16, 2);
		buf[pos + 2] = (uint8_t)rnd();
		buf[pos + 3] = (uint8_t)rnd();
		for (size_t k = 4; k < n; k++)
			buf[pos + k] = (uint8_t)rnd();
		pos += (n + 3u) & ~(size_t)3u;
		if (pos > room)
			pos = room;
	}
	return pos;
}

int main(void)
{
	static const uint8_t golden[] = {8, 0, 1, 0, 198, 51, 100, 0, 8, 0, 5, 0, 192, 0, 2, 2,
	                                 5, 0, 3, 0, 9, 0, 0, 0, 16, 0, 0, 1, 3, 0, 0, 0};
	uint8_t buf[256];
	int ok = 1;

	for (size_t s = 0; s <= sizeof golden; s++)
		for (size_t e = s; e <= sizeof golden; e++)
			for (size_t cap = 0; cap < 6; cap++) {
				ok &= check(golden, sizeof golden, s, e, 4, cap);
				ok &= check(golden, sizeof golden, s, e, 8, cap);
			}
	for (int it = 0; it < 200000 && ok; it++) {
		size_t len = build(buf, rnd() % sizeof buf);
		size_t end = len ? (rnd() % 4 ? len : rnd() % (len + 1)) : 0;
		size_t start = rnd() % 8 ? 0 : (end ? rnd() % (end + 1) : 0);
		ok &= check(buf, len, start, end, rnd() % 2 ? 4 : 8, rnd() % 12);
	}
	if (!ok)
		return 1;
	printf("tlv_harness: OK %lu checks %lu walks\n", checks, walks);
	return 0;
}
