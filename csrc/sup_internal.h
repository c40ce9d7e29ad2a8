/* Internal interfaces between the files of the native supervisor (csrc/sup_*.c,
 * csrc/supervise.c); the public API is in nlcore.h. */
#ifndef NLCORE_SUP_INTERNAL_H
#define NLCORE_SUP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define NLC_MAX_GROUPS 256

/* A task's credentials as /proc/TID/status shows them (in the reader's user namespace):
 * real, effective, saved, fs uid and gid, supplementary groups, capability sets. */
struct creds {
	uint64_t userns;  /* inode of /proc/TID/ns/user */
	uint32_t uid[4], gid[4], groups[NLC_MAX_GROUPS], ngroups;
	uint64_t cap_inh, cap_prm, cap_eff;
};

/* The credentials of `task` ("/proc/TID" or "/proc/thread-self"): 0 or -errno. */
int creds_read(const char *task, struct creds *c);
int creds_same(const struct creds *a, const struct creds *b);

/* send (dstlen 0) or sendto(dst) of buf[0..n) on fd with credentials c of task tid:
 * directly when they equal ours (me), else from a forked helper that takes them on.
 * 0 or the send's -errno. */
int send_as(const struct creds *me, const struct creds *c, pid_t tid, int fd,
	    const uint8_t *buf, size_t n, const uint8_t *dst, socklen_t dstlen);

#endif
