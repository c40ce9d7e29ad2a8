/* The native supervisor of `nlcore inject`: the receive syscalls: a synthetic reply where its token heads the queue. */
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

/* A recvmmsg of several messages while replies are pending: the kernel would hand out
 * token acks among the real datagrams, so the real one at the head is received by us
 * and delivered alone (recvmmsg returns 1); nothing queued: the kernel waits. */
int real_one(struct nlc_sup *s, struct slot *sl, const struct seccomp_notif *n,
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

/* The slot of the route socket a receive reads (NULL: not one we hold replies for). */
static struct slot *recv_slot(struct nlc_sup *s, pid_t pid, uint32_t fd)
{
	uint64_t ino;
	struct slot *sl = hot_slot(s, pid, fd);
	if (!sl && fd_inode(pid, fd, &ino))
		sl = find_slot(s, ino);
	return sl;
}

/* The pending reply at the head delivered in place of its token's ack. */
static int deliver_head(struct nlc_sup *s, struct slot *sl, const struct seccomp_notif *n,
			int kind, uint32_t flags)
{
	if (!id_valid(s, n->id))
		return -ENOENT;  /* interrupted: act on nothing, count nothing */
	struct pend *p = &sl->q[sl->qhead];
	uint64_t a[6];
	long ret = 0;
	memcpy(a, n->data.args, sizeof a);
	int rc = deliver(s, (pid_t)n->pid, kind, a, flags, p->reply, p->len, &ret,
			 KADDR);
	if (rc || (rc = notif_send(s, n->id, ret, 0, 0)))
		return rc;  /* not delivered (-ENOENT): the reply stays first in line */
	if (!((flags & MSG_PEEK) && kind != K_READ && kind != K_READV)) {
		uint8_t drop[64];
		(void)!recv(sl->dupfd, drop, sizeof drop, MSG_DONTWAIT);  /* the token's ack */
		pop(s, sl);
		s->stats[3]++;
	}
	return 0;
}

int on_recv(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
{
	uint64_t a[6];
	memcpy(a, n->data.args, sizeof a);
	if (!s->pending_socks && !s->overruns)
		return reply_continue(s, n->id);  /* the common case: nothing synthetic anywhere */
	struct slot *sl = recv_slot(s, (pid_t)n->pid, (uint32_t)a[0]);
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
	return rc ? deliver_head(s, sl, n, kind, flags) : reply_continue(s, n->id);
}
