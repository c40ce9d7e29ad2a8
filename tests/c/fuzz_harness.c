/* Fuzz harness for csrc/wire.c and csrc/sock.c (built by tests/test_fuzz.py).
 *
 * Compiled with -fsanitize=address,undefined -fno-sanitize-recover=all. Usage:
 *     fuzz_harness ITERATIONS SEED
 * Each iteration builds a valid reply stream (acks, errors echoing a request made by
 * nlc_addr_emit, DONE with extack, address dump parts), mutates it (lengths, types, flags,
 * truncation, splices, byte flips) or replaces it by random bytes, and copies it into a heap
 * block of exactly its size. nlc_acks_scan and nlc_acks_match then run over it with output
 * arrays that are exact heap blocks too; nlc_addr_emit runs over mutated records into an
 * exact-capacity buffer, nlc_route_bulk over them with route samples (valid, altered or
 * random bytes) into an exact-capacity buffer; every 16th iteration nlc_sock_recv drains
 * random datagrams from a socketpair into an exact-capacity buffer, and nlc_window_run takes
 * the stream as replies from a socketpair (whose sends fail) for a random window of records
 * or messages, exact heap blocks all. Sanitizers catch any out-of-bounds access or
 * undefined behaviour; invariants of each contract (nlcore.h) are checked on every call.
 * Prints "fuzz_harness: OK ..." and exits 0, or reports the first failures and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "nlcore.h"

#define STREAM_MAX 4096
#define REC_SIZE sizeof(struct nlc_addr)

static unsigned long scans, matches, emits, routes, recvs, windows, wacks, wstops[6];

static void *xmalloc(size_t n) /* exact size, so ASan sees one byte past the end */
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		perror("malloc");
		exit(2);
	}
	return p;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t pick(const uint32_t *v, size_t n)
{
	return v[below((uint32_t)n)];
}

/* A record valid per nlc_addr_emit's rules (when `broken` is 0). */
static void gen_record(struct nlc_addr *r, int broken)
{
	uint8_t *raw = (uint8_t *)r;
	size_t i;

	for (i = 0; i < REC_SIZE; i++)
		raw[i] = (uint8_t)rnd();
	r->type = (uint16_t)(20u + below(2));
	r->family = below(2) ? 2 : 10;
	r->prefixlen = (uint8_t)below(r->family == 2 ? 33u : 129u);
	r->present = (below(0x200u) & 0x1ffu) | (1u + below(3));
	r->label[below(16)] = 0;
	if (below(4) == 0)
		r->ifa_flags &= 0xffu;
	if (broken) {
		size_t at = below(REC_SIZE);
		raw[at] = (uint8_t)rnd();
	}
}

static size_t put_tlv(uint8_t *p, uint32_t type, const void *data, uint32_t len)
{
	put16(p, 4 + len);
	put16(p + 2, type);
	memcpy(p + 4, data, len);
	memset(p + 4 + len, 0, (4 - (len & 3)) & 3);
	return (4 + len + 3) & ~3u;
}

