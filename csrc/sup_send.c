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

int on_send(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
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

/* Interruptible mode: every msg_len stored, the answer delivered, then the sends. */
int answer_first(struct nlc_sup *s, const struct seccomp_notif *n, struct slot *sl,
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
int read_dgram(struct nlc_sup *s, const struct slot *sl, pid_t pid, uint64_t vec,
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
int on_sendmmsg(struct nlc_sup *s, const struct seccomp_notif *n)
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
