/* The native supervisor of `nlcore inject`: the target's memory: reading sends and msghdrs, writing deliveries. */
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

/* ------------------------------------------------------------------ the target's memory */
int vm_read(pid_t pid, uint64_t addr, void *dst, size_t n)
{
	if (!n)
		return 0;
	struct iovec l = { dst, n }, r = { (void *)(uintptr_t)addr, n };
	ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
	if (got < 0)
		return -errno;
	return (size_t)got == n ? 0 : -EFAULT;
}

void wl_add(struct wlist *w, uint64_t addr, const void *src, size_t n)
{
	if (!n || w->n >= MAX_IOV + 4)
		return;
	w->l[w->n] = (struct iovec){ (void *)(uintptr_t)src, n };
	w->r[w->n] = (struct iovec){ (void *)(uintptr_t)addr, n };
	w->n++;
	w->total += n;
}

int wl_flush(pid_t pid, struct wlist *w)
{
	size_t done = 0;
	while (done < w->n) {  /* IOV_MAX (1024) per call */
		size_t k = w->n - done > 1024 ? 1024 : w->n - done, want = 0;
		for (size_t i = 0; i < k; i++)
			want += w->l[done + i].iov_len;
		ssize_t got = process_vm_writev(pid, w->l + done, k, w->r + done, k, 0);
		if (got < 0)
			return -errno;
		if ((size_t)got != want)
			return -EFAULT;
		done += k;
	}
	return 0;
}

int read_msghdr(pid_t pid, uint64_t addr, struct msghdr_t *h)
{
	uint8_t raw[MSGHDR_SIZE];
	int rc = vm_read(pid, addr, raw, sizeof raw);
	if (rc)
		return rc;
	h->addr = addr;
	h->name = rd64(raw);
	h->namelen = rd32(raw + 8);
	return read_iov(pid, rd64(raw + 16), rd64(raw + 24), h);
}

/* The iovec array of a msghdr, readv or writev: -EMSGSIZE beyond UIO_MAXIOV. */
int read_iov(pid_t pid, uint64_t iov_addr, uint64_t iovlen, struct msghdr_t *h)
{
	uint8_t iov[16 * 64];
	int rc;
	h->iov = iov_addr;
	h->iovlen = iovlen;
	if (h->iovlen > MAX_IOV)
		return -EMSGSIZE;  /* as the kernel answers msg_iovlen > UIO_MAXIOV */
	for (uint64_t i = 0; i < h->iovlen; i += 64) {
		uint64_t k = h->iovlen - i > 64 ? 64 : h->iovlen - i;
		rc = vm_read(pid, h->iov + 16 * i, iov, (size_t)(16 * k));
		if (rc)
			return rc;
		for (uint64_t j = 0; j < k; j++) {
			h->base[i + j] = rd64(iov + 16 * j);
			h->len[i + j] = rd64(iov + 16 * j + 8);
		}
	}
	return 0;
}

/* Room for a send of n bytes in s->buf and s->out (grown on demand, never shrunk). */
int ensure_room(struct nlc_sup *s, size_t n)
{
	if (n <= s->room)
		return 0;
	uint8_t *b = realloc(s->buf, n), *o;
	if (!b)
		return -ENOMEM;
	s->buf = b;
	if (!(o = realloc(s->out, n)))
		return -ENOMEM;
	s->out = o;
	s->room = n;
	return 0;
}

/* The destination of a send: *kern = 1 when the kernel gets it (no address, or nl_pid 0
 * whatever the groups: netlink_sendmsg unicasts to port 0 after any broadcast), copied
 * to s->dst for our own send. -EFAULT when unreadable. */
int read_dest(struct nlc_sup *s, pid_t pid, uint64_t name, uint64_t namelen, int *kern)
{
	s->dstlen = 0;
	*kern = 1;
	if (!name || !namelen)
		return 0;
	if (namelen < sizeof s->dst || namelen > 128)
		return -EINVAL;  /* netlink_sendmsg / move_addr_to_kernel refuse it */
	int rc = vm_read(pid, name, s->dst, sizeof s->dst);
	if (rc)
		return rc == -EFAULT ? -EFAULT : rc;
	if (rd16(s->dst) != AF_NETLINK)
		return -EINVAL;
	s->dstlen = sizeof s->dst;
	*kern = rd32(s->dst + 4) == 0;
	return 0;
}

/* A send's bytes in as few process_vm_readv calls as the iovec limit allows (one,
 * usually), into s->buf. Returns the length, -E2BIG when larger than `limit` (the
 * socket's sndbuf - 32: the kernel refuses it with EMSGSIZE, nothing read), or -errno
 * (EFAULT for any short read). */
long read_send(struct nlc_sup *s, pid_t pid, const uint64_t *base, const uint64_t *len,
		      size_t n, size_t limit)
{
	struct iovec *l = s->w.l, *r = s->w.r;  /* MAX_IOV + 4 each, unused between deliveries */
	size_t k = 0, total = 0;
	for (size_t i = 0; i < n; i++) {
		if (len[i] > limit - total)
			return -E2BIG;
		total += (size_t)len[i];
	}
	int rc = ensure_room(s, total);
	if (rc)
		return rc;
	for (size_t i = 0, pos = 0; i < n; pos += (size_t)len[i], i++) {
		if (len[i]) {
			l[k] = (struct iovec){ s->buf + pos, (size_t)len[i] };
			r[k++] = (struct iovec){ (void *)(uintptr_t)base[i], (size_t)len[i] };
		}
	}
	for (size_t done = 0; done < k; ) {
		size_t c = k - done > 1024 ? 1024 : k - done, want = 0;  /* IOV_MAX per call */
		for (size_t i = 0; i < c; i++)
			want += l[done + i].iov_len;
		ssize_t got = process_vm_readv(pid, l + done, c, r + done, c, 0);
		if (got < 0 && errno != EFAULT)
			return -errno;
		if (got < 0 || (size_t)got != want)
			return -EFAULT;
		done += c;
	}
	return (long)total;
}

/* data[0..n) over the iovecs of h, as far as they go: the bytes that fit. */
size_t scatter(struct wlist *w, const struct msghdr_t *h, const uint8_t *data,
		      size_t n)
{
	size_t pos = 0;
	for (uint64_t i = 0; i < h->iovlen && pos < n; i++) {
		size_t k = h->len[i] < n - pos ? (size_t)h->len[i] : n - pos;
		wl_add(w, h->base[i], data + pos, k);
		pos += k;
	}
	return pos;
}