/* One valid message at p (room >= 512); returns its padded length. */
static size_t gen_message(uint8_t *p, uint32_t seq)
{
	static const char warn[] = "ipv6: IPv6 is disabled on this device";
	uint32_t kind = below(5), flags = 0, type = 2, off = 24;
	int32_t err = -(int32_t)below(140);
	size_t n = 16, emitted = 0;
	struct nlc_addr r;

	memset(p, 0, 512);
	if (kind <= 2) { /* ack / error: error, echoed request (whole or header), TLVs */
		long rc;
		gen_record(&r, 0);
		rc = nlc_addr_emit(p + 20, 160, &r, 1, seq, 0, &emitted);
		memcpy(p + 16, &err, 4);
		if (kind == 0 || rc <= 0 || below(2)) {
			if (kind == 0)
				memset(p + 16, 0, 4);
			flags = 0x100; /* NLM_F_CAPPED: only the header */
			if (rc <= 0)
				put32(p + 20, 16);
			n = 36;
		} else {
			n = 20 + (size_t)rc;
			if (below(4) == 0) { /* an echo whose length is not a multiple of 4 */
				put32(p + 20, (uint32_t)rc - 1 - below(3));
				n = 20 + get32(p + 20);
				if (below(2)) {
					flags = 0x200; /* NLM_F_ACK_TLVS, but no TLV */
					goto header;
				}
			}
		}
		if (below(2)) {
			flags |= 0x200;
			n = (n + 3) & ~(size_t)3;
			n += put_tlv(p + n, 1, warn, sizeof warn);
			if (kind != 0)
				n += put_tlv(p + n, 2, &off, 4);
		}
	} else if (kind == 3) { /* NLMSG_DONE with error and maybe extack */
		type = 3;
		flags = 0x2;
		memcpy(p + 16, &err, 4);
		n = 20;
		if (below(2)) {
			flags |= 0x200;
			n += put_tlv(p + n, 1, warn, sizeof warn);
		}
	} else { /* an address dump part */
		gen_record(&r, 0);
		if (nlc_addr_emit(p, 160, &r, 1, seq, 0, &emitted) <= 0)
			memset(p, 0, 16);
		n = get32(p) < 16 ? 16 : get32(p);
		type = 20;
		flags = 0x2;
	}
header:
	put32(p, (uint32_t)n);
	put16(p + 4, type);
	put16(p + 6, flags);
	put32(p + 8, seq);
	return (n + 3) & ~(size_t)3;
}

static size_t gen_stream(uint8_t *s, uint32_t *first)
{
	size_t len = 0, k = 1 + below(8), i;

	*first = below(4) ? rnd() : 0xffffffffu - below(4);
	for (i = 0; i < k && len + 512 <= STREAM_MAX; i++)
		len += gen_message(s + len, *first + (uint32_t)i + (below(8) == 0 ? below(3) : 0));
	return len;
}

static size_t mutate(uint8_t *s, size_t len)
{
	static const uint32_t lies[] = { 0, 1, 3, 4, 15, 16, 17, 19, 20, 35, 36, 37,
					 0xffffu, 0x7fffffffu, 0xffffffffu };
	uint32_t ops = below(5), at;

	while (ops-- && len) {
		at = below((uint32_t)len);
		switch (below(7)) {
		case 0: /* a length: message or attribute header, or anywhere */
			if (len >= 4 && at <= len - 4)
				put32(s + at, below(2) ? pick(lies, sizeof lies / 4) : below(600));
			break;
		case 1:
			if (len >= 2 && at <= len - 2)
				put16(s + at, pick(lies, sizeof lies / 4));
			break;
		case 2: /* type / flags of a message */
			if (len >= 8 && (at & ~3u) <= len - 8)
				put16(s + (at & ~3u) + 4 + 2 * below(2), rnd() & 0x3ffu);
			break;
		case 3:
			len = below((uint32_t)len + 1);
			break;
		case 4: { /* splice: copy a chunk of the stream over another place */
			uint32_t from = below((uint32_t)len), n = below(64);
			if (n > len - from)
				n = (uint32_t)(len - from);
			if (n > len - at)
				n = (uint32_t)(len - at);
			memmove(s + at, s + from, n);
			break;
		}
		case 5:
			s[at] = (uint8_t)rnd();
			break;
		default:
			if (len + 64 <= STREAM_MAX) { /* grow by random bytes */
				uint32_t n = below(64), i;
				for (i = 0; i < n; i++)
					s[len + i] = (uint8_t)rnd();
				len += n;
			}
		}
	}
	return len;
}

