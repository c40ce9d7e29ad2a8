/* The native supervisor of `nlcore inject`: restarts in the interruptible mode (no
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, kernels < 5.19).
 *
 * There a signal can wake the waiting task just before our SECCOMP_IOCTL_NOTIF_SEND:
 * the ioctl succeeds, yet the task leaves through `interrupted` (kernel/seccomp.c,
 * seccomp_do_user_notification), drops the answer and restarts the syscall
 * (SA_RESTART) as a new notification with the same registers. So a send answered and
 * performed is remembered per thread (syscall, arguments, the bytes and destinations
 * read, the answer) until that thread's next notification. If that next notification is
 * the identical syscall with identical bytes, it is the restart of what was done: it
 * gets the same answer and nothing is performed or counted again. Same decisions as
 * nlcore/faults/seccomp/redo.py; the argument for why a real request is never taken for
 * a restart is in docs/inject.md. */
#define _GNU_SOURCE
#include "sup_internal.h"

#include <errno.h>
#include <stdlib.h>

static struct redo *redo_find(struct nlc_sup *s, pid_t tid)
{
	for (uint32_t i = 0; i < s->nredo; i++)
		if (s->redo[i].tid == tid)
			return &s->redo[i];
	return NULL;
}

static void redo_drop(struct nlc_sup *s, struct redo *r)
{
	free(r->fp);
	s->redo_bytes -= r->fplen;
	*r = s->redo[--s->nredo];  /* the last one takes its place */
	s->cand = NULL;
}

static void redo_reset(struct nlc_sup *s);

void redo_clear(struct nlc_sup *s)
{
	redo_reset(s);
	free(s->redo);
	free(s->fp);
}

/* A notification from a thread: its record survives only as a candidate restart (the
 * same syscall number and arguments); anything else from that thread ends it. */
void redo_begin(struct nlc_sup *s, const struct seccomp_notif *n)
{
	s->cand = NULL;
	s->fplen = 0;
	struct redo *r = s->killable ? NULL : redo_find(s, (pid_t)n->pid);
	if (!r)
		return;
	if (r->nr == n->data.nr && !memcmp(r->args, n->data.args, sizeof r->args))
		s->cand = r;
	else
		redo_drop(s, r);
}

/* One datagram read (its bytes and destination) appended to this send's fingerprint. */
int fp_add(struct nlc_sup *s, const uint8_t *data, size_t n, const uint8_t *dst,
	   socklen_t dstlen, int answer)
{
	if (s->killable)
		return 0;
	size_t need = s->fplen + 12 + n + dstlen;
	if (need > s->fpcap) {
		uint8_t *p = realloc(s->fp, need * 2);
		if (!p)
			return -ENOMEM;
		s->fp = p;
		s->fpcap = need * 2;
	}
	uint8_t *p = s->fp + s->fplen;
	wr32(p, (uint32_t)answer);
	wr32(p + 4, (uint32_t)n);
	if (n)
		memcpy(p + 8, data, n);
	wr32(p + 8 + n, (uint32_t)dstlen);
	if (dstlen)
		memcpy(p + 12 + n, dst, dstlen);
	s->fplen = need;
	return 0;
}

/* A restart of the send last answered to this thread: the same answer, nothing done
 * or counted (the record stays: this answer may be interrupted too). */
int redo_answer(struct nlc_sup *s, const struct seccomp_notif *n, const struct redo *r)
{
	s->cand = NULL;
	s->stats[5]++;
	return notif_send(s, n->id, r->val, r->error, 0);
}

/* Ends the record of this notification's thread unless it was matched (a restart). */
void redo_end(struct nlc_sup *s)
{
	if (s->cand)
		redo_drop(s, s->cand);
}

/* The candidate when this notification read exactly what it read: a restart. A
 * candidate that read something else is forgotten. */
const struct redo *redo_match(struct nlc_sup *s)
{
	struct redo *r = s->cand;
	if (!r)
		return NULL;
	if (r->fplen == s->fplen && !memcmp(r->fp, s->fp, s->fplen))
		return r;
	redo_drop(s, r);
	return NULL;
}

/* Remember what this notification was answered (val or error) and performed: at most
 * REDO_CAP threads and REDO_BYTES of fingerprints (past either, the records start afresh).
 * What is not remembered may be performed again if restarted (never lost). */
static void redo_reset(struct nlc_sup *s)
{
	while (s->nredo)
		redo_drop(s, &s->redo[s->nredo - 1]);
}

void redo_keep(struct nlc_sup *s, const struct seccomp_notif *n, int64_t val, int32_t error)
{
	if (s->killable)
		return;
	struct redo *r = redo_find(s, (pid_t)n->pid);
	if (r)
		redo_drop(s, r);
	if (s->fplen > REDO_BYTES)
		return;
	if (s->nredo == REDO_CAP || s->redo_bytes + s->fplen > REDO_BYTES)  /* start afresh */
		redo_reset(s);
	uint8_t *fp = malloc(s->fplen ? s->fplen : 1u);
	if (!fp || (!s->redo && !(s->redo = calloc(REDO_CAP, sizeof *s->redo)))) {
		free(fp);
		return;
	}
	memcpy(fp, s->fp, s->fplen);
	r = &s->redo[s->nredo++];
	*r = (struct redo){ (pid_t)n->pid, n->data.nr, { 0 }, fp, s->fplen, val, error };
	memcpy(r->args, n->data.args, sizeof r->args);
	s->redo_bytes += s->fplen;
}
