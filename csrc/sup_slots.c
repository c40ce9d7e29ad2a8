/* The native supervisor of `nlcore inject`: the target's route sockets: our duplicates, one slot each. */
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

/* The largest send the kernel accepts on this socket (netlink_sendmsg: sk_sndbuf - 32). */
size_t send_limit(const struct slot *sl)
{
	int v = 0;
	socklen_t n = sizeof v;
	if (getsockopt(sl->dupfd, SOL_SOCKET, SO_SNDBUF, &v, &n) || v <= 32)
		return 0;
	return (size_t)v - 32;
}

/* ------------------------------------------------------------------ the target's fds */
int task_getfd(pid_t tid, int fd)
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

int fd_inode(pid_t pid, uint32_t fd, uint64_t *ino)
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
struct slot *hot_slot(struct nlc_sup *s, pid_t pid, uint32_t fd)
{
	struct slot *sl = s->hot < s->nsocks ? &s->socks[s->hot] : NULL;
	if (!sl || !sl->route || sl->dupfd < 0 || sl->last_fd != fd)
		return NULL;
	return syscall(SYS_kcmp, s->self, pid, 0 /* KCMP_FILE */, sl->dupfd, fd) == 0 ? sl : NULL;
}

struct slot *find_slot(struct nlc_sup *s, uint64_t ino)
{
	for (uint32_t i = 0; i < s->nsocks; i++)
		if (s->socks[i].ino == ino)
			return &s->socks[i];
	return NULL;
}

/* A slot with nothing pending to recycle, round robin; NULL when every one has replies. */
struct slot *idle_slot(struct nlc_sup *s)
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
struct slot *new_slot(struct nlc_sup *s)
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
/* Whether our duplicate dup is a NETLINK_ROUTE socket. */
static int is_route(int dup)
{
	int dom = 0, proto = 0;
	socklen_t n = sizeof dom;
	if (getsockopt(dup, SOL_SOCKET, SO_DOMAIN, &dom, &n) == 0) {
		n = sizeof proto;
		if (getsockopt(dup, SOL_SOCKET, SO_PROTOCOL, &proto, &n))
			proto = -1;
	}
	return dom == AF_NETLINK && proto == NETLINK_ROUTE;
}

/* A new slot for the socket of inode ino behind the target's fd: NULL and *err. */
static struct slot *slot_for(struct nlc_sup *s, pid_t pid, uint32_t fd, uint64_t ino,
			     int *err)
{
	int dup = task_getfd(pid, (int)fd);
	struct slot *sl;
	if (dup < 0) {
		*err = dup;
		return NULL;
	}
	if (!(sl = new_slot(s))) {
		close(dup);
		*err = -ENOMEM;
		return NULL;
	}
	sl->ino = ino;
	sl->route = (uint8_t)is_route(dup);
	sl->dupfd = sl->route ? dup : -1;  /* held: no pidfd_getfd per request */
	if (!sl->route)
		close(dup);
	return sl;
}

struct slot *route_slot(struct nlc_sup *s, pid_t pid, uint32_t fd, int *err)
{
	uint64_t ino;
	*err = 0;
	struct slot *sl = hot_slot(s, pid, fd);
	if (sl)
		return sl;
	if (!fd_inode(pid, fd, &ino))
		return NULL;
	if (!(sl = find_slot(s, ino)) && !(sl = slot_for(s, pid, fd, ino, err)))
		return NULL;
	if (!sl->route)
		return NULL;
	sl->last_fd = fd;
	s->hot = (uint32_t)(sl - s->socks);
	return sl;
}

/* The socket's receive buffer (sk_rcvbuf): the most bytes of replies we hold for it. */
size_t rcv_room(const struct slot *sl)
{
	int v = 0;
	socklen_t n = sizeof v;
	if (getsockopt(sl->dupfd, SOL_SOCKET, SO_RCVBUF, &v, &n) || v <= 0)
		return 0;
	return (size_t)v;
}
