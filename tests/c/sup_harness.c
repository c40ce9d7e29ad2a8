/* sup_harness: csrc/supervise.c on its own (no Python), for the sanitizer tests.
 *
 *   sup_harness [--syscall-errno] [--extack=MSG] RULE... -- PROGRAM [ARGS...]
 *
 * RULE is TYPE[,family=F][,index=N][,addr=A/P][,when=FIRST-LAST][,errno=E] with numbers
 * only (TYPE 20 is RTM_NEWADDR; LAST 0: no bound; A an IPv4 or IPv6 address). The child
 * sets no_new_privs, installs a SECCOMP_RET_USER_NOTIF filter for the netlink send and
 * receive syscalls (x86_64 numbers; anything else is allowed), hands the listener to the
 * parent over a socketpair and execs PROGRAM; the parent serves it with nlc_sup_serve and
 * prints, on stderr, "sup: stats N C F D E counts X,Y,... error=TEXT" before freeing
 * everything. Exit: the program's status (128 + N for signal N), or 125 on a local error.
 *
 *   sup_harness --fuzz-rules=N
 *
 * decides N random route, neighbour and address messages (malformed attributes, lying
 * lengths, each in a heap block of exactly its size) against random rules with route and
 * neighbour fields, through nlc_rules_decide; prints "fuzz-rules: OK N FIRED" (FIRED: how
 * many messages some rule fired for, so that the run is seen to reach the matchers).
 */
#define _GNU_SOURCE
#include "nlcore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RULES 16

static const int NOTIFIED[] = { 0, 1, 44, 45, 46, 47, 299, 307 };  /* x86_64 */
static const uint8_t KIND_OF[] = { 1, 2, 3, 6, 4, 7, 8, 5 };

static int die(const char *what)
{
	fprintf(stderr, "sup_harness: %s: %s\n", what, strerror(errno));
	return 125;
}

static int parse_rule(char *text, struct nlc_rule *r)
{
	char *save = NULL, *tok = strtok_r(text, ",", &save);
	memset(r, 0, sizeof *r);
	r->type = (uint16_t)strtoul(tok, NULL, 0);
	r->first = 1;
	r->err = 13;
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *v = strchr(tok, '=');
		if (!v)
			return -1;
		*v++ = 0;
		if (!strcmp(tok, "family")) {
			r->has_family = 1;
			r->family = (uint8_t)strtoul(v, NULL, 0);
		} else if (!strcmp(tok, "index")) {
			r->has_index = 1;
			r->index = (uint32_t)strtoul(v, NULL, 0);
		} else if (!strcmp(tok, "addr")) {
			char *slash = strchr(v, '/');
			if (!slash)
				return -1;
			*slash = 0;
			r->has_prefix = 1;
			r->prefix_len = (uint8_t)strtoul(slash + 1, NULL, 0);
			r->prefix_family = strchr(v, ':') ? 10 : 2;
			if (inet_pton(r->prefix_family == 10 ? AF_INET6 : AF_INET, v, r->prefix) != 1)
				return -1;
		} else if (!strcmp(tok, "when")) {
			r->first = (uint32_t)strtoul(v, &v, 0);
			r->last = *v == '-' ? (uint32_t)strtoul(v + 1, NULL, 0) : r->first;
		} else if (!strcmp(tok, "errno")) {
			r->err = (int32_t)strtol(v, NULL, 0);
		} else {
			return -1;
		}
	}
	return 0;
}

