/* Sending on a program's behalf with the program's credentials (the supervisor of
 * `nlcore inject`).
 *
 * rtnetlink checks the capabilities of the task that sends (netlink_ns_capable: current,
 * and the socket opener's file credentials unless a destination is named), so a send the
 * supervisor makes through its duplicate of a program's socket must be made by a task
 * holding exactly the program's uids, gids, groups, capabilities and user namespace. When
 * they equal the supervisor's own (the usual case: both root), it sends itself; else a
 * forked helper takes them on (setns into the program's user namespace, setgroups,
 * setresgid, setresuid keeping capabilities, capset), sends, and reports the errno.
 */
#define _GNU_SOURCE
#include "sup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int parse_ids(const char *line, const char *key, uint32_t *out, size_t max, size_t *n)
{
	size_t kl = strlen(key);
	if (strncmp(line, key, kl))
		return 0;
	const char *p = line + kl;
	*n = 0;
	while (*n < max) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			break;
		out[(*n)++] = (uint32_t)v;
		p = end;
	}
	return 1;
}

static int parse_cap(const char *line, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	if (strncmp(line, key, kl))
		return 0;
	*out = strtoull(line + kl, NULL, 16);
	return 1;
}

static void parse_line(const char *l, struct creds *c, int *seen)
{
	size_t n;
	*seen |= parse_ids(l, "Uid:", c->uid, 4, &n) && n == 4 ? 1 : 0;
	*seen |= parse_ids(l, "Gid:", c->gid, 4, &n) && n == 4 ? 2 : 0;
	if (parse_ids(l, "Groups:", c->groups, NLC_MAX_GROUPS, &n)) {
		c->ngroups = (uint32_t)n;
		*seen |= 4;
	}
	*seen |= parse_cap(l, "CapInh:", &c->cap_inh) ? 8 : 0;
	*seen |= parse_cap(l, "CapPrm:", &c->cap_prm) ? 16 : 0;
	*seen |= parse_cap(l, "CapEff:", &c->cap_eff) ? 32 : 0;
}

int creds_read(const char *task, struct creds *c)
{
	char path[80], buf[8192];
	struct stat st;
	memset(c, 0, sizeof *c);
	snprintf(path, sizeof path, "%s/ns/user", task);
	if (stat(path, &st))
		return -errno;
	c->userns = (uint64_t)st.st_ino;
	snprintf(path, sizeof path, "%s/status", task);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return got ? -errno : -EIO;
	buf[got] = 0;
	int seen = 0;
	for (char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		parse_line(l, c, &seen);
	return seen == 63 ? 0 : -EIO;
}

static int parse_status(const char *buf, struct creds *c)
{
	int seen = 0;
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		parse_line(l, c, &seen);
	return seen == 63 ? 0 : -EIO;
}

void task_files_close(struct task_files *tf)
{
	if (tf->dir >= 0)
		close(tf->dir);
	if (tf->status >= 0)
		close(tf->status);
	tf->tid = 0;
	tf->dir = tf->status = -1;
}

static int task_files_open(struct task_files *tf, pid_t tid)
{
	char path[32];
	task_files_close(tf);
	snprintf(path, sizeof path, "/proc/%d", (int)tid);
	if ((tf->dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (tf->status = openat(tf->dir, "status", O_RDONLY | O_CLOEXEC)) < 0) {
		int err = errno;
		task_files_close(tf);
		return -err;
	}
	tf->tid = tid;
	return 0;
}

static int read_task(struct task_files *tf, struct creds *c)
{
	char buf[8192];
	struct stat st;
	memset(c, 0, sizeof *c);
	if (fstatat(tf->dir, "ns/user", &st, 0))
		return -errno;
	c->userns = (uint64_t)st.st_ino;
	ssize_t got = pread(tf->status, buf, sizeof buf - 1, 0);
	if (got <= 0)
		return got ? -errno : -EIO;
	buf[got] = 0;
	return parse_status(buf, c);
}

int creds_read_task(struct task_files *tf, pid_t tid, struct creds *c)
{
	int rc = tf->tid == tid ? read_task(tf, c) : -ESRCH;
	if (rc && !(rc = task_files_open(tf, tid)))
		rc = read_task(tf, c);
	return rc;
}

int creds_same(const struct creds *a, const struct creds *b)
{
	return a->userns == b->userns && !memcmp(a->uid, b->uid, sizeof a->uid) &&
	       !memcmp(a->gid, b->gid, sizeof a->gid) && a->ngroups == b->ngroups &&
	       !memcmp(a->groups, b->groups, a->ngroups * sizeof a->groups[0]) &&
	       a->cap_inh == b->cap_inh && a->cap_prm == b->cap_prm && a->cap_eff == b->cap_eff;
}

/* In the forked helper: become the program (raw syscalls: this task only). */
static int become(const struct creds *c, int userns_fd)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)c->cap_eff, (uint32_t)c->cap_prm, (uint32_t)c->cap_inh },
		{ (uint32_t)(c->cap_eff >> 32), (uint32_t)(c->cap_prm >> 32),
		  (uint32_t)(c->cap_inh >> 32) } };
	gid_t groups[NLC_MAX_GROUPS];
	for (uint32_t i = 0; i < c->ngroups; i++)
		groups[i] = c->groups[i];
	if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER))
		return errno;
	/* a namespace whose setgroups is "deny" keeps the groups it was given: ours */
	if (syscall(SYS_setgroups, (long)c->ngroups, groups) && (userns_fd < 0 || errno != EPERM))
		return errno;
	if (syscall(SYS_setresgid, (long)c->gid[0], (long)c->gid[1], (long)c->gid[2]) ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    syscall(SYS_setresuid, (long)c->uid[0], (long)c->uid[1], (long)c->uid[2]) ||
	    syscall(SYS_capset, &h, d))
		return errno;
	return 0;
}

