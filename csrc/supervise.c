/* The native supervisor of `nlcore inject`: seccomp user notifications answered in C.
 *
 * Same decisions as nlcore/faults/_sc_supervisor.py (the pure twin, which also writes the
 * --log): a notified send on a NETLINK_ROUTE socket is read from the target (one
 * process_vm_readv), its messages are matched against the rules; when one fires, the batch
 * goes to the kernel through our duplicate of the target's socket with each failing request
 * replaced by a token (an NLMSG_NOOP with NLM_F_ACK and a port id from the token space), and
 * the synthetic NLMSGERR waits until a receive finds the token's ack at the head of the
 * socket's queue; that receive gets the NLMSGERR instead (one process_vm_writev). Everything
 * else is continued (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 *
 * Every address, length and count comes from the target and is untrusted: sizes are
 * bounded (NLC_SUP_MAX_SEND per send, UIO_MAXIOV pieces, 1024 datagrams per sendmmsg) and
 * every remote access is checked for a short transfer. Unlike the codec, this long-running
 * loop allocates: one buffer per pending reply, freed when delivered or by nlc_sup_free.
 * The pidfd_getfd duplicate of each route socket is kept in its slot (beyond NSOCKS, the
 * oldest idle slot recycled), so a failing request costs no fd duplication.
 */
#define _GNU_SOURCE
#include "nlcore.h"
#include "sup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE 1u
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#define PIDFD_THREAD_FLAG O_EXCL
#define TOKEN_BIT 0x80000000u
#define MAX_IOV 1024u
#define MAX_MMSG 1024u
#define NSOCKS 256u
#define MSGHDR_SIZE 56u
#define MMSGHDR_SIZE 64u
#define NLMSGERR_ATTR_MSG_T 1u
#define F_CAPPED 0x100u
#define F_ACK_TLVS 0x200u

enum { K_NONE, K_READ, K_WRITE, K_SENDTO, K_SENDMSG, K_SENDMMSG, K_RECVFROM, K_RECVMSG,
       K_RECVMMSG, K_WRITEV, K_READV, K_REFUSE, K_SPLICE };

struct pend {
	uint32_t seq, token, len;
	uint8_t *reply;
};

struct slot {
	uint64_t ino;
	uint8_t route;      /* 1: NETLINK_ROUTE */
	uint8_t has_port;
	uint32_t port;
	int dupfd;          /* our duplicate of a route socket, kept while the slot lives */
	uint32_t last_fd;   /* the program's fd number it was last seen under */
	struct pend *q;     /* ring of qcap entries */
	uint32_t qhead, qlen, qcap;
	size_t qbytes;      /* bytes of the replies queued, at most the socket's rcvbuf */
	uint8_t overrun;    /* a reply was dropped: the next receive fails ENOBUFS */
};


/* ------------------------------------------------------------------ little helpers */
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static size_t align4(size_t n) { return (n + 3u) & ~(size_t)3u; }


/* ------------------------------------------------------------------ the target's memory */
static int vm_read(pid_t pid, uint64_t addr, void *dst, size_t n)
{
	if (!n)
		return 0;
	struct iovec l = { dst, n }, r = { (void *)(uintptr_t)addr, n };
	ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
	if (got < 0)
		return -errno;
	return (size_t)got == n ? 0 : -EFAULT;
}

struct wlist {
	struct iovec l[MAX_IOV + 4], r[MAX_IOV + 4];
	size_t n, total;
};

static void wl_add(struct wlist *w, uint64_t addr, const void *src, size_t n)
{
	if (!n || w->n >= MAX_IOV + 4)
		return;
	w->l[w->n] = (struct iovec){ (void *)(uintptr_t)src, n };
	w->r[w->n] = (struct iovec){ (void *)(uintptr_t)addr, n };
	w->n++;
	w->total += n;
}

static int wl_flush(pid_t pid, struct wlist *w)
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

struct span { uint32_t off, len; long rule; };

struct msghdr_t {
	uint64_t addr, name, iov, iovlen;
	uint32_t namelen;
	uint64_t base[MAX_IOV], len[MAX_IOV];
};

static int read_iov(pid_t pid, uint64_t iov_addr, uint64_t iovlen, struct msghdr_t *h);

static int read_msghdr(pid_t pid, uint64_t addr, struct msghdr_t *h)
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
static int read_iov(pid_t pid, uint64_t iov_addr, uint64_t iovlen, struct msghdr_t *h)
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

struct nlc_sup {
	int listener;
	uint32_t arch;
	uint8_t kinds[NLC_SUP_NR];
	struct nlc_rule *rules;
	uint32_t *counts, *saved_counts;
	uint64_t saved_stats[NLC_SUP_NSTATS];
	size_t nrules;
	int syscall_errno;
	int killable;           /* WAIT_KILLABLE_RECV: a received notification stays valid */
	char *extack;           /* NULL: none */
	size_t extack_len;      /* with the NUL */
	struct slot *socks;     /* nsocks used of cap */
	uint32_t overruns;      /* slots with an overrun to report */
	uint32_t nsocks, cap, evict, pending_socks, tokens, hot;  /* hot: the last slot used */
	pid_t self;
	uint64_t stats[NLC_SUP_NSTATS];
	char first_error[160];
	uint8_t *buf, *out;     /* a send's bytes; the batch as sent (room bytes each) */
	size_t room;
	uint8_t dst[12];        /* the destination the program named, dstlen 0: none */
	socklen_t dstlen;
	int to_kernel;          /* the send read last goes to the kernel (nl_pid 0) */
	pid_t tid;              /* the task of the notification being answered */
	int have_target;        /* target holds its credentials */
	struct creds me, target;
	struct span *sp;        /* per message of a send: offset, length, firing rule */
	size_t spcap;
	struct msghdr_t h;      /* the msghdr being looked at */
	struct wlist w;         /* the writes of one delivery */
};