/* xorshift64: reproducible random numbers for --fuzz-rules. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t below)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return below ? (uint32_t)(rnd_state % below) : 0;
}

static void fuzz_rule(struct nlc_rule *r)
{
	static const uint16_t types[] = { 20, 24, 25, 26, 28, 29, 30 };
	memset(r, 0, sizeof *r);
	r->type = types[rnd(7)];
	r->first = 1;
	r->err = 13;
	r->has_dst = rnd(2) == 0;
	r->dst_default = rnd(4) == 0;
	r->dst_family = rnd(2) ? 2 : 10;
	r->dst_len = (uint8_t)rnd(rnd(8) ? (r->dst_family == 2 ? 33 : 129) : 256);  /* some too long */
	r->has_table = rnd(3) == 0;
	r->table = rnd(2) ? 254 : rnd(1000);
	r->has_oif = rnd(3) == 0;
	r->oif = rnd(3);
	r->has_via = rnd(3) == 0;
	r->via_family = rnd(2) ? 2 : 10;
	for (size_t i = 0; i < 16; i++) {
		r->dst[i] = (uint8_t)(rnd(2) ? 0 : rnd(256));
		r->via[i] = (uint8_t)(rnd(2) ? 0 : rnd(256));
	}
}

/* One random message into buf (at most cap bytes): a header, a 12-byte body, attributes
 * of the matched types with good and bad lengths, sometimes cut; returns its length. */
static size_t fuzz_message(uint8_t *buf, size_t cap)
{
	static const uint16_t types[] = { 20, 24, 25, 26, 28, 29, 30 };
	static const uint16_t alens[] = { 0, 3, 4, 5, 6, 8, 8, 20, 20, 22, 0xffff };
	static const uint16_t atypes[] = { 1, 4, 5, 15, 18, 0x8001 };
	size_t n = 28;
	for (size_t i = 0; i < cap; i++)
		buf[i] = (uint8_t)(rnd(3) ? 0 : rnd(256));
	uint16_t tp = types[rnd(7)], fl = 1;
	memcpy(buf + 4, &tp, 2);
	memcpy(buf + 6, &fl, 2);
	buf[16] = rnd(2) ? 2 : 10;
	buf[17] = (uint8_t)rnd(130);
	buf[20] = (uint8_t)(rnd(2) ? 254 : rnd(256));
	for (uint32_t k = rnd(5); k > 0 && n + 4 <= cap; k--) {
		uint16_t alen = alens[rnd(11)], at = atypes[rnd(6)];
		memcpy(buf + n, &alen, 2);
		memcpy(buf + n + 2, &at, 2);
		size_t step = (alen + 3u) & ~3u;
		if (alen < 4 || step > cap - n)
			break;
		n += step;
	}
	if (rnd(4) == 0)
		n = rnd((uint32_t)n + 1);
	uint32_t len = rnd(5) ? (uint32_t)n : rnd(200);
	if (n >= 4)
		memcpy(buf, &len, 4);
	return n;
}

static int fuzz_rules(unsigned long rounds)
{
	struct nlc_rule rules[4];
	uint32_t counts[4] = { 0 };
	uint8_t tmp[160];
	unsigned long fired = 0;
	for (unsigned long i = 0; i < rounds; i++) {
		if (i % 64 == 0)
			for (size_t r = 0; r < 4; r++)
				fuzz_rule(&rules[r]);
		size_t n = fuzz_message(tmp, sizeof tmp);
		uint8_t *msg = malloc(n ? n : 1);  /* exactly n bytes: ASan sees any overread */
		if (!msg)
			return die("malloc");
		memcpy(msg, tmp, n);
		fired += nlc_rules_decide(rules, 4, counts, msg, n) >= 0;
		free(msg);
	}
	printf("fuzz-rules: OK %lu %lu\n", rounds, fired);
	return 0;
}

#define LISTENER_FD 100  /* where the child parks its listener for pidfd_getfd */

/* Filter, park the listener at LISTENER_FD, wait (poll is not notified) until the parent
 * has taken it and hung up chan, then exec the program. */
static void child(int chan, char **argv)
{
	struct sock_filter f[32];
	unsigned n = 0, k = sizeof NOTIFIED / sizeof NOTIFIED[0];
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					       offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					       offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < k; i++)
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned)NOTIFIED[i], (uint8_t)(k - i), 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	struct sock_fprog prog = { (unsigned short)n, f };
	prctl(PR_SET_PDEATHSIG, 9);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		_exit(die("PR_SET_NO_NEW_PRIVS"));
	int lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			       SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (lfd < 0 || dup2(lfd, LISTENER_FD) < 0)
		_exit(125);
	close(lfd);
	struct pollfd p = { chan, POLLIN, 0 };
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	close(chan);
	close(LISTENER_FD);
	execvp(argv[0], argv);
	_exit(127);
}