static void fuzz_scan(const uint8_t *buf, size_t len)
{
	size_t cap = below(4) ? below(12) : 64, stop = 0xdead, i;
	uint32_t *seq = xmalloc(cap * 4), *off = xmalloc(cap * 4), *tf = xmalloc(cap * 4);
	uint32_t *ext = below(4) ? xmalloc(cap * 12) : NULL;
	int32_t *err = xmalloc(cap * 4);
	long rc = nlc_acks_scan(buf, len, seq, err, off, tf, cap, &stop, ext);

	scans++;
	CHECK(rc == -EBADMSG || (rc >= 0 && (size_t)rc <= cap), "scan rc %ld cap %zu", rc, cap);
	CHECK(stop <= len, "scan stop %zu > len %zu", stop, len);
	for (i = 0; rc > 0 && i < (size_t)rc; i++) {
		CHECK(off[i] + 16 <= len, "scan off[%zu]=%u len %zu", i, off[i], len);
		CHECK(i == 0 ? off[0] == 0 : off[i] > off[i - 1], "scan offsets not increasing");
		CHECK(seq[i] == get32(buf + off[i] + 8), "scan seq[%zu]", i);
		if (ext && ext[3 * i]) { /* the extack text lies inside its own message */
			size_t end = off[i] + get32(buf + off[i]);
			CHECK(ext[3 * i] > off[i] && (size_t)ext[3 * i] + ext[3 * i + 1] <= end,
			      "scan ext text [%u, +%u) outside message [%u, %zu)", ext[3 * i],
			      ext[3 * i + 1], off[i], end);
		}
	}
	if (rc >= 0 && (size_t)rc < cap)
		CHECK(stop == len, "scan stopped at %zu of %zu with room left", stop, len);
	free(seq);
	free(ext);
	free(err);
	free(off);
	free(tf);
}

static void fuzz_match(const uint8_t *buf, size_t len, uint32_t first)
{
	size_t count = below(10), dcap = below(3) ? below(4) : 256, i, changed = 0;
	int32_t *status = xmalloc(count * 4), *before = xmalloc(count * 4);
	uint32_t *detail = xmalloc(dcap * 4), counts[4] = { 0, 0, 0, 0xdead };
	long rc;

	for (i = 0; i < count; i++)
		before[i] = status[i] = below(4) ? 1 : -(int32_t)below(3);
	if (below(4) == 0)
		first = rnd();
	else
		first -= below(3);
	rc = nlc_acks_match(buf, len, first, status, count, 1, detail, dcap, counts);
	matches++;
	CHECK(rc == -EBADMSG || (rc >= 0 && (size_t)rc <= len), "match rc %ld len %zu", rc, len);
	CHECK(counts[3] <= dcap, "match detail %u > cap %zu", counts[3], dcap);
	for (i = 0; i < count; i++) {
		if (status[i] != before[i]) {
			CHECK(before[i] == 1, "match overwrote a settled status %zu", i);
			changed++;
		}
	}
	/* an "error" equal to `pending` (1; the kernel never sends > 0) changes nothing */
	CHECK(changed <= counts[0], "match answered %u but %zu changed", counts[0], changed);
	for (i = 0; i < counts[3] && i < dcap; i++) {
		CHECK(detail[i] + 36 <= len, "match detail[%zu]=%u len %zu", i, detail[i], len);
		if (detail[i] + 36 <= len)
			CHECK(get16(buf + detail[i] + 4) == 2, "match detail not NLMSG_ERROR");
	}
	free(status);
	free(before);
	free(detail);
}

static void fuzz_emit(void)
{
	size_t n = below(6), i, cap, emitted = 0xdead, stop = 0;
	struct nlc_addr *recs = xmalloc(n * REC_SIZE);
	uint8_t *out;
	long rc;

	for (i = 0; i < n; i++)
		gen_record(&recs[i], below(8) == 0);
	cap = below(3) ? below((uint32_t)(n * 160 + 1)) : n * 160;
	out = xmalloc(cap);
	rc = nlc_addr_emit(out, cap, recs, n, rnd(), rnd(), &emitted);
	emits++;
	CHECK(emitted <= n, "emit emitted %zu of %zu", emitted, n);
	CHECK(rc == -EINVAL || (rc >= 0 && (size_t)rc <= cap), "emit rc %ld cap %zu", rc, cap);
	if (rc > 0) { /* what was written is a clean stream of `emitted` messages */
		uint32_t s[8], o[8], t[8];
		int32_t e[8];
		long k = nlc_acks_scan(out, (size_t)rc, s, e, o, t, 8, &stop, NULL);
		CHECK(k == (long)emitted && stop == (size_t)rc, "emit output scans %ld/%zu", k,
		      emitted);
		for (i = 0; k > 0 && i < (size_t)k; i++)
			CHECK(get32(out + o[i]) <= 148, "emit message of %u bytes", get32(out + o[i]));
	}
	free(recs);
	free(out);
}

