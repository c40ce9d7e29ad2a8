/* csrc/bulk.c under ASan/UBSan: every input in a buffer of exactly its size (malloc), so a
 * one-byte overread is caught; random and hand-picked texts through nlc_addr_bulk (with and
 * without marks), nlc_addr_bulk_range and nlc_batch_scan. Prints one OK line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlcore.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static unsigned next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 32);
}

static const char *PIECES[] = {
	"198.51.100.1", "/24", "/", "2001:db8::1", "/128", "/129", "::", ":", ".", "a", "addr",
	"add", "del", "replace", "dev", "v0", "v1", "nodad", "home", " ", "\t", "\n", "\n", "#",
	"\\", "\"", "'", "\x1c", "\xc3\xa9", "0", "00000000000000000000000000000000000000000000032",
	"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "127.0.0.1", "address", "r", "d",
	"0123456789abcdefghij", "\0",
};

static size_t make_text(char *buf, size_t cap)
{
	size_t len = 0, parts = next() % 40;
	for (size_t i = 0; i < parts; i++) {
		const char *p = PIECES[next() % (sizeof PIECES / sizeof PIECES[0])];
		size_t n = strlen(p) ? strlen(p) : 1;  /* "\0" is one NUL byte */
		if (len + n > cap)
			break;
		memcpy(buf + len, p, n);
		len += n;
	}
	return len;
}

int main(void)
{
	static char scratch[4096];
	struct nlc_addr tmpls[3];
	uint32_t index[2] = {5, 6};
	char names[2][16] = {"v0", "v1"};
	unsigned long checks = 0;

	memset(tmpls, 0, sizeof tmpls);
	for (int k = 0; k < 3; k++) {
		tmpls[k].type = (uint16_t)(k == 1 ? 21 : 20);
		tmpls[k].present = 0x1u | NLC_BULK_AUTOSCOPE;
	}
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = make_text(scratch, sizeof scratch), nl = 0, bad;
		uint8_t *text = malloc(len ? len : 1);
		memcpy(text, scratch, len);
		for (size_t i = 0; i < len; i++)
			nl += text[i] == '\n';
		{
			size_t n = nl + 1 + (size_t)(next() % 2);  /* sometimes one item too many */
			struct nlc_addr *out = malloc(n * sizeof *out);
			uint8_t *marks = malloc(n), *kind = malloc(n);
			for (size_t i = 0; i < n; i++)
				kind[i] = (uint8_t)(next() % 4);  /* 3: no such template */
			long rc = nlc_addr_bulk(text, len, n, tmpls, 3, kind, index, 2, NULL, out, &bad);
			if (rc >= 0 && (size_t)rc != n)
				return printf("bulk: %ld of %zu\n", rc, n), 1;
			rc = nlc_addr_bulk(text, len, n, tmpls, 3, kind, index, 2, marks, out, &bad);
			if (rc < 0 || (size_t)rc > n)
				return printf("bulk marks: %ld\n", rc), 1;
			free(out);
			free(marks);
			free(kind);
		}
		{
			size_t nlines = nl + 1;
			struct nlc_addr *out = malloc(nlines * sizeof *out);
			uint32_t *lines = malloc(nlines * 4), *slow = malloc(nlines * 4), counts[3];
			long rc = nlc_batch_scan(text, len, tmpls, (const char (*)[16])names, index, 2,
						 (uint8_t)(next() % 3 == 0 ? 10 : 0), out, lines, nlines,
						 slow, counts);
			if (rc != (long)nlines || counts[0] + counts[1] > nlines)
				return printf("scan: %ld lines, counts %u %u\n", rc, counts[0], counts[1]), 1;
			free(out);
			free(lines);
			free(slow);
		}
		free(text);
		checks += 3;
	}
	{
		uint8_t base[16] = {255, 255, 255, 250};
		struct nlc_addr out[10];
		size_t bad;
		if (nlc_addr_bulk_range(base, 2, 32, 10, tmpls, index, 2, out, &bad) != -34 || bad != 6)
			return printf("range: bad %zu\n", bad), 1;
		checks++;
	}
	printf("bulk_harness: OK %lu checks\n", checks);
	return 0;
}
