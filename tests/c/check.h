/* What the C harnesses share (harness.c, fuzz_harness.c): CHECK (count a check; report a
 * failure with its line; stop after 20), a seeded splitmix64 generator (rng: set it before
 * the first rnd()) and byte-wise little-endian stores, written apart from csrc/.
 */
#ifndef NLCORE_TEST_CHECK_H
#define NLCORE_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long checks, failures;
static uint64_t rng;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		checks++;                                                         \
		if (!(cond)) {                                                    \
			failures++;                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			if (failures > 20)                                        \
				exit(1);                                          \
		}                                                                 \
	} while (0)

static inline uint32_t rnd(void) /* splitmix64, high half */
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static inline uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static inline void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffffu);
	put16(p + 2, v >> 16);
}

#endif
