/* The native supervisor of `nlcore inject`: the send syscalls: read, decided, performed as checked (never continued). */
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

long read_send_bytes(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
			    const uint64_t *a);


/* The bytes and destination of a write, writev, sendto or sendmsg into s->buf/s->dst
 * (s->to_kernel: whether the kernel gets them): the length, or *answer = the errno the
 * kernel would fail the call with before sending anything (bad address, too many
 * pieces, longer than sndbuf - 32), or -errno when the target cannot be read. */
long read_one_send(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
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

long read_send_bytes(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
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

/* Every message firing among sp[0..k) counted as failed: the first firing rule, or -1. */
static long count_fired(struct nlc_sup *s, const struct span *sp, size_t k)
{
	long first = -1;
	for (size_t i = 0; i < k; i++) {
		if (sp[i].rule >= 0) {
			s->stats[2]++;
			if (first < 0)
				first = sp[i].rule;
		}
	}
	return first;
}

/* --syscall-errno: the send syscall fails with the rule's errno (remembered for a restart). */
static int fail_syscall(struct nlc_sup *s, const struct seccomp_notif *n, long rule)
{
	int e = rule_err(s, rule), rc = reply_errno(s, n->id, e);
	if (!rc)
		redo_keep(s, n, 0, -e);
	return rc;
}

/* Interruptible mode: answered first (remembered for a restart), performed once delivered. */
static int answer_then_send(struct nlc_sup *s, const struct seccomp_notif *n, struct slot *sl,
			    long len, const struct span *sp, size_t k)
{
	int err = notif_send(s, n->id, len, 0, 0);
	if (err)
		return err;
	redo_keep(s, n, len, 0);
	if ((err = send_planned(s, sl, s->buf, (size_t)len, sp, k, s->dst, s->dstlen)))
		note_error(s, "send after the answer", -err);
	return 0;
}

/* The send read into s->buf decided, counted, answered and performed. Never continued:
 * the kernel would read the program's memory again, and a thread could have rewritten it
 * since we checked (TOCTOU). We send what we checked. */
static int act_send(struct nlc_sup *s, const struct seccomp_notif *n, struct slot *sl,
		    long len)
{
	int err = 0;
	size_t k = s->to_kernel ? decide(s, s->buf, (size_t)len, &s->sp, &s->spcap, &err) : 0;
	const struct span *sp = k ? s->sp : NULL;
	if (err)
		return err;
	if (!id_valid(s, n->id))
		return -ENOENT;  /* interrupted: act on nothing, count nothing */
	long first = count_fired(s, sp, k);
	if (s->syscall_errno && first >= 0)
		return fail_syscall(s, n, first);
	if (!s->killable)
		return answer_then_send(s, n, sl, len, sp, k);
	err = send_planned(s, sl, s->buf, (size_t)len, sp, k, s->dst, s->dstlen);
	return err ? reply_errno(s, n->id, err) : notif_send(s, n->id, len, 0, 0);
}

int on_send(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
{
	uint64_t a[6];
	memcpy(a, n->data.args, sizeof a);
	int err, answer;
	struct slot *sl = route_slot(s, (pid_t)n->pid, (uint32_t)a[0], &err);
	if (err)
		return err;
	if (!sl)
		return reply_continue(s, n->id);
	long len = read_one_send(s, sl, (pid_t)n->pid, kind, a, &answer);
	if (len < 0)
		return (int)len;
	if (answer)  /* what the kernel answers before it sends anything */
		return reply_errno(s, n->id, answer);
	if ((err = fp_add(s, s->buf, (size_t)len, s->dst, s->dstlen, 0)))
		return err;
	const struct redo *r = redo_match(s);
	return r ? redo_answer(s, n, r) : act_send(s, n, sl, len);
}

/* Send every datagram of a sendmmsg ourselves and store each msg_len in the target: the
 * count sent, or -errno when the first one fails. */
long send_dgrams(struct nlc_sup *s, struct slot *sl, pid_t pid, uint64_t vec,
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

/* msg_len of datagrams d[0..vlen) stored in the target's vector. */
static int store_lens(struct nlc_sup *s, pid_t pid, uint64_t vec, const struct dgram *d,
		      uint32_t vlen)
{
	uint8_t ml[4 * MAX_MMSG];
	s->w.n = s->w.total = 0;
	for (uint32_t i = 0; i < vlen; i++) {
		wr32(ml + 4 * i, (uint32_t)d[i].len);
		wl_add(&s->w, vec + (uint64_t)i * MMSGHDR_SIZE + MSGHDR_SIZE, ml + 4 * i, 4);
	}
	return wl_flush(pid, &s->w);
}

/* Interruptible mode: every msg_len stored, the answer delivered (remembered for a
 * restart), then the sends. */
int answer_first(struct nlc_sup *s, const struct seccomp_notif *n, struct slot *sl,
			const struct dgram *d, uint32_t vlen)
{
	uint32_t ok = 0;
	while (ok < vlen && !d[ok].answer)
		ok++;
	if (!ok)
		return reply_errno(s, n->id, d[0].answer);
	int rc = store_lens(s, (pid_t)n->pid, n->data.args[1], d, ok);
	if (rc || (rc = notif_send(s, n->id, ok, 0, 0)))
		return rc;
	redo_keep(s, n, ok, 0);
	long done = send_dgrams(s, sl, (pid_t)n->pid, n->data.args[1], d, ok, 0);
	if (done < (long)ok)
		note_error(s, "send after the answer", done < 0 ? (int)-done : EIO);
	return 0;
}

/* Datagram i of a sendmmsg read into d (its own copy of the bytes); 0, or -errno when the
 * target cannot be read. d->answer: the kernel fails it unsent. */
int read_dgram(struct nlc_sup *s, const struct slot *sl, pid_t pid, uint64_t vec,
		      uint32_t i, struct dgram *d)
{
	uint64_t args[6] = { 0, vec + (uint64_t)i * MMSGHDR_SIZE };
	d->len = read_one_send(s, sl, pid, K_SENDMSG, args, &d->answer);
	memcpy(d->dst, s->dst, sizeof d->dst);
	d->dstlen = s->dstlen;
	d->kern = s->to_kernel;
	if (d->len < 0 || d->answer)
		return d->len < 0 ? (int)d->len : fp_add(s, NULL, 0, NULL, 0, d->answer);
	if (!(d->data = malloc(d->len ? (size_t)d->len : 1u)))
		return -ENOMEM;
	memcpy(d->data, s->buf, (size_t)d->len);
	return fp_add(s, d->data, (size_t)d->len, d->dst, d->dstlen, 0);
}

/* Every datagram read that goes to the kernel decided, its firing messages counted: the
 * first firing rule, or -1; *rc: -ENOMEM. */
static long decide_dgrams(struct nlc_sup *s, struct dgram *d, uint32_t got, int *rc)
{
	long first = -1;
	for (uint32_t i = 0; i < got && !*rc; i++) {
		if (d[i].kern && d[i].data)
			d[i].k = decide(s, d[i].data, (size_t)d[i].len, &d[i].sp, &d[i].cap, rc);
		long f = count_fired(s, d[i].sp, d[i].k);
		first = first < 0 ? f : first;
	}
	return first;
}

/* A sendmmsg restarted after its answer: the same msg_lens and answer, nothing sent. */
static int replay_mmsg(struct nlc_sup *s, const struct seccomp_notif *n,
		       const struct dgram *d, const struct redo *r)
{
	int rc = r->error ? 0 : store_lens(s, (pid_t)n->pid, n->data.args[1], d,
					   (uint32_t)r->val);
	return rc ? rc : redo_answer(s, n, r);
}

/* The datagrams d[0..got) read: decided, counted, answered and sent. */
static int act_mmsg(struct nlc_sup *s, const struct seccomp_notif *n, struct slot *sl,
		    struct dgram *d, uint32_t got)
{
	int rc = 0;
	long first = decide_dgrams(s, d, got, &rc);
	if (rc)
		return rc;
	if (!id_valid(s, n->id))
		return -ENOENT;
	if (s->syscall_errno && first >= 0)
		return fail_syscall(s, n, first);
	if (!s->killable)
		return answer_first(s, n, sl, d, got);
	long done = send_dgrams(s, sl, (pid_t)n->pid, n->data.args[1], d, got, 1);
	return done >= 0 ? notif_send(s, n->id, done, 0, 0) : reply_errno(s, n->id, (int)done);
}

static void free_dgrams(struct dgram *d, uint32_t vlen)
{
	for (uint32_t i = 0; i < vlen; i++) {
		free(d[i].data);
		free(d[i].sp);
	}
	free(d);
}

/* sendmmsg: every datagram up to the first the kernel would refuse, sent by us as
 * checked (never continued); the count sent, or the first one's error. */
int on_sendmmsg(struct nlc_sup *s, const struct seccomp_notif *n)
{
	uint32_t vlen = (uint32_t)n->data.args[2], got = 0;
	int rc;
	vlen = vlen > MAX_MMSG ? MAX_MMSG : vlen;
	struct slot *sl = route_slot(s, (pid_t)n->pid, (uint32_t)n->data.args[0], &rc);
	if (rc)
		return rc;
	if (!sl || !vlen)
		return reply_continue(s, n->id);
	struct dgram *d = calloc(vlen, sizeof *d);
	if (!d)
		return -ENOMEM;
	while (got < vlen && !rc && !(got && d[got - 1].answer)) {
		rc = read_dgram(s, sl, (pid_t)n->pid, n->data.args[1], got, &d[got]);
		got++;
	}
	const struct redo *r = rc ? NULL : redo_match(s);
	if (!rc)  /* rc < 0: the caller fails the call closed */
		rc = r ? replay_mmsg(s, n, d, r) : act_mmsg(s, n, sl, d, got);
	free_dgrams(d, vlen);
	return rc;
}

/* sendfile, splice, preadv2, pwritev2 into or out of a route socket: EOPNOTSUPP (the
 * bytes would go to the kernel, or a token come out, unchecked); elsewhere: continue. */
int on_refuse(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
{
	int err;
	struct slot *sl = route_slot(s, (pid_t)n->pid, (uint32_t)n->data.args[0], &err);
	if (!sl && !err && kind == K_SPLICE)
		sl = route_slot(s, (pid_t)n->pid, (uint32_t)n->data.args[2], &err);
	if (err)
		return err;
	return sl ? reply_errno(s, n->id, EOPNOTSUPP) : reply_continue(s, n->id);
}