/* Room for a send of n bytes in s->buf and s->out (grown on demand, never shrunk). */
static int ensure_room(struct nlc_sup *s, size_t n)
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
static int read_dest(struct nlc_sup *s, pid_t pid, uint64_t name, uint64_t namelen, int *kern)
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
static long read_send(struct nlc_sup *s, pid_t pid, const uint64_t *base, const uint64_t *len,
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

/* The largest send the kernel accepts on this socket (netlink_sendmsg: sk_sndbuf - 32). */
static size_t send_limit(const struct slot *sl)
{
	int v = 0;
	socklen_t n = sizeof v;
	if (getsockopt(sl->dupfd, SOL_SOCKET, SO_SNDBUF, &v, &n) || v <= 32)
		return 0;
	return (size_t)v - 32;
}

static void note_error(struct nlc_sup *s, const char *what, int err)
{
	s->stats[4]++;
	if (!s->first_error[0])
		snprintf(s->first_error, sizeof s->first_error, "%s: [Errno %d] %s", what, err,
			 strerror(err));
}

/* ------------------------------------------------------------------ the target's fds */
static int task_getfd(pid_t tid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (pidfd < 0 && (errno == ENOENT || errno == EINVAL))  /* a thread, not a leader */
		pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD_FLAG);
	if (pidfd < 0)
		return -errno;
	int dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	int err = dup < 0 ? errno : 0;
	close(pidfd);
	return dup < 0 ? -err : dup;
}

static int fd_inode(pid_t pid, uint32_t fd, uint64_t *ino)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%d/fd/%u", (int)pid, fd);
	if (stat(path, &st) || !S_ISSOCK(st.st_mode))
		return 0;
	*ino = (uint64_t)st.st_ino;
	return 1;
}

/* The route slot the program's fd was last seen as, when kcmp() confirms that fd still
 * is that very socket (one cheap syscall instead of a /proc path walk); else NULL. */
static struct slot *hot_slot(struct nlc_sup *s, pid_t pid, uint32_t fd)
{
	struct slot *sl = s->hot < s->nsocks ? &s->socks[s->hot] : NULL;
	if (!sl || !sl->route || sl->dupfd < 0 || sl->last_fd != fd)
		return NULL;
	return syscall(SYS_kcmp, s->self, pid, 0 /* KCMP_FILE */, sl->dupfd, fd) == 0 ? sl : NULL;
}

static struct slot *find_slot(struct nlc_sup *s, uint64_t ino)
{
	for (uint32_t i = 0; i < s->nsocks; i++)
		if (s->socks[i].ino == ino)
			return &s->socks[i];
	return NULL;
}

/* A slot with nothing pending to recycle, round robin; NULL when every one has replies. */
static struct slot *idle_slot(struct nlc_sup *s)
{
	for (uint32_t k = 0; k < s->nsocks; k++) {
		struct slot *c = &s->socks[(s->evict + k) % s->nsocks];
		if (!c->qlen && !c->overrun) {
			s->evict = (s->evict + k + 1) % s->nsocks;
			free(c->q);
			if (c->dupfd >= 0)
				close(c->dupfd);
			return c;
		}
	}
	return NULL;
}

/* A zeroed slot: a new one while fewer than NSOCKS exist, else an idle one recycled,
 * else the table grows (no fixed limit: our fd limit, raised to its hard limit, is the
 * bound); NULL when out of memory. */
static struct slot *new_slot(struct nlc_sup *s)
{
	struct slot *sl = s->nsocks >= NSOCKS ? idle_slot(s) : NULL;
	if (!sl && s->nsocks == s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 16;
		struct slot *ns = nc > s->cap ? realloc(s->socks, nc * sizeof *ns) : NULL;
		if (!ns)
			return NULL;
		s->socks = ns;
		s->cap = nc;
	}
	if (!sl)
		sl = &s->socks[s->nsocks++];
	memset(sl, 0, sizeof *sl);
	return sl;
}

/* The slot of the target's fd when it is a NETLINK_ROUTE socket; NULL when it is not (or
 * no socket); *err < 0 when we could not tell. */
static struct slot *route_slot(struct nlc_sup *s, pid_t pid, uint32_t fd, int *err)
{
	uint64_t ino;
	*err = 0;
	struct slot *sl = hot_slot(s, pid, fd);
	if (sl)
		return sl;
	if (!fd_inode(pid, fd, &ino))
		return NULL;
	sl = find_slot(s, ino);
	if (!sl) {
		int dup = task_getfd(pid, (int)fd), dom = 0, proto = 0;
		socklen_t n = sizeof dom;
		if (dup < 0) {
			*err = dup;
			return NULL;
		}
		if (getsockopt(dup, SOL_SOCKET, SO_DOMAIN, &dom, &n) == 0) {
			n = sizeof proto;
			if (getsockopt(dup, SOL_SOCKET, SO_PROTOCOL, &proto, &n))
				proto = -1;
		}
		if (!(sl = new_slot(s))) {
			close(dup);
			*err = -ENOMEM;
			return NULL;
		}
		sl->ino = ino;
		sl->route = dom == AF_NETLINK && proto == NETLINK_ROUTE;
		sl->dupfd = sl->route ? dup : -1;  /* held: no pidfd_getfd per request */
		if (!sl->route)
			close(dup);
	}
	if (!sl->route)
		return NULL;
	sl->last_fd = fd;
	s->hot = (uint32_t)(sl - s->socks);
	return sl;
}

/* ------------------------------------------------------------------ notifications */
static int notif_send(struct nlc_sup *s, uint64_t id, int64_t val, int32_t error,
		      uint32_t flags)
{
	struct seccomp_notif_resp r = { .id = id, .val = val, .error = error, .flags = flags };
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, &r) == 0)
		return 0;
	return -errno;  /* -ENOENT: the task was interrupted (or died): nothing was answered */
}

