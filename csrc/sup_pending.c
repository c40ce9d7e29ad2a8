/* The native supervisor of `nlcore inject`: synthetic replies: tokens sent, replies queued, delivered at their turn. */
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

const uint8_t KADDR[12] = { AF_NETLINK, 0 };

/* ------------------------------------------------------------------ synthetic replies */
uint8_t *error_reply(const struct nlc_sup *s, const uint8_t *req, uint32_t req_len,
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

int push(struct slot *sl, uint32_t seq, uint32_t token, uint8_t *reply, uint32_t len)
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

void pop(struct nlc_sup *s, struct slot *sl)
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
int dest_send(struct nlc_sup *s, const struct slot *sl, const uint8_t *buf, size_t n,
		     const uint8_t *dst, socklen_t dstlen)
{
	if (!s->have_target) {
		int rc = creds_read_task(&s->tf, s->tid, &s->target);
		if (rc)
			return rc;
		s->have_target = 1;
	}
	return send_as(&s->me, &s->target, s->tid, sl->dupfd, buf, n, dst, dstlen);
}

/* data with a token in place of each firing message, into s->out: its length. */
static size_t build_batch(struct nlc_sup *s, const uint8_t *data, size_t n,
			  const struct span *sp, size_t k)
{
	size_t o = 0, end = 0;
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
	return o + n - end;
}

/* The socket's port id (once) and its NETLINK_EXT_ACK and NETLINK_CAP_ACK options. */
static int reply_shape(struct slot *sl, int *ext, int *capped)
{
	socklen_t n = sizeof *ext;
	if (!sl->has_port) {
		struct sockaddr_nl me;
		socklen_t ml = sizeof me;
		if (getsockname(sl->dupfd, (struct sockaddr *)&me, &ml))
			return -errno;
		sl->port = me.nl_pid;
		sl->has_port = 1;
	}
	if (getsockopt(sl->dupfd, SOL_NETLINK, NETLINK_EXT_ACK, ext, &n))
		return -errno;
	n = sizeof *capped;
	return getsockopt(sl->dupfd, SOL_NETLINK, NETLINK_CAP_ACK, capped, &n) ? -errno : 0;
}

/* One synthetic reply queued behind its token, or dropped as an overrun past room. */
static int queue_reply(struct nlc_sup *s, struct slot *sl, const uint8_t *req,
		       const struct span *sp, uint32_t token, int ext, int capped, size_t room)
{
	uint32_t len;
	uint8_t *r = error_reply(s, req, sp->len, rule_err(s, sp->rule), sl->port, ext, capped,
				 &len);
	if (r && sl->qbytes + len > room) {  /* an overrun, as the kernel's queue has */
		free(r);
		s->overruns += !sl->overrun;
		sl->overrun = 1;
		s->stats[6]++;
		return 0;
	}
	if (!r || push(sl, rd32(req + 8), TOKEN_BIT | token, r, len)) {
		free(r);
		return -ENOMEM;  /* what was queued stays consistent with its tokens */
	}
	return 0;
}

/* Send data (with tokens where spans fire) through our duplicate; queue the replies. */
int send_planned(struct nlc_sup *s, struct slot *sl, const uint8_t *data, size_t n,
		 const struct span *sp, size_t k, const uint8_t *dst, socklen_t dstlen)
{
	if (!k)  /* nothing fires: the very bytes checked */
		return dest_send(s, sl, data, n, dst, dstlen);
	int was_empty = sl->qlen == 0, ext = 0, capped = 0;
	uint32_t token = s->tokens;
	size_t o = build_batch(s, data, n, sp, k), room;
	int rc = dest_send(s, sl, s->out, o, dst, dstlen);
	if (!rc)
		rc = reply_shape(sl, &ext, &capped);
	room = rc ? 0 : rcv_room(sl);
	for (size_t i = 0; !rc && i < k; i++) {
		if (sp[i].rule < 0)
			continue;
		token = (token + 1) & 0x7fffffffu;
		rc = queue_reply(s, sl, data + sp[i].off, &sp[i], token, ext, capped, room);
	}
	if (was_empty && sl->qlen)
		s->pending_socks++;
	return rc;
}

/* ------------------------------------------------------------------ receives */
int is_token(const uint8_t *p, ssize_t n, uint32_t *seq, uint32_t *tok)
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
int queue_head(struct nlc_sup *s, struct slot *sl)
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

/* read / recvfrom: the bytes into the buffer, and recvfrom's source address; the bytes
 * copied into *copied. */
static int plan_flat(struct nlc_sup *s, pid_t pid, int kind, const uint64_t *a,
		     const uint8_t *data, uint32_t n, const uint8_t *kaddr, size_t *copied)
{
	struct wlist *w = &s->w;
	uint64_t room = a[2];
	*copied = room < n ? (size_t)room : n;
	wl_add(w, a[1], data, *copied);
	if (kind == K_RECVFROM && a[4] && a[5]) {
		uint8_t al[4];
		int rc = vm_read(pid, a[5], al, 4);
		if (rc)
			return rc;
		uint32_t alen = rd32(al);
		wl_add(w, a[4], kaddr, alen < 12 ? alen : 12);
		wl_add(w, a[5], w->namelen, 4);
	}
	return 0;
}

/* recvmsg / recvmmsg: the bytes scattered over the iovec, the source address, msg_namelen,
 * msg_controllen (0) and msg_flags (MSG_TRUNC when cut). */
static int plan_msghdr(struct nlc_sup *s, pid_t pid, const uint64_t *a, const uint8_t *data,
		       uint32_t n, const uint8_t *kaddr, size_t *copied)
{
	struct wlist *w = &s->w;
	struct msghdr_t *h = &s->h;
	int rc = read_msghdr(pid, a[1], h);
	if (rc)
		return rc;
	*copied = scatter(w, h, data, n);
	if (h->name && h->namelen > 0)
		wl_add(w, h->name, kaddr, h->namelen < 12 ? h->namelen : 12);
	if (h->name)
		wl_add(w, h->addr + 8, w->namelen, 4);
	wl_add(w, h->addr + 40, w->zero, 8);  /* msg_controllen */
	wr32(w->flags, *copied < n ? MSG_TRUNC : 0);
	wl_add(w, h->addr + 48, w->flags, 4);
	return 0;
}

int deliver(struct nlc_sup *s, pid_t pid, int kind, const uint64_t *a, uint32_t flags,
		   const uint8_t *data, uint32_t n, long *ret, const uint8_t *kaddr)
{
	size_t copied = 0;
	int rc = 0;
	s->w.n = s->w.total = 0;
	wr32(s->w.namelen, 12);  /* sizeof(struct sockaddr_nl) */
	memset(s->w.zero, 0, sizeof s->w.zero);
	if (kind == K_READV && !(rc = read_iov(pid, a[1], a[2], &s->h)))
		copied = scatter(&s->w, &s->h, data, n);
	else if (kind == K_RECVFROM || kind == K_READ)
		rc = plan_flat(s, pid, kind, a, data, n, kaddr, &copied);
	else if (kind != K_READV)
		rc = plan_msghdr(s, pid, a, data, n, kaddr, &copied);
	if (rc)
		return rc;
	*ret = (long)((flags & MSG_TRUNC) && kind != K_READ && kind != K_READV ? n : copied);
	wr32(s->w.len, (uint32_t)*ret);
	if (kind == K_RECVMMSG)
		wl_add(&s->w, a[1] + MSGHDR_SIZE, s->w.len, 4);
	if ((rc = wl_flush(pid, &s->w)))
		return rc;
	if (kind == K_RECVMMSG)
		*ret = 1;
	return 0;
}

int report_overrun(struct nlc_sup *s, struct slot *sl, uint64_t id)
{
	int rc = reply_errno(s, id, ENOBUFS);
	if (!rc) {
		sl->overrun = 0;
		s->overruns--;
	}
	return rc;
}