/* A route sample of `family` as RouteBulk makes one (header, rtmsg, RTA_DST, maybe a
 * gateway and a priority, RTA_OIF last), or with `broken` a byte of it changed. */
static size_t gen_sample(uint8_t *p, uint8_t family, int broken)
{
	uint32_t alen = family == 2 ? 4u : 16u, v = rnd(), len;
	uint8_t addr[16], rt[12] = { family, 24, 0, 0, 254, 3, 0, 1 };
	size_t n = 16;

	memset(p, 0, 16);
	for (size_t i = 0; i < sizeof addr; i++)
		addr[i] = (uint8_t)rnd();
	memcpy(p + n, rt, sizeof rt);
	n += sizeof rt;
	n += put_tlv(p + n, 1, addr, alen);
	if (below(2))
		n += put_tlv(p + n, 5, addr, alen);
	if (below(2))
		n += put_tlv(p + n, 6, &v, 4);
	n += put_tlv(p + n, 4, &v, 4);
	len = (uint32_t)n;
	memcpy(p, &len, 4);
	if (broken)
		p[below((uint32_t)n)] = (uint8_t)rnd();
	return n;
}

static void fuzz_route_bulk(void)
{
	size_t n = below(6), i, l4 = 0, l6 = 0, cap, bad = 0xdead;
	struct nlc_addr *recs = xmalloc(n * REC_SIZE);
	uint8_t t4[160], t6[160], *s4, *s6, *out;
	uint64_t *offs = xmalloc((n + 1) * sizeof *offs);
	long rc;

	for (i = 0; i < n; i++)
		gen_record(&recs[i], below(8) == 0);
	if (below(6)) {
		l4 = gen_sample(t4, 2, below(6) == 0);
	} else { /* random bytes of a random length */
		l4 = below(140);
		for (i = 0; i < l4; i++)
			t4[i] = (uint8_t)rnd();
	}
	if (below(6))
		l6 = gen_sample(t6, 10, below(6) == 0);
	s4 = xmalloc(l4);
	s6 = xmalloc(l6);
	memcpy(s4, t4, l4);
	memcpy(s6, t6, l6);
	cap = below(3) ? below((uint32_t)(n * 96 + 1)) : n * 96;
	out = xmalloc(cap);
	rc = nlc_route_bulk(recs, n, s4, l4, s6, l6, out, cap, offs, &bad);
	routes++;
	CHECK(rc == -EAFNOSUPPORT || rc == -ENOSPC || (rc >= 0 && (size_t)rc <= cap),
	      "route bulk rc %ld cap %zu", rc, cap);
	CHECK(rc >= 0 || bad < n, "route bulk bad %zu of %zu", bad, n);
	if (rc >= 0) { /* n whole messages back to back, each as long as its nlmsg_len */
		CHECK(offs[0] == 0 && offs[n] == (uint64_t)rc, "route bulk ends %lu", offs[n]);
		for (i = 0; i < n; i++)
			CHECK(offs[i + 1] > offs[i] && get32(out + offs[i]) == offs[i + 1] - offs[i],
			      "route bulk message %zu", i);
	}
	free(recs);
	free(offs);
	free(s4);
	free(s6);
	free(out);
}