int main(int argc, char **argv)
{
	struct nlc_rule rules[MAX_RULES];
	size_t nrules = 0;
	int syscall_errno = 0, i = 1, interruptible = 0;
	const char *extack = NULL;
	if (argc == 2 && !strncmp(argv[1], "--fuzz-rules=", 13))
		return fuzz_rules(strtoul(argv[1] + 13, NULL, 0));
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--syscall-errno"))
			syscall_errno = 1;
		else if (!strcmp(argv[i], "--interruptible"))  /* our listener never waits killable */
			interruptible = 1;
		else if (!strncmp(argv[i], "--extack=", 9))
			extack = argv[i] + 9;
		else if (nrules == MAX_RULES || parse_rule(argv[i], &rules[nrules++]))
			return fprintf(stderr, "sup_harness: bad rule %s\n", argv[i]), 125;
	}
	if (i + 1 >= argc)
		return fprintf(stderr, "usage: sup_harness RULE... -- PROGRAM [ARGS...]\n"), 125;
	int chan[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan))
		return die("socketpair");
	pid_t pid = fork();
	if (pid < 0)
		return die("fork");
	if (pid == 0) {
		close(chan[0]);
		child(chan[1], argv + i + 1);
	}
	close(chan[1]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), listener = -1;
	for (int tries = 0; pidfd >= 0 && listener < 0 && tries < 5000; tries++) {
		listener = (int)syscall(SYS_pidfd_getfd, pidfd, LISTENER_FD, 0);
		if (listener < 0)
			usleep(1000);
	}
	if (listener < 0)
		return die("pidfd_getfd(listener)");
	close(chan[0]);  /* the child's poll wakes: it execs */
	uint8_t kinds[NLC_SUP_NR] = { 0 };
	for (size_t k = 0; k < sizeof NOTIFIED / sizeof NOTIFIED[0]; k++)
		kinds[NOTIFIED[k]] = KIND_OF[k];
	uint64_t sync = 1;  /* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, as nlcore inject asks (6.6+) */
	(void)ioctl(listener, 0x40082104u /* SECCOMP_IOCTL_NOTIF_SET_FLAGS */, &sync);
	struct nlc_sup *s = nlc_sup_new(listener, AUDIT_ARCH_X86_64, kinds, rules, nrules,
					syscall_errno, extack);
	if (!s)
		return die("nlc_sup_new");
	nlc_sup_set_killable(s, !interruptible);
	int status = 0, code = -1;
	for (;;) {
		long rc = nlc_sup_serve(s, code < 0 ? pidfd : -1);
		if (rc == 1) {
			waitpid(pid, &status, 0);
			code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
		} else if (rc == 2) {
			break;
		} else if (rc != -EINTR) {
			errno = (int)-rc;
			return die("nlc_sup_serve");
		}
	}
	if (code < 0) {
		waitpid(pid, &status, 0);
		code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	}
	uint64_t stats[NLC_SUP_NSTATS];
	uint32_t counts[MAX_RULES];
	char err[256];
	long pending = nlc_sup_report(s, stats, counts, nrules, err, sizeof err);
	fprintf(stderr, "sup: stats %llu %llu %llu %llu %llu pending %ld counts",
		(unsigned long long)stats[0], (unsigned long long)stats[1],
		(unsigned long long)stats[2], (unsigned long long)stats[3],
		(unsigned long long)stats[4], pending);
	for (size_t r = 0; r < nrules; r++)
		fprintf(stderr, "%c%u", r ? ',' : ' ', counts[r]);
	fprintf(stderr, " error=%s\n", err);
	nlc_sup_free(s);
	close(listener);
	close(pidfd);
	return code;
}