static int send_plain(int fd, const uint8_t *buf, size_t n, const uint8_t *dst,
		      socklen_t dstlen)
{
	ssize_t rc = dstlen ? sendto(fd, buf, n, 0, (const struct sockaddr *)dst, dstlen)
		: send(fd, buf, n, 0);
	return rc < 0 ? -errno : 0;
}

/* ids[] (as /proc shows them to us) as the program's user namespace numbers them, through
 * /proc/TID/uid_map or gid_map ("inside outside count" lines, outside in our terms);
 * -EPERM when one is not mapped (the kernel would show it as the overflow id). */
/* id (outside, in our terms) through the "inside outside count" lines of map: 1 and
 * *id inside, or 0 when no line maps it. */
static int map_one(const char *map, uint32_t *id)
{
	for (const char *l = map; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned long in, out, cnt;
		if (sscanf(l, "%lu %lu %lu", &in, &out, &cnt) == 3 && *id >= out &&
		    *id - out < cnt) {
			*id = (uint32_t)(in + (*id - out));
			return 1;
		}
	}
	return 0;
}

static int map_ids(pid_t tid, const char *which, uint32_t *ids, size_t n)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)tid, which);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return -EIO;
	buf[got] = 0;
	for (size_t i = 0; i < n; i++)
		if (!map_one(buf, &ids[i]))
			return -EPERM;
	return 0;
}

static int to_userns(pid_t tid, struct creds *c)
{
	int rc = map_ids(tid, "uid_map", c->uid, 4);
	if (!rc)
		rc = map_ids(tid, "gid_map", c->gid, 4);
	if (!rc)
		rc = map_ids(tid, "gid_map", c->groups, c->ngroups);
	return rc;
}

int send_as(const struct creds *me, const struct creds *c, pid_t tid, int fd,
	    const uint8_t *buf, size_t n, const uint8_t *dst, socklen_t dstlen)
{
	if (creds_same(me, c))
		return send_plain(fd, buf, n, dst, dstlen);
	int userns_fd = -1, rc;
	struct creds in = *c;
	if (c->userns != me->userns) {  /* its ids, as its own namespace numbers them */
		char path[64];
		if ((rc = to_userns(tid, &in)))
			return rc;
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)tid);
		if ((userns_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -errno;
	}
	pid_t child = fork();
	if (child == 0) {
		int e = become(&in, userns_fd);
		if (!e)
			e = -send_plain(fd, buf, n, dst, dstlen);
		_exit(e & 0xff);
	}
	int err = child < 0 ? errno : 0, st = 0;
	if (userns_fd >= 0)
		close(userns_fd);
	while (child > 0 && waitpid(child, &st, __WALL) < 0 && errno == EINTR)
		;
	if (err)
		return -err;
	return WIFEXITED(st) ? -WEXITSTATUS(st) : -EIO;
}