static int reply_continue(struct nlc_sup *s, uint64_t id)
{
	s->stats[1]++;
	return notif_send(s, id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

static int reply_errno(struct nlc_sup *s, uint64_t id, int err)
{
	return notif_send(s, id, 0, -(err < 0 ? -err : err), 0);
}

static int id_valid(struct nlc_sup *s, uint64_t id)
{
	return ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* ------------------------------------------------------------------ rules */
static int prefix_has(const struct nlc_rule *r, const uint8_t *ip, uint32_t len)
{
	if (len != (r->prefix_family == 10 ? 16u : 4u))
		return 0;
	uint32_t full = r->prefix_len / 8u, rest = r->prefix_len % 8u;
	if (memcmp(ip, r->prefix, full))
		return 0;
	return !rest || ((ip[full] ^ r->prefix[full]) & (0xffu << (8u - rest)) & 0xffu) == 0;
}

/* IFA_LOCAL, else IFA_ADDRESS, of an address message as nlcore.codec.decode reads it: 1 and the
 * value when it is 4 or 16 bytes; 0 when absent, of another length, or the message does
 * not decode (a malformed attribute). */
static int addr_local(const uint8_t *m, size_t n, const uint8_t **ip, uint32_t *len)
{
	const uint8_t *loc = NULL, *adr = NULL;
	uint32_t loc_n = 0, adr_n = 0;
	size_t pos = 24;
	while (pos < n) {
		if (n - pos < 4)
			return 0;
		uint16_t alen = rd16(m + pos), t = rd16(m + pos + 2) & 0x3fff;
		if (alen < 4 || alen > n - pos)
			return 0;
		if (t == 2 && !loc) {
			loc = m + pos + 4;
			loc_n = alen - 4u;
		} else if (t == 1 && !adr) {
			adr = m + pos + 4;
			adr_n = alen - 4u;
		}
		pos += align4(alen);
	}
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

static int pattern(const struct nlc_rule *r, const uint8_t *m, size_t n)
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

static int rule_err(const struct nlc_sup *s, long rule)
{
	return s->rules[rule].err;
}

/* Messages of data[0..n) and the rule that fires for each (-1: none); returns how many
 * messages, 0 when no rule fires (nothing to do). spans[] holds (offset, length, rule). */

static size_t decide(struct nlc_sup *s, const uint8_t *data, size_t n, struct span **spans,
		     size_t *cap, int *err)
{
	size_t k = 0, pos = 0, fired = 0, typed = 0;
	*err = 0;
	for (size_t p = 0; n - p >= 16; ) {  /* a cheap first pass: any rule's type at all? */
		uint32_t ln = rd32(data + p);
		if (ln < 16 || ln > n - p)
			break;
		for (size_t i = 0; i < s->nrules && !typed; i++)
			typed = rd16(data + p + 4) == s->rules[i].type;
		p += align4(ln);
		if (p > n)
			break;
	}
	if (!typed)
		return 0;
	while (n - pos >= 16) {
		uint32_t ln = rd32(data + pos);
		if (ln < 16 || ln > n - pos)
			break;
		if (k == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct span *ns = realloc(*spans, nc * sizeof *ns);
			if (!ns) {
				*err = -ENOMEM;
				return 0;
			}
			*spans = ns;
			*cap = nc;
		}
		long r = nlc_rules_decide(s->rules, s->nrules, s->counts, data + pos, ln);
		(*spans)[k++] = (struct span){ (uint32_t)pos, ln, r };
		fired += r >= 0;
		pos += align4(ln);
		if (pos > n)
			break;
	}
	return fired ? k : 0;
}

/* ------------------------------------------------------------------ synthetic replies */
static uint8_t *error_reply(const struct nlc_sup *s, const uint8_t *req, uint32_t req_len,
			    int err, uint32_t port, int ext, int capped, uint32_t *out_len)
{
	size_t echo = capped ? 16u : align4(req_len);
	size_t tlv = ext && s->extack ? align4(4 + s->extack_len) : 0;
	size_t total = 20 + echo + tlv;
	if (total > UINT32_MAX)
		return NULL;
	uint8_t *m = calloc(1, total);
	if (!m)
		return NULL;
	uint16_t type = NLMSG_ERROR, flags = (uint16_t)((capped ? F_CAPPED : 0u) |
							(tlv ? F_ACK_TLVS : 0u));
	wr32(m, (uint32_t)total);
	memcpy(m + 4, &type, 2);
	memcpy(m + 6, &flags, 2);
	memcpy(m + 8, req + 8, 4);  /* the request's seq */
	wr32(m + 12, port);
	int32_t e = -err;
	memcpy(m + 16, &e, 4);
	memcpy(m + 20, req, capped ? 16u : req_len);
	if (tlv) {
		uint16_t alen = (uint16_t)(4 + s->extack_len), at = NLMSGERR_ATTR_MSG_T;
		memcpy(m + 20 + echo, &alen, 2);
		memcpy(m + 22 + echo, &at, 2);
		memcpy(m + 24 + echo, s->extack, s->extack_len);
	}
	*out_len = (uint32_t)total;
	return m;
}

static int push(struct slot *sl, uint32_t seq, uint32_t token, uint8_t *reply, uint32_t len)
{
	if (sl->qlen == sl->qcap) {
		uint32_t nc = sl->qcap ? sl->qcap * 2 : 16;
		struct pend *nq = malloc(nc * sizeof *nq);
		if (!nq)
			return -ENOMEM;
		for (uint32_t i = 0; i < sl->qlen; i++)
			nq[i] = sl->q[(sl->qhead + i) % sl->qcap];
		free(sl->q);
		sl->q = nq;
		sl->qhead = 0;
		sl->qcap = nc;
	}
	sl->q[(sl->qhead + sl->qlen++) % sl->qcap] = (struct pend){ seq, token, len, reply };
	sl->qbytes += len;
	return 0;
}

static void pop(struct nlc_sup *s, struct slot *sl)
{
	free(sl->q[sl->qhead].reply);
	sl->qbytes -= sl->q[sl->qhead].len;
	sl->qhead = (sl->qhead + 1) % sl->qcap;
	if (--sl->qlen == 0)
		s->pending_socks--;
}

/* Our send through the duplicate, to the destination the program named (dstlen 0: none,
 * as it sent: the kernel then checks the socket opener's capabilities too), with the
 * credentials of the task that asked (read once per notification). */
static int dest_send(struct nlc_sup *s, const struct slot *sl, const uint8_t *buf, size_t n,
		     const uint8_t *dst, socklen_t dstlen)
{
	if (!s->have_target) {
		char task[32];
		snprintf(task, sizeof task, "/proc/%d", (int)s->tid);
		int rc = creds_read(task, &s->target);
		if (rc)
			return rc;
		s->have_target = 1;
	}
	return send_as(&s->me, &s->target, s->tid, sl->dupfd, buf, n, dst, dstlen);
}

/* The socket's receive buffer (sk_rcvbuf): the most bytes of replies we hold for it. */
static size_t rcv_room(const struct slot *sl)
{
	int v = 0;
	socklen_t n = sizeof v;
	if (getsockopt(sl->dupfd, SOL_SOCKET, SO_RCVBUF, &v, &n) || v <= 0)
		return 0;
	return (size_t)v;
}

/* Send data (with tokens where spans fire) through our duplicate; queue the replies. */
static int send_planned(struct nlc_sup *s, struct slot *sl, const uint8_t *data, size_t n,
			const struct span *sp, size_t k, const uint8_t *dst, socklen_t dstlen)
{
	int was_empty = sl->qlen == 0, rc = 0;
	if (!k)  /* nothing fires: the very bytes checked */
		return dest_send(s, sl, data, n, dst, dstlen);
	size_t o = 0, end = 0;
	uint32_t first_token = s->tokens;
	for (size_t i = 0; i < k; i++) {
		end = sp[i].off + align4(sp[i].len);
		if (end > n)
			end = n;
		if (sp[i].rule < 0) {
			memcpy(s->out + o, data + sp[i].off, end - sp[i].off);
			o += end - sp[i].off;
			continue;
		}
		s->tokens = (s->tokens + 1) & 0x7fffffffu;
		struct nlmsghdr h = { 16, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK,
				      rd32(data + sp[i].off + 8), TOKEN_BIT | s->tokens };
		memcpy(s->out + o, &h, 16);  /* a token is never longer than what it replaces */
		o += 16;
	}
	memcpy(s->out + o, data + end, n - end);
	o += n - end;
	int ext = 0, capped = 0;
	socklen_t sl_len = sizeof ext;
	rc = dest_send(s, sl, s->out, o, dst, dstlen);
	if (!rc && !sl->has_port) {
		struct sockaddr_nl me;
		socklen_t ml = sizeof me;
		if (getsockname(sl->dupfd, (struct sockaddr *)&me, &ml))
			rc = -errno;
		sl->port = me.nl_pid;
		sl->has_port = !rc;
	}
	if (!rc && getsockopt(sl->dupfd, SOL_NETLINK, NETLINK_EXT_ACK, &ext, &sl_len))
		rc = -errno;
	sl_len = sizeof capped;
	if (!rc && getsockopt(sl->dupfd, SOL_NETLINK, NETLINK_CAP_ACK, &capped, &sl_len))
		rc = -errno;
	uint32_t token = first_token;
	size_t room = rcv_room(sl);
	for (size_t i = 0; !rc && i < k; i++) {
		if (sp[i].rule < 0)
			continue;
		token = (token + 1) & 0x7fffffffu;
		uint32_t len;
		uint8_t *r = error_reply(s, data + sp[i].off, sp[i].len, rule_err(s, sp[i].rule),
					 sl->port, ext, capped, &len);
		if (r && sl->qbytes + len > room) {  /* an overrun, as the kernel's queue has */
			free(r);
			s->overruns += !sl->overrun;
			sl->overrun = 1;
			s->stats[6]++;
			continue;
		}
		if (!r || push(sl, rd32(data + sp[i].off + 8), TOKEN_BIT | token, r, len)) {
			free(r);
			rc = -ENOMEM;  /* what was queued stays consistent with its tokens */
		}
	}
	if (was_empty && sl->qlen)
		s->pending_socks++;
	return rc;
}

static long read_send_bytes(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
			    const uint64_t *a);

static const char *const NAMES[] = { "", "read", "write", "sendto", "sendmsg", "sendmmsg",
				     "recvfrom", "recvmsg", "recvmmsg", "writev", "readv",
				     "sendfile", "splice" };

/* The bytes and destination of a write, writev, sendto or sendmsg into s->buf/s->dst
 * (s->to_kernel: whether the kernel gets them): the length, or *answer = the errno the
 * kernel would fail the call with before sending anything (bad address, too many
 * pieces, longer than sndbuf - 32), or -errno when the target cannot be read. */
static long read_one_send(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
			  const uint64_t *a, int *answer)
{
	long rc = read_send_bytes(s, sl, pid, kind, a);
	*answer = 0;
	if (rc == -EINVAL || rc == -EMSGSIZE || rc == -E2BIG) {
		*answer = rc == -E2BIG ? EMSGSIZE : kind == K_WRITEV && rc == -EMSGSIZE ? EINVAL
			: (int)-rc;
		return 0;
	}
	return rc;
}

static long read_send_bytes(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
			    const uint64_t *a)
{
	struct msghdr_t *h = &s->h;
	uint64_t name = kind == K_SENDTO ? a[4] : 0, namelen = kind == K_SENDTO ? a[5] : 0;
	int kern, rc = 0;
	if (kind == K_SENDMSG) {
		rc = read_msghdr(pid, a[1], h);
		name = h->name;
		namelen = h->namelen;
	} else if (kind == K_WRITEV) {
		rc = read_iov(pid, a[1], a[2], h);
	} else {
		h->iovlen = 1;
		h->base[0] = a[1];
		h->len[0] = a[2];
	}
	if (rc || (rc = read_dest(s, pid, name, namelen, &kern)))
		return rc;
	s->to_kernel = kern;
	return read_send(s, pid, h->base, h->len, (size_t)h->iovlen, send_limit(sl));
}

static int on_send(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
{
	uint64_t a[6];
	memcpy(a, n->data.args, sizeof a);
	uint32_t fd = (uint32_t)a[0];
	int err;
	struct slot *sl = route_slot(s, (pid_t)n->pid, fd, &err);
	if (err)
		return err;
	if (!sl)
		return reply_continue(s, n->id);
	int answer;
	long len = read_one_send(s, sl, (pid_t)n->pid, kind, a, &answer);
	if (len < 0)
		return (int)len;
	if (answer)  /* what the kernel answers before it sends anything */
		return reply_errno(s, n->id, answer);
	/* Never continued: the kernel would read the program's memory again, and a thread
	 * could have rewritten it since we checked (TOCTOU). We send what we checked. */
	size_t k = s->to_kernel ? decide(s, s->buf, (size_t)len, &s->sp, &s->spcap, &err) : 0;
	const struct span *sp = k ? s->sp : NULL;
	if (err)
		return err;
	if (!id_valid(s, n->id))
		return -ENOENT;  /* interrupted: act on nothing, count nothing */
	long first = -1;
	for (size_t i = 0; i < k; i++) {
		if (sp[i].rule >= 0) {
			s->stats[2]++;
			if (first < 0)
				first = sp[i].rule;
		}
	}
	if (s->syscall_errno && first >= 0)
		return reply_errno(s, n->id, rule_err(s, first));
	if (!s->killable) {  /* interruptible: answer first, act once it was delivered */
		if ((err = notif_send(s, n->id, len, 0, 0)))
			return err;
		if ((err = send_planned(s, sl, s->buf, (size_t)len, sp, k, s->dst, s->dstlen)))
			note_error(s, "send after the answer", -err);
		return 0;
	}
	err = send_planned(s, sl, s->buf, (size_t)len, sp, k, s->dst, s->dstlen);
	if (err)
		return reply_errno(s, n->id, err);
	return notif_send(s, n->id, len, 0, 0);
}

struct dgram {
	uint8_t *data;
	long len;
	struct span *sp;
	size_t k, cap;
	uint8_t dst[12];
	socklen_t dstlen;
	int answer;
};

/* Send every datagram of a sendmmsg ourselves and store each msg_len in the target: the
 * count sent, or -errno when the first one fails. */
static long send_dgrams(struct nlc_sup *s, struct slot *sl, pid_t pid, uint64_t vec,
			const struct dgram *d, uint32_t vlen, int store)
{
	uint32_t done = 0;
	int err = 0;
	for (; done < vlen && !err; done++) {
		const struct dgram *g = &d[done];
		if (g->answer) {  /* the kernel fails this one before sending it */
			err = -g->answer;
			break;
		}
		err = send_planned(s, sl, g->data, (size_t)g->len, g->sp, g->k, g->dst, g->dstlen);
		if (!err && store) {
			uint8_t ml[4];
			wr32(ml, (uint32_t)d[done].len);
			s->w.n = s->w.total = 0;
			wl_add(&s->w, vec + (uint64_t)done * MMSGHDR_SIZE + MSGHDR_SIZE, ml, 4);
			err = wl_flush(pid, &s->w);
		}
		if (err)
			break;
	}
	return done ? (long)done : err;
}

/* Interruptible mode: every msg_len stored, the answer delivered, then the sends. */
static int answer_first(struct nlc_sup *s, const struct seccomp_notif *n, struct slot *sl,
			const struct dgram *d, uint32_t vlen)
{
	uint8_t ml[4 * MAX_MMSG];
	uint32_t ok = 0;
	while (ok < vlen && !d[ok].answer)
		ok++;
	if (!ok)
		return reply_errno(s, n->id, d[0].answer);
	vlen = ok;
	s->w.n = s->w.total = 0;
	for (uint32_t i = 0; i < vlen; i++) {
		wr32(ml + 4 * i, (uint32_t)d[i].len);
		wl_add(&s->w, n->data.args[1] + (uint64_t)i * MMSGHDR_SIZE + MSGHDR_SIZE,
		       ml + 4 * i, 4);
	}
	int rc = wl_flush((pid_t)n->pid, &s->w);
	if (rc || (rc = notif_send(s, n->id, vlen, 0, 0)))
		return rc;
	long done = send_dgrams(s, sl, (pid_t)n->pid, n->data.args[1], d, vlen, 0);
	if (done < (long)vlen)
		note_error(s, "send after the answer", done < 0 ? (int)-done : EIO);
	return 0;
}

/* Datagram i of a sendmmsg read into d (its own copy of the bytes, its plan); 0, or
 * -errno when the target cannot be read. d->answer: the kernel fails it unsent. */
static int read_dgram(struct nlc_sup *s, const struct slot *sl, pid_t pid, uint64_t vec,
		      uint32_t i, struct dgram *d)
{
	uint64_t args[6] = { 0, vec + (uint64_t)i * MMSGHDR_SIZE };
	int rc = 0;
	d->len = read_one_send(s, sl, pid, K_SENDMSG, args, &d->answer);
	memcpy(d->dst, s->dst, sizeof d->dst);
	d->dstlen = s->dstlen;
	if (d->len < 0 || d->answer)
		return d->len < 0 ? (int)d->len : 0;
	if (!(d->data = malloc(d->len ? (size_t)d->len : 1u)))
		return -ENOMEM;
	memcpy(d->data, s->buf, (size_t)d->len);
	if (s->to_kernel)
		d->k = decide(s, d->data, (size_t)d->len, &d->sp, &d->cap, &rc);
	return rc;
}

/* sendmmsg: every datagram up to the first the kernel would refuse, sent by us as
 * checked (never continued); the count sent, or the first one's error. */
static int on_sendmmsg(struct nlc_sup *s, const struct seccomp_notif *n)
{
	uint64_t a[6];
	memcpy(a, n->data.args, sizeof a);
	uint32_t fd = (uint32_t)a[0], vlen = (uint32_t)a[2], got = 0;
	int err;
	if (vlen > MAX_MMSG)
		vlen = MAX_MMSG;
	struct slot *sl = route_slot(s, (pid_t)n->pid, fd, &err);
	if (err)
		return err;
	if (!sl || !vlen)
		return reply_continue(s, n->id);
	struct dgram *d = calloc(vlen, sizeof *d);
	if (!d)
		return -ENOMEM;
	long first = -1;
	int rc = 0;
	while (got < vlen && !rc && !(got && d[got - 1].answer)) {
		rc = read_dgram(s, sl, (pid_t)n->pid, a[1], got, &d[got]);
		got++;
	}
	for (uint32_t i = 0; i < got; i++)
		for (size_t j = 0; j < d[i].k; j++)
			if (d[i].sp[j].rule >= 0) {
				s->stats[2]++;
				first = first < 0 ? d[i].sp[j].rule : first;
			}
	if (!rc && !id_valid(s, n->id)) {
		rc = -ENOENT;
	} else if (!rc && s->syscall_errno && first >= 0) {
		rc = reply_errno(s, n->id, rule_err(s, first));
	} else if (!rc && !s->killable) {
		rc = answer_first(s, n, sl, d, got);
	} else if (!rc) {
		long done = send_dgrams(s, sl, (pid_t)n->pid, a[1], d, got, 1);
		rc = done >= 0 ? notif_send(s, n->id, done, 0, 0) : reply_errno(s, n->id, (int)done);
	}  /* rc < 0: the caller fails the call closed */
	for (uint32_t i = 0; i < vlen; i++) {
		free(d[i].data);
		free(d[i].sp);
	}
	free(d);
	return rc;
}

/* ------------------------------------------------------------------ receives */
static int is_token(const uint8_t *p, ssize_t n, uint32_t *seq, uint32_t *tok)
{
	if (n != 36 || rd16(p + 4) != NLMSG_ERROR || rd32(p + 16) != 0 || rd32(p + 20) != 16 ||
	    rd16(p + 24) != NLMSG_NOOP || !(rd32(p + 32) & TOKEN_BIT))
		return 0;
	*seq = rd32(p + 28);
	*tok = rd32(p + 32);
	return 1;
}

/* The pending reply whose token heads the real queue: 1 (found), 0 (a real datagram or
 * nothing comes first), -errno from the peek (ENOBUFS). */
static int queue_head(struct nlc_sup *s, struct slot *sl)
{
	uint8_t peek[64];
	while (sl->qlen) {
		ssize_t got = recv(sl->dupfd, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
		uint32_t seq, tok;
		if (got < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		if (!is_token(peek, got, &seq, &tok))
			return 0;
		for (uint32_t i = 0; i < sl->qlen; i++) {
			struct pend *p = &sl->q[(sl->qhead + i) % sl->qcap];
			if (p->seq == seq && p->token == tok) {
				for (uint32_t j = 0; j < i; j++)  /* overtaken: their tokens were lost */
					pop(s, sl);
				return 1;
			}
		}
		if (recv(sl->dupfd, peek, sizeof peek, MSG_DONTWAIT) < 0)  /* a stale token */
			return errno == EAGAIN ? 0 : -errno;
	}
	return 0;
}

/* data[0..n) over the iovecs of h, as far as they go: the bytes that fit. */
static size_t scatter(struct wlist *w, const struct msghdr_t *h, const uint8_t *data,
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

static const uint8_t KADDR[12] = { AF_NETLINK, 0 };

static int deliver(struct nlc_sup *s, pid_t pid, int kind, const uint64_t *a, uint32_t flags,
		   const uint8_t *data, uint32_t n, long *ret, const uint8_t *kaddr)
{
	struct wlist *w = &s->w;
	struct msghdr_t *h = &s->h;
	uint8_t u32[4], zero8[8] = { 0 }, fl[4];
	size_t copied;
	int rc;
	w->n = w->total = 0;
	wr32(u32, 12);
	if (kind == K_READV) {
		if ((rc = read_iov(pid, a[1], a[2], h)))
			return rc;
		copied = scatter(w, h, data, n);
	} else if (kind == K_RECVFROM || kind == K_READ) {
		uint64_t room = a[2];
		copied = room < n ? (size_t)room : n;
		wl_add(w, a[1], data, copied);
		if (kind == K_RECVFROM && a[4] && a[5]) {
			uint8_t al[4];
			if ((rc = vm_read(pid, a[5], al, 4)))
				return rc;
			uint32_t alen = rd32(al);
			wl_add(w, a[4], kaddr, alen < 12 ? alen : 12);
			wl_add(w, a[5], u32, 4);
		}
	} else {
		if ((rc = read_msghdr(pid, a[1], h)))
			return rc;
		copied = scatter(w, h, data, n);
		if (h->name && h->namelen > 0)
			wl_add(w, h->name, kaddr, h->namelen < 12 ? h->namelen : 12);
		if (h->name)
			wl_add(w, h->addr + 8, u32, 4);
		wl_add(w, h->addr + 40, zero8, 8);
		wr32(fl, copied < n ? MSG_TRUNC : 0);
		wl_add(w, h->addr + 48, fl, 4);
	}
	*ret = (long)((flags & MSG_TRUNC) && kind != K_READ && kind != K_READV ? n : copied);
	uint8_t rl[4];
	wr32(rl, (uint32_t)*ret);
	if (kind == K_RECVMMSG)
		wl_add(w, a[1] + MSGHDR_SIZE, rl, 4);
	if ((rc = wl_flush(pid, w)))
		return rc;
	if (kind == K_RECVMMSG)
		*ret = 1;
	return 0;
}

static int report_overrun(struct nlc_sup *s, struct slot *sl, uint64_t id)
{
	int rc = reply_errno(s, id, ENOBUFS);
	if (!rc) {
		sl->overrun = 0;
		s->overruns--;
	}
	return rc;
}

/* A recvmmsg of several messages while replies are pending: the kernel would hand out
 * token acks among the real datagrams, so the real one at the head is received by us
 * and delivered alone (recvmmsg returns 1); nothing queued: the kernel waits. */
static int real_one(struct nlc_sup *s, struct slot *sl, const struct seccomp_notif *n,
		    const uint64_t *a, uint32_t flags)
{
	uint8_t src[12] = { 0 };
	struct sockaddr_nl from;
	socklen_t fl = sizeof from;
	ssize_t got = recv(sl->dupfd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	if (got < 0)
		return errno == EAGAIN ? reply_continue(s, n->id) : reply_errno(s, n->id, errno);
	int rc = ensure_room(s, (size_t)got);
	if (rc)
		return rc;
	got = recvfrom(sl->dupfd, s->out, (size_t)got, MSG_PEEK | MSG_DONTWAIT,
		       (struct sockaddr *)&from, &fl);
	if (got < 0)
		return reply_errno(s, n->id, errno);
	memcpy(src, &from, fl < sizeof src ? fl : sizeof src);
	if (!id_valid(s, n->id))
		return -ENOENT;
	long ret = 0;
	if ((rc = deliver(s, (pid_t)n->pid, K_RECVMMSG, a, flags, s->out, (uint32_t)got, &ret,
			  src)) || (rc = notif_send(s, n->id, ret, 0, 0)))
		return rc;
	if (!(flags & MSG_PEEK))
		(void)!recv(sl->dupfd, NULL, 0, MSG_TRUNC | MSG_DONTWAIT);  /* now delivered */
	return 0;
}

static int on_recv(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
{
	uint64_t a[6];
	memcpy(a, n->data.args, sizeof a);
	if (!s->pending_socks && !s->overruns)
		return reply_continue(s, n->id);  /* the common case: nothing synthetic anywhere */
	uint64_t ino;
	struct slot *sl = hot_slot(s, (pid_t)n->pid, (uint32_t)a[0]);
	if (!sl && fd_inode((pid_t)n->pid, (uint32_t)a[0], &ino))
		sl = find_slot(s, ino);
	uint32_t flags = kind == K_RECVMSG ? (uint32_t)a[2] :
		kind == K_RECVFROM || kind == K_RECVMMSG ? (uint32_t)a[3] : 0;
	if (!sl || (flags & MSG_ERRQUEUE) || (kind == K_RECVMMSG && !a[2]))
		return reply_continue(s, n->id);
	if (sl->overrun)  /* as sock_error() reports an overrun: once, peek or not */
		return report_overrun(s, sl, n->id);
	if (!sl->qlen)
		return reply_continue(s, n->id);
	int rc = queue_head(s, sl);
	if (rc < 0)
		return reply_errno(s, n->id, rc);
	if (!rc && kind == K_RECVMMSG && a[2] > 1)
		return real_one(s, sl, n, a, flags);
	if (!rc)
		return reply_continue(s, n->id);
	if (!id_valid(s, n->id))
		return -ENOENT;  /* interrupted: act on nothing, count nothing */
	struct pend *p = &sl->q[sl->qhead];
	long ret = 0;
	if ((rc = deliver(s, (pid_t)n->pid, kind, a, flags, p->reply, p->len, &ret, KADDR)))
		return rc;
	if ((rc = notif_send(s, n->id, ret, 0, 0)))
		return rc;  /* not delivered (-ENOENT): the reply stays first in line */
	if (!((flags & MSG_PEEK) && kind != K_READ && kind != K_READV)) {
		uint8_t drop[64];
		(void)!recv(sl->dupfd, drop, sizeof drop, MSG_DONTWAIT);  /* the token's ack */
		pop(s, sl);
		s->stats[3]++;
	}
	return 0;
}

/* Rule counts and counters as they were before a notification, restored when its answer
 * could not be delivered (the task was interrupted: it will ask again). */
static void snapshot(struct nlc_sup *s)
{
	memcpy(s->saved_counts, s->counts, s->nrules * sizeof *s->counts);
	memcpy(s->saved_stats, s->stats, sizeof s->stats);
}

static void rollback(struct nlc_sup *s)
{
	memcpy(s->counts, s->saved_counts, s->nrules * sizeof *s->counts);
	memcpy(s->stats, s->saved_stats, sizeof s->stats);
	s->stats[0]++;
	s->stats[5]++;
}

/* sendfile, splice, preadv2, pwritev2 into or out of a route socket: EOPNOTSUPP (the
 * bytes would go to the kernel, or a token come out, unchecked); elsewhere: continue. */
static int on_refuse(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
{
	int err;
	struct slot *sl = route_slot(s, (pid_t)n->pid, (uint32_t)n->data.args[0], &err);
	if (!sl && !err && kind == K_SPLICE)
		sl = route_slot(s, (pid_t)n->pid, (uint32_t)n->data.args[2], &err);
	if (err)
		return err;
	return sl ? reply_errno(s, n->id, EOPNOTSUPP) : reply_continue(s, n->id);
}

static void handle(struct nlc_sup *s, const struct seccomp_notif *n)
{
	int kind = n->data.arch == s->arch && (uint32_t)n->data.nr < NLC_SUP_NR
		? s->kinds[n->data.nr] : K_NONE, rc;
	snapshot(s);
	s->stats[0]++;
	s->tid = (pid_t)n->pid;
	s->have_target = 0;
	switch (kind) {
	case K_WRITE: case K_SENDTO: case K_SENDMSG: case K_WRITEV:
		rc = on_send(s, n, kind);
		break;
	case K_REFUSE: case K_SPLICE:
		rc = on_refuse(s, n, kind);
		break;
	case K_SENDMMSG:
		rc = on_sendmmsg(s, n);
		break;
	case K_READ: case K_RECVFROM: case K_RECVMSG: case K_RECVMMSG: case K_READV:
		rc = on_recv(s, n, kind);
		break;
	default:
		rc = reply_continue(s, n->id);
	}
	if (rc == -ENOENT && !id_valid(s, n->id)) {  /* interrupted: as if never seen */
		rollback(s);
		return;
	}
	if (rc < 0) {  /* a target we may not look into, or out of memory */
		note_error(s, kind <= K_SPLICE ? NAMES[kind] : "", -rc);
		if (kind == K_RECVFROM || kind == K_RECVMSG || kind == K_RECVMMSG || kind == K_READ ||
		    kind == K_READV)  /* the kernel's own datagram is right */
			notif_send(s, n->id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
		else  /* fail closed: a request that should fail must never reach the kernel */
			reply_errno(s, n->id, -rc);
	}
}

/* ------------------------------------------------------------------ the public four */
struct nlc_sup *nlc_sup_new(int listener, uint32_t arch, const uint8_t *kinds,
			    const struct nlc_rule *rules, size_t nrules, int syscall_errno,
			    const char *extack)
{
	if (nrules > 4096)
		return NULL;
	struct nlc_sup *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->listener = listener;
	s->arch = arch;
	s->self = getpid();
	s->hot = UINT32_MAX;
	memcpy(s->kinds, kinds, NLC_SUP_NR);
	s->rules = calloc(nrules ? nrules : 1, sizeof *rules);
	s->counts = calloc(nrules ? nrules : 1, sizeof *s->counts);
	s->saved_counts = calloc(nrules ? nrules : 1, sizeof *s->counts);
	s->room = 65536;
	s->buf = malloc(s->room);
	s->out = malloc(s->room);
	if (extack && extack[0]) {
		s->extack_len = strnlen(extack, 65000) + 1;
		s->extack = malloc(s->extack_len);
		if (s->extack) {
			memcpy(s->extack, extack, s->extack_len - 1);
			s->extack[s->extack_len - 1] = 0;
		}
	}
	if (!s->rules || !s->counts || !s->saved_counts || !s->buf || !s->out || (extack && extack[0] && !s->extack)) {
		nlc_sup_free(s);
		return NULL;
	}
	memcpy(s->rules, rules, nrules * sizeof *rules);
	for (size_t i = 0; i < nrules; i++)
		if (s->rules[i].prefix_len > (s->rules[i].prefix_family == 10 ? 128 : 32))
			s->rules[i].prefix_len = 0;  /* never: Python validates; keeps reads in bounds */
	s->nrules = nrules;
	s->syscall_errno = syscall_errno;
	s->killable = 1;
	return s;
}

void nlc_sup_set_killable(struct nlc_sup *s, int killable)
{
	s->killable = killable != 0;
}

long nlc_sup_serve(struct nlc_sup *s, int pidfd)
{
	int rc = creds_read("/proc/thread-self", &s->me);  /* the task that will send */
	if (rc)
		return rc;
	for (;;) {
		struct pollfd p[2] = { { s->listener, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0)
			return -errno;  /* EINTR: the caller runs its signal handlers, calls again */
		if (pidfd >= 0 && p[1].revents)
			return 1;
		if (p[0].revents & POLLIN) {
			struct seccomp_notif n;
			memset(&n, 0, sizeof n);  /* the kernel insists on a zeroed buffer */
			if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, &n)) {
				if (errno == ENOENT)
					continue;
				return -errno;
			}
			handle(s, &n);
		} else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			return 2;
		}
	}
}

long nlc_sup_report(const struct nlc_sup *s, uint64_t *stats, uint32_t *counts, size_t nrules,
		    char *error, size_t error_cap)
{
	memcpy(stats, s->stats, sizeof s->stats);
	memcpy(counts, s->counts, (nrules < s->nrules ? nrules : s->nrules) * sizeof *counts);
	if (error_cap) {
		size_t n = strnlen(s->first_error, sizeof s->first_error);
		n = n < error_cap - 1 ? n : error_cap - 1;
		memcpy(error, s->first_error, n);
		error[n] = 0;
	}
	return (long)s->pending_socks;
}

void nlc_sup_free(struct nlc_sup *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nsocks; i++) {
		struct slot *sl = &s->socks[i];
		for (uint32_t j = 0; j < sl->qlen; j++)
			free(sl->q[(sl->qhead + j) % sl->qcap].reply);
		free(sl->q);
		if (sl->dupfd >= 0)
			close(sl->dupfd);
	}
	free(s->socks);
	free(s->sp);
	free(s->rules);
	free(s->counts);
	free(s->saved_counts);
	free(s->buf);
	free(s->out);
	free(s->extack);
	free(s);
}
