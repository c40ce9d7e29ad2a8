/* The native supervisor of `nlcore inject`: seccomp user notifications answered in C.
 *
 * Same decisions as nlcore/faults/seccomp/supervisor.py (the pure twin, which also writes
 * the --log). A notified send on a NETLINK_ROUTE socket is read from the target (one
 * process_vm_readv: sup_mem.c) and its messages matched against the rules (sup_rules.c);
 * it is then performed by us through our duplicate of the target's socket (sup_slots.c),
 * never continued (the kernel would read the target's memory again), with the target's
 * credentials (sup_creds.c) and each failing request replaced by a token: an NLMSG_NOOP
 * with NLM_F_ACK and a port id from the token space (sup_pending.c). The synthetic NLMSGERR
 * waits until a receive finds the token's ack at the head of the socket's queue; that
 * receive gets the NLMSGERR instead (one process_vm_writev: sup_recv.c). Every answer is
 * checked (sup_answer.c): one the target did not get (interrupted) leaves no trace.
 *
 * Every address, length and count comes from the target and is untrusted: sizes are
 * bounded (the socket's sndbuf - 32 per send, as the kernel bounds it; UIO_MAXIOV pieces,
 * 1024 datagrams per sendmmsg) and every remote access is checked for a short transfer.
 * Unlike the codec, this long-running loop allocates: one buffer per pending reply (at
 * most the socket's rcvbuf of them), freed when delivered or by nlc_sup_free.
 */
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

static const char *const NAMES[] = { "", "read", "write", "sendto", "sendmsg", "sendmmsg",
				     "recvfrom", "recvmsg", "recvmmsg", "writev", "readv",
				     "sendfile", "splice" };

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

static int dispatch(struct nlc_sup *s, const struct seccomp_notif *n, int kind)
{
	switch (kind) {
	case K_WRITE: case K_SENDTO: case K_SENDMSG: case K_WRITEV:
		return on_send(s, n, kind);
	case K_REFUSE: case K_SPLICE:
		return on_refuse(s, n, kind);
	case K_SENDMMSG:
		return on_sendmmsg(s, n);
	case K_READ: case K_RECVFROM: case K_RECVMSG: case K_RECVMMSG: case K_READV:
		return on_recv(s, n, kind);
	default:
		return reply_continue(s, n->id);
	}
}

static int is_recv(int kind)
{
	return kind == K_RECVFROM || kind == K_RECVMSG || kind == K_RECVMMSG || kind == K_READ ||
		kind == K_READV;
}

/* A handler failed (a target we may not look into, or out of memory): a receive gets the
 * kernel's own datagram, which is right; a send fails closed, for a request that should
 * fail must never reach the kernel. */
static void fail(struct nlc_sup *s, const struct seccomp_notif *n, int kind, int rc)
{
	note_error(s, kind <= K_SPLICE ? NAMES[kind] : "", -rc);
	if (is_recv(kind))
		notif_send(s, n->id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
	else
		reply_errno(s, n->id, -rc);
}

static void handle(struct nlc_sup *s, const struct seccomp_notif *n)
{
	int kind = n->data.arch == s->arch && (uint32_t)n->data.nr < NLC_SUP_NR
		? s->kinds[n->data.nr] : K_NONE;
	snapshot(s);
	s->stats[0]++;
	s->tid = (pid_t)n->pid;
	s->have_target = 0;
	redo_begin(s, n);
	int rc = dispatch(s, n, kind);
	redo_end(s);  /* a thread's record lasts until its next notification, unless matched */
	if (rc == -ENOENT && !id_valid(s, n->id))  /* interrupted: as if never seen */
		rollback(s);
	else if (rc < 0)
		fail(s, n, kind, rc);
}

/* ------------------------------------------------------------------ the public four */
/* The copy of the --extack text (NUL-terminated, at most 65000 bytes): 0, or -ENOMEM. */
static int copy_extack(struct nlc_sup *s, const char *extack)
{
	if (!extack || !extack[0])
		return 0;
	s->extack_len = strnlen(extack, 65000) + 1;
	if (!(s->extack = malloc(s->extack_len)))
		return -ENOMEM;
	memcpy(s->extack, extack, s->extack_len - 1);
	s->extack[s->extack_len - 1] = 0;
	return 0;
}

/* The rules copied, their counts and the buffers of a send: 0, or -ENOMEM. */
static int alloc_state(struct nlc_sup *s, const struct nlc_rule *rules, size_t nrules)
{
	size_t k = nrules ? nrules : 1;
	s->rules = calloc(k, sizeof *rules);
	s->counts = calloc(k, sizeof *s->counts);
	s->saved_counts = calloc(k, sizeof *s->counts);
	s->room = 65536;
	s->buf = malloc(s->room);
	s->out = malloc(s->room);
	if (!s->rules || !s->counts || !s->saved_counts || !s->buf || !s->out)
		return -ENOMEM;
	memcpy(s->rules, rules, nrules * sizeof *rules);
	for (size_t i = 0; i < nrules; i++)
		if (s->rules[i].prefix_len > (s->rules[i].prefix_family == 10 ? 128 : 32))
			s->rules[i].prefix_len = 0;  /* never: Python validates; keeps reads in bounds */
	s->nrules = nrules;
	return 0;
}

struct nlc_sup *nlc_sup_new(int listener, uint32_t arch, const uint8_t *kinds,
			    const struct nlc_rule *rules, size_t nrules, int syscall_errno,
			    const char *extack)
{
	if (nrules > 4096)
		return NULL;
	struct nlc_sup *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->tf = (struct task_files){ 0, -1, -1 };  /* before anything can free s */
	s->listener = listener;
	s->arch = arch;
	s->self = getpid();
	s->hot = UINT32_MAX;
	memcpy(s->kinds, kinds, NLC_SUP_NR);
	if (alloc_state(s, rules, nrules) || copy_extack(s, extack)) {
		nlc_sup_free(s);
		return NULL;
	}
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
	task_files_close(&s->tf);
	redo_clear(s);
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
