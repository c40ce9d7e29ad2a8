/* The native supervisor of `nlcore inject`: answering notifications (SECCOMP_IOCTL_NOTIF_SEND, NOTIF_ID_VALID). */
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

void note_error(struct nlc_sup *s, const char *what, int err)
{
	s->stats[4]++;
	if (!s->first_error[0])
		snprintf(s->first_error, sizeof s->first_error, "%s: [Errno %d] %s", what, err,
			 strerror(err));
}

/* ------------------------------------------------------------------ notifications */
int notif_send(struct nlc_sup *s, uint64_t id, int64_t val, int32_t error,
		      uint32_t flags)
{
	struct seccomp_notif_resp r = { .id = id, .val = val, .error = error, .flags = flags };
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, &r) == 0)
		return 0;
	return -errno;  /* -ENOENT: the task was interrupted (or died): nothing was answered */
}

int reply_continue(struct nlc_sup *s, uint64_t id)
{
	s->stats[1]++;
	return notif_send(s, id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

int reply_errno(struct nlc_sup *s, uint64_t id, int err)
{
	return notif_send(s, id, 0, -(err < 0 ? -err : err), 0);
}

int id_valid(struct nlc_sup *s, uint64_t id)
{
	return ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}
