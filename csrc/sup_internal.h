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

/* /proc/TID (O_PATH) and /proc/TID/status of the task last read, kept open: a pread
 * instead of a path walk per send. A dead task's files fail (ESRCH): then reopened, so a
 * reused tid is never read through its predecessor's files. tid 0: none. */
struct task_files { pid_t tid; int dir, status; };

/* The credentials of task tid through tf (reopened when it changed or died): 0, -errno. */
int creds_read_task(struct task_files *tf, pid_t tid, struct creds *c);
void task_files_close(struct task_files *tf);

/* send (dstlen 0) or sendto(dst) of buf[0..n) on fd with credentials c of task tid:
 * directly when they equal ours (me), else from a forked helper that takes them on.
 * 0 or the send's -errno. */
int send_as(const struct creds *me, const struct creds *c, pid_t tid, int fd,
	    const uint8_t *buf, size_t n, const uint8_t *dst, socklen_t dstlen);

#include "nlcore.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/uio.h>

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE 1u
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#define PIDFD_THREAD_FLAG O_EXCL
#define TOKEN_BIT 0x80000000u
#define MAX_IOV 1024u
#define MAX_MMSG 1024u
#define NSOCKS 256u
#define MSGHDR_SIZE 56u
#define MMSGHDR_SIZE 64u
#define NLMSGERR_ATTR_MSG_T 1u
#define F_CAPPED 0x100u
#define F_ACK_TLVS 0x200u

enum { K_NONE, K_READ, K_WRITE, K_SENDTO, K_SENDMSG, K_SENDMMSG, K_RECVFROM, K_RECVMSG,
       K_RECVMMSG, K_WRITEV, K_READV, K_REFUSE, K_SPLICE };


struct span { uint32_t off, len; long rule; };

struct pend {
	uint32_t seq, token, len;
	uint8_t *reply;
};

struct slot {
	uint64_t ino;
	uint8_t route;      /* 1: NETLINK_ROUTE */
	uint8_t has_port;
	uint32_t port;
	int dupfd;          /* our duplicate of a route socket, kept while the slot lives */
	uint32_t last_fd;   /* the program's fd number it was last seen under */
	struct pend *q;     /* ring of qcap entries */
	uint32_t qhead, qlen, qcap;
	size_t qbytes;      /* bytes of the replies queued, at most the socket's rcvbuf */
	uint8_t overrun;    /* a reply was dropped: the next receive fails ENOBUFS */
};

struct wlist {
	struct iovec l[MAX_IOV + 4], r[MAX_IOV + 4];
	size_t n, total;
	uint8_t namelen[4], flags[4], zero[8], len[4];  /* small values the writes point at */
};

struct msghdr_t {
	uint64_t addr, name, iov, iovlen;
	uint32_t namelen;
	uint64_t base[MAX_IOV], len[MAX_IOV];
};

/* The last send a thread was answered in the interruptible mode (sup_redo.c). */
#define REDO_CAP 1024u
#define REDO_BYTES (16u << 20)
struct redo {
	pid_t tid;
	int32_t nr;
	uint64_t args[6];
	uint8_t *fp;        /* per datagram read: u32 answer, u32 length, bytes, u32 dstlen, dst */
	size_t fplen;
	int64_t val;        /* the answer: a value, or error (negative errno) */
	int32_t error;
};

struct nlc_sup {
	int listener;
	uint32_t arch;
	uint8_t kinds[NLC_SUP_NR];
	struct nlc_rule *rules;
	uint32_t *counts, *saved_counts;
	uint64_t saved_stats[NLC_SUP_NSTATS];
	size_t nrules;
	int syscall_errno;
	int killable;           /* WAIT_KILLABLE_RECV: a received notification stays valid */
	char *extack;           /* NULL: none */
	size_t extack_len;      /* with the NUL */
	struct slot *socks;     /* nsocks used of cap */
	uint32_t overruns;      /* slots with an overrun to report */
	uint32_t nsocks, cap, evict, pending_socks, tokens, hot;  /* hot: the last slot used */
	pid_t self;
	uint64_t stats[NLC_SUP_NSTATS];
	char first_error[160];
	uint8_t *buf, *out;     /* a send's bytes; the batch as sent (room bytes each) */
	size_t room;
	uint8_t dst[12];        /* the destination the program named, dstlen 0: none */
	socklen_t dstlen;
	int to_kernel;          /* the send read last goes to the kernel (nl_pid 0) */
	pid_t tid;              /* the task of the notification being answered */
	int have_target;        /* target holds its credentials */
	struct creds me, target;
	struct task_files tf;   /* the /proc files of the task last read */
	struct span *sp;        /* per message of a send: offset, length, firing rule */
	size_t spcap;
	struct msghdr_t h;      /* the msghdr being looked at */
	struct wlist w;         /* the writes of one delivery */
	struct redo *redo;      /* nredo of REDO_CAP: per thread, its last answered send */
	uint32_t nredo;
	size_t redo_bytes;      /* the records' fingerprints, at most REDO_BYTES */
	struct redo *cand;      /* this notification's thread's record, same syscall and args */
	uint8_t *fp;            /* this notification's fingerprint (fplen of fpcap bytes) */
	size_t fplen, fpcap;
};

struct dgram {
	uint8_t *data;
	long len;
	struct span *sp;
	size_t k, cap;
	uint8_t dst[12];
	socklen_t dstlen;
	int answer;
	int kern;           /* it goes to the kernel (decided) */
};

static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline size_t align4(size_t n) { return (n + 3u) & ~(size_t)3u; }

extern const uint8_t KADDR[12];  /* the kernel as a source address: AF_NETLINK, port 0 */