static void fuzz_recv(void)
{
	int sv[2];
	size_t cap = below(2048), room = below(128), max = below(10), k = below(9), i;
	uint8_t *buf, dgram[700];
	uint32_t counts[3] = { 0, 0, 0 };
	long rc;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
		perror("socketpair");
		exit(2);
	}
	for (i = 0; i < k; i++) {
		size_t n = below(sizeof dgram), j;
		for (j = 0; j < n; j++)
			dgram[j] = (uint8_t)rnd();
		if (send(sv[1], dgram, n, MSG_DONTWAIT) < 0)
			break;
	}
	buf = xmalloc(cap);
	rc = nlc_sock_recv(sv[0], buf, cap, room, max, (int)(rnd() & 1), counts);
	recvs++;
	CHECK(rc == -EAGAIN || ((cap < 16 || max == 0) && rc == -EINVAL) ||
	      (rc >= 0 && (size_t)rc <= cap), "recv rc %ld cap %zu", rc, cap);
	CHECK(counts[0] == 0 && counts[2] == 0, "recv foreign %u overrun %u", counts[0], counts[2]);
	free(buf);
	close(sv[0]);
	close(sv[1]);
}

/* nlc_window_run on a socketpair: the stream split into datagrams as its replies, a random
 * window state (statuses, sent, settled, batch, window, quota, ack mode) over records or
 * messages (offsets sometimes out of order or past the run). Sends fail (a netlink address
 * on a unix socket), so the loop meets every stop but a full DONE of unsent requests. */
static uint8_t drain_buf[8192];