/* ---- functions shared between the sup_*.c files (one concern each) ---- */
int vm_read(pid_t pid, uint64_t addr, void *dst, size_t n);
void wl_add(struct wlist *w, uint64_t addr, const void *src, size_t n);
int wl_flush(pid_t pid, struct wlist *w);
int read_msghdr(pid_t pid, uint64_t addr, struct msghdr_t *h);
int read_iov(pid_t pid, uint64_t iov_addr, uint64_t iovlen, struct msghdr_t *h);
int ensure_room(struct nlc_sup *s, size_t n);
int read_dest(struct nlc_sup *s, pid_t pid, uint64_t name, uint64_t namelen, int *kern);
long read_send(struct nlc_sup *s, pid_t pid, const uint64_t *base, const uint64_t *len,
		      size_t n, size_t limit);
size_t send_limit(const struct slot *sl);
void note_error(struct nlc_sup *s, const char *what, int err);
int task_getfd(pid_t tid, int fd);
int fd_inode(pid_t pid, uint32_t fd, uint64_t *ino);
struct slot *hot_slot(struct nlc_sup *s, pid_t pid, uint32_t fd);
struct slot *find_slot(struct nlc_sup *s, uint64_t ino);
struct slot *idle_slot(struct nlc_sup *s);
struct slot *new_slot(struct nlc_sup *s);
struct slot *route_slot(struct nlc_sup *s, pid_t pid, uint32_t fd, int *err);
int notif_send(struct nlc_sup *s, uint64_t id, int64_t val, int32_t error,
		      uint32_t flags);
int reply_continue(struct nlc_sup *s, uint64_t id);
int reply_errno(struct nlc_sup *s, uint64_t id, int err);
int id_valid(struct nlc_sup *s, uint64_t id);
int prefix_has(const struct nlc_rule *r, const uint8_t *ip, uint32_t len);
int addr_local(const uint8_t *m, size_t n, const uint8_t **ip, uint32_t *len);
int pattern(const struct nlc_rule *r, const uint8_t *m, size_t n);
int fields_match(const struct nlc_rule *r, const uint8_t *m, size_t n);
int rule_err(const struct nlc_sup *s, long rule);
size_t decide(struct nlc_sup *s, const uint8_t *data, size_t n, struct span **spans,
		     size_t *cap, int *err);
uint8_t *error_reply(const struct nlc_sup *s, const uint8_t *req, uint32_t req_len,
			    int err, uint32_t port, int ext, int capped, uint32_t *out_len);
int push(struct slot *sl, uint32_t seq, uint32_t token, uint8_t *reply, uint32_t len);
void pop(struct nlc_sup *s, struct slot *sl);
int dest_send(struct nlc_sup *s, const struct slot *sl, const uint8_t *buf, size_t n,
		     const uint8_t *dst, socklen_t dstlen);
size_t rcv_room(const struct slot *sl);
int send_planned(struct nlc_sup *s, struct slot *sl, const uint8_t *data, size_t n,
			const struct span *sp, size_t k, const uint8_t *dst, socklen_t dstlen);
long read_send_bytes(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
			    const uint64_t *a);


/* The bytes and destination of a write, writev, sendto or sendmsg into s->buf/s->dst
 * (s->to_kernel: whether the kernel gets them): the length, or *answer = the errno the
 * kernel would fail the call with before sending anything (bad address, too many
 * pieces, longer than sndbuf - 32), or -errno when the target cannot be read. */
long read_one_send(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
			  const uint64_t *a, int *answer);
long read_send_bytes(struct nlc_sup *s, const struct slot *sl, pid_t pid, int kind,
			    const uint64_t *a);
int on_send(struct nlc_sup *s, const struct seccomp_notif *n, int kind);
long send_dgrams(struct nlc_sup *s, struct slot *sl, pid_t pid, uint64_t vec,
			const struct dgram *d, uint32_t vlen, int store);
int answer_first(struct nlc_sup *s, const struct seccomp_notif *n, struct slot *sl,
			const struct dgram *d, uint32_t vlen);
int read_dgram(struct nlc_sup *s, const struct slot *sl, pid_t pid, uint64_t vec,
		      uint32_t i, struct dgram *d);
int on_sendmmsg(struct nlc_sup *s, const struct seccomp_notif *n);
int is_token(const uint8_t *p, ssize_t n, uint32_t *seq, uint32_t *tok);
int queue_head(struct nlc_sup *s, struct slot *sl);
size_t scatter(struct wlist *w, const struct msghdr_t *h, const uint8_t *data,
		      size_t n);
int deliver(struct nlc_sup *s, pid_t pid, int kind, const uint64_t *a, uint32_t flags,
		   const uint8_t *data, uint32_t n, long *ret, const uint8_t *kaddr);
int report_overrun(struct nlc_sup *s, struct slot *sl, uint64_t id);
int real_one(struct nlc_sup *s, struct slot *sl, const struct seccomp_notif *n,
		    const uint64_t *a, uint32_t flags);
int on_recv(struct nlc_sup *s, const struct seccomp_notif *n, int kind);
int on_refuse(struct nlc_sup *s, const struct seccomp_notif *n, int kind);

void redo_clear(struct nlc_sup *s);
void redo_begin(struct nlc_sup *s, const struct seccomp_notif *n);
int fp_add(struct nlc_sup *s, const uint8_t *data, size_t n, const uint8_t *dst,
	   socklen_t dstlen, int answer);
const struct redo *redo_match(struct nlc_sup *s);
int redo_answer(struct nlc_sup *s, const struct seccomp_notif *n, const struct redo *r);
void redo_end(struct nlc_sup *s);
void redo_keep(struct nlc_sup *s, const struct seccomp_notif *n, int64_t val, int32_t error);

#endif