static void fuzz_window(const uint8_t *stream, size_t len, uint32_t first)
{
	int sv[2];
	size_t count = below(10), i, nrec = count + below(2), msgs = below(2), slen, scap, rcap;
	size_t noffs = count + 1, emitted = 0, at = 0;
	int32_t *status = xmalloc(count * 4), *before = xmalloc(count * 4);
	struct nlc_addr *recs = xmalloc(nrec * REC_SIZE);
	uint64_t *offs = xmalloc(noffs * sizeof *offs);
	uint8_t *src, *sbuf, *rbuf;
	struct nlc_win w;
	uint32_t pend = 0, extra = below(8) == 0;
	long rc;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
		perror("socketpair");
		exit(2);
	}
	while (at < len) { /* the stream as up to a few datagrams */
		size_t n = below(2) ? len - at : below((uint32_t)(len - at + 1));
		if (send(sv[1], stream + at, n, MSG_DONTWAIT) < 0)
			break;
		at += n ? n : len;
	}
	for (i = 0; i < nrec; i++)
		gen_record(&recs[i], below(16) == 0);
	if (msgs) { /* the records as messages, their offsets, sometimes altered */
		src = xmalloc(nrec * 160);
		slen = 0;
		for (i = 0; i < count; i++) {
			long n = nlc_addr_emit(src + slen, 160, &recs[i], 1, 0, 0, &emitted);
			offs[i] = slen;
			slen += n > 0 ? (size_t)n : 0;
		}
		offs[count] = slen;
		if (below(6) == 0)
			offs[below((uint32_t)noffs)] = rnd() % (slen + 8);
	} else {
		slen = nrec * REC_SIZE;
		src = xmalloc(slen);
		memcpy(src, recs, slen);
	}
	memset(&w, 0, sizeof w);
	w.first_seq = below(4) ? first - below(3) : rnd();
	w.count = (uint32_t)count;
	w.batch = below(8) ? 1 + below(4) : 0;
	w.window = w.batch + below(4) - (below(8) == 0);
	w.ack_last = below(2);
	w.names = below(2);
	w.quota = below(8) ? 1 + below(8) : 0;
	w.sent = count ? below((uint32_t)count + 1) : 0;
	w.settled = w.sent ? below(w.sent + 1) : 0;
	for (i = 0; i < count; i++) {
		uint32_t r = below(4);
		before[i] = status[i] = i >= w.sent || r == 0 ? 1 : r == 1 ? 4 : -(int32_t)below(3);
		pend += status[i] == 1;
	}
	w.pending = pend + extra;
	if (below(3) == 0) { /* instead: plain acks of pending sent requests, maybe one spoiled */
		uint8_t acks[10 * 36];
		size_t n = 0;
		for (i = 0; i < w.sent; i++) {
			if (status[i] != 1 || below(4) == 0)
				continue;
			memset(acks + n, 0, 36);
			put32(acks + n, 36);
			put16(acks + n + 4, 2);
			put16(acks + n + 6, 0x100);
			put32(acks + n + 8, w.first_seq + (uint32_t)i);
			n += 36;
		}
		if (n && below(4) == 0) /* a duplicate, TLVs, an error, a length or seq changed */
			acks[below((uint32_t)n)] = (uint8_t)rnd();
		while (recv(sv[0], drain_buf, sizeof drain_buf, MSG_DONTWAIT) >= 0)
			;
		for (at = 0; at < n;) { /* one or a few datagrams */
			size_t k = below(2) ? n - at : 36 * (1 + below((uint32_t)((n - at) / 36)));
			if (send(sv[1], acks + at, k, MSG_DONTWAIT) < 0)
				break;
			at += k;
		}
	}
	scap = below(4) ? below(1024) : 4096;
	rcap = below(4) ? below(2048) : 4096;
	sbuf = xmalloc(scap);
	rbuf = xmalloc(rcap);
	rc = nlc_window_run(sv[0], &w, status, count, 1, 4, src, slen, msgs ? offs : NULL,
			    msgs ? noffs : 0, sbuf, scap, rbuf, rcap);
	windows++;
	CHECK(rc == 0 || rc == -EINVAL, "window rc %ld", rc);
	if (rc == 0) {
		size_t left = 0;
		CHECK(w.stop <= 5, "window stop %u", w.stop);
		CHECK(w.sent <= w.count && w.settled <= w.sent, "window sent %u settled %u of %u",
		      w.sent, w.settled, w.count);
		CHECK(w.stop != 2 || w.rlen <= rcap, "window rlen %u cap %zu", w.rlen, rcap);
		for (i = 0; i < count; i++) {
			if (status[i] != before[i])
				CHECK(before[i] == 1 && status[i] == 0, "window status %zu: %d -> %d", i,
				      before[i], status[i]);
			left += status[i] == 1;
			wacks += status[i] != before[i];
		}
		wstops[w.stop <= 5 ? w.stop : 0]++;
		CHECK(w.pending == left + extra, "window pending %u, %zu left", w.pending, left);
	}
	free(status);
	free(before);
	free(recs);
	free(offs);
	free(src);
	free(sbuf);
	free(rbuf);
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	unsigned long iterations, it;
	uint8_t *stream = xmalloc(STREAM_MAX);

	if (argc != 3) {
		fprintf(stderr, "usage: %s ITERATIONS SEED\n", argv[0]);
		return 2;
	}
	iterations = strtoul(argv[1], NULL, 10);
	rng = strtoull(argv[2], NULL, 0);
	for (it = 0; it < iterations; it++) {
		uint32_t first = 0;
		size_t len = gen_stream(stream, &first), i;
		uint8_t *exact;

		if (below(8) == 0)
			for (i = 0, len = below(STREAM_MAX / 4); i < len; i++)
				stream[i] = (uint8_t)rnd();
		else if (below(4) != 0)
			len = mutate(stream, len);
		exact = xmalloc(len);
		memcpy(exact, stream, len);
		fuzz_scan(exact, len);
		fuzz_match(exact, len, first);
		fuzz_window(exact, len, first);
		free(exact);
		fuzz_emit();
		fuzz_route_bulk();
		if (it % 16 == 0)
			fuzz_recv();
	}
	free(stream);
	if (failures) {
		printf("fuzz_harness: FAIL %lu of %lu checks\n", failures, checks);
		return 1;
	}
	printf("fuzz_harness: OK %lu iterations: %lu scans, %lu matches, %lu emits, %lu route "
	       "bulks, %lu recvs, %lu windows (%lu acks matched; stops %lu %lu %lu %lu %lu %lu), "
	       "%lu checks\n", iterations, scans, matches, emits, routes, recvs, windows, wacks,
	       wstops[0], wstops[1], wstops[2], wstops[3], wstops[4], wstops[5], checks);
	return 0;
}
