/* storm_client: batches under a signal storm, for the `nlcore inject` exactness tests.
 *
 *   storm_client [--us=N] [--rounds=N] [--send=sendmsg|writev] [--recv=recvmsg|readv]
 *                [--flood=N] DEV V4ADDR/PLEN V6ADDR/PLEN
 *
 * --flood=N: send N copies of the v6 add, 64 per datagram, never reading a reply; then
 * one receive, and print {"sent": N, "recv_errno": E} (ENOBUFS expected: an overrun).
 * A no-op SIGALRM handler installed with SA_RESTART fires every N microseconds (setitimer;
 * 0: none), so the program's send and receive syscalls are interrupted and restarted all
 * the time. Each round sends ONE datagram holding an RTM_NEWADDR for the v4 address
 * (NLM_F_REPLACE: the kernel acks it every time) and one for the v6 address (seq 2r+1 and
 * 2r+2), then reads until both are acked (or 2 s pass: a lost reply). Prints one JSON
 * line: {"rounds", "ok" (v4 acked 0), "err" (v6 replies, by errno), "dups" (acks of a seq
 * already acked: a batch performed twice), "lost", "other" (unexpected seq)}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct req {
	struct nlmsghdr nh;
	struct ifaddrmsg ifa;
	char attrs[48];
};

/* Progress guard. Without WAIT_KILLABLE_RECV (the fallback of kernels < 5.19) a signal
 * that arrives while the supervisor is deciding makes the kernel drop the notification and
 * restart the syscall; a supervisor slower than the timer (a loaded machine) then never
 * lets the syscall finish. After STUCK alarms in one round the timer slows to 1 ms until
 * the round ends (each slowdown is counted on stderr): the storm goes on, the program
 * makes progress. */
#define STUCK 20000
static volatile sig_atomic_t alarms, slowed;
static int slowdowns;
static struct itimerval storm_it;

static void on_alarm(int sig)
{
	(void)sig;
	if (++alarms > STUCK && !slowed) {
		struct itimerval slow = { { 0, 1000 }, { 0, 1000 } };
		setitimer(ITIMER_REAL, &slow, NULL);
		slowed = 1;
	}
}

static void round_start(void)
{
	alarms = 0;
	if (slowed) {
		slowdowns++;
		setitimer(ITIMER_REAL, &storm_it, NULL);
		slowed = 0;
	}
}

static int build(struct req *r, const char *text, int index, unsigned int seq)
{
	char buf[64], *slash;
	unsigned char addr[16];
	snprintf(buf, sizeof buf, "%s", text);
	if (!(slash = strchr(buf, '/')))
		return -1;
	*slash = 0;
	int family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	unsigned short alen = family == AF_INET6 ? 16 : 4;
	if (inet_pton(family, buf, addr) != 1)
		return -1;
	memset(r, 0, sizeof *r);
	r->ifa.ifa_family = (unsigned char)family;
	r->ifa.ifa_prefixlen = (unsigned char)atoi(slash + 1);
	r->ifa.ifa_index = (unsigned int)index;
	struct nlattr *a = (struct nlattr *)r->attrs;
	a->nla_len = (unsigned short)(NLA_HDRLEN + alen);
	a->nla_type = IFA_LOCAL;
	memcpy(r->attrs + NLA_HDRLEN, addr, alen);
	r->nh.nlmsg_len = (unsigned int)(NLMSG_LENGTH(sizeof r->ifa) + NLA_ALIGN(a->nla_len));
	r->nh.nlmsg_type = RTM_NEWADDR;
	r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	r->nh.nlmsg_seq = seq;
	return 0;
}

static int writev_mode, readv_mode;

static ssize_t send_batch(int fd, struct req *r)
{
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	struct iovec iov[2] = { { &r[0], r[0].nh.nlmsg_len }, { &r[1], r[1].nh.nlmsg_len } };
	struct msghdr mh = { .msg_name = &k, .msg_namelen = sizeof k, .msg_iov = iov,
			     .msg_iovlen = 2 };
	return writev_mode ? writev(fd, iov, 2) : sendmsg(fd, &mh, 0);
}

static ssize_t recv_dgram(int fd, char *buf, size_t len)
{
	struct iovec iov[2] = { { buf, 20 }, { buf + 20, len - 20 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	return readv_mode ? readv(fd, iov, 2) : recvmsg(fd, &mh, 0);
}

static unsigned char *acked;
static int rounds = 300, ok, dups, lost, other, errs[160];

static void account(const struct nlmsghdr *nh, int round)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);
	unsigned int seq = nh->nlmsg_seq;
	if (nh->nlmsg_type != NLMSG_ERROR || seq < 1 || seq > 2u * (unsigned)rounds) {
		other++;
		return;
	}
	if (acked[seq]++) {
		dups++;
		return;
	}
	(void)round;
	if (seq % 2)
		ok += e->error == 0;
	else if (-e->error >= 0 && -e->error < 160)
		errs[-e->error]++;
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int run_round(int fd, struct req *r, int round, char *buf)
{
	unsigned int s1 = 2u * (unsigned)round + 1;
	r[0].nh.nlmsg_seq = s1;
	r[1].nh.nlmsg_seq = s1 + 1;
	if (send_batch(fd, r) < 0)
		return fprintf(stderr, "storm_client: send: %s\n", strerror(errno)), -1;
	long deadline = now_ms() + 2000;  /* poll is never restarted: EINTR at every alarm */
	while (!acked[s1] || !acked[s1 + 1]) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();
		int rc = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			lost += !acked[s1] + !acked[s1 + 1];
			return 0;
		}
		ssize_t n = recv_dgram(fd, buf, 65536);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;  /* EAGAIN: SO_RCVTIMEO, poll decides what is lost */
		if (n < 0)
			return fprintf(stderr, "storm_client: recv: %s\n", strerror(errno)), -1;
		for (struct nlmsghdr *nh = (void *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n))
			account(nh, round);
	}
	return 0;
}

static void drain(int fd, char *buf)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long deadline = now_ms() + 200;  /* late duplicates: 200 ms of quiet, alarms or not */
	for (long left; (left = deadline - now_ms()) > 0;) {
		int rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc != 1)
			break;
		ssize_t n = recv(fd, buf, 65536, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		for (struct nlmsghdr *nh = (void *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n))
			account(nh, -1);
	}
}

static int flood(int fd, const struct req *r, long n)
{
	static char batch[64 * sizeof(struct req)];
	size_t one = NLMSG_ALIGN(r->nh.nlmsg_len);
	long sent = 0;
	while (sent < n) {
		size_t k = n - sent < 64 ? (size_t)(n - sent) : 64u;
		for (size_t i = 0; i < k; i++) {
			memcpy(batch + i * one, r, one);
			((struct nlmsghdr *)(batch + i * one))->nlmsg_seq =
				(unsigned int)(sent + (long)i + 1);
		}
		if (send(fd, batch, k * one, 0) < 0)
			return fprintf(stderr, "storm_client: flood: %s\n", strerror(errno)), 2;
		sent += (long)k;
	}
	char buf[256];
	int e = recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0 ? errno : 0;
	printf("{\"sent\": %ld, \"recv_errno\": %d}\n", sent, e);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	static struct req r[2];
	long us = 0, nflood = 0;
	int i = 1;
	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strncmp(argv[i], "--us=", 5))
			us = atol(argv[i] + 5);
		else if (!strncmp(argv[i], "--rounds=", 9))
			rounds = atoi(argv[i] + 9);
		else if (!strncmp(argv[i], "--flood=", 8))
			nflood = atol(argv[i] + 8);
		else if (!strcmp(argv[i], "--send=writev"))
			writev_mode = 1;
		else if (!strcmp(argv[i], "--recv=readv"))
			readv_mode = 1;
		else if (strcmp(argv[i], "--send=sendmsg") && strcmp(argv[i], "--recv=recvmsg"))
			return fprintf(stderr, "storm_client: unknown option %s\n", argv[i]), 2;
	}
	if (argc - i != 3 || rounds < 1)
		return fprintf(stderr, "usage: storm_client [opts] DEV V4/PLEN V6/PLEN\n"), 2;
	int index = (int)if_nametoindex(argv[i]);
	if (!index || build(&r[0], argv[i + 1], index, 1) || build(&r[1], argv[i + 2], index, 2))
		return fprintf(stderr, "storm_client: bad device or address\n"), 2;
	acked = calloc(2u * (unsigned)rounds + 2, 1);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (!acked || fd < 0)
		return perror("storm_client: socket"), 2;
	/* a receive never waits forever: a reply lost in the interruptible fallback (see
	 * docs/inject.md) is counted in "lost" instead of hanging the run */
	struct timeval rcvtimeo = { 2, 0 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo))
		return perror("storm_client: SO_RCVTIMEO"), 2;
	if (nflood) {
		return flood(fd, &r[1], nflood);
	}
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	storm_it = (struct itimerval){ { 0, us }, { 0, us } };
	if (us && setitimer(ITIMER_REAL, &storm_it, NULL))
		return perror("storm_client: setitimer"), 2;
	for (int round = 0; round < rounds; round++) {
		round_start();
		if (run_round(fd, r, round, buf))
			return 2;
	}
	round_start();
	drain(fd, buf);
	if (slowdowns)
		fprintf(stderr, "storm_client: %d rounds stuck, the timer slowed\n", slowdowns);
	printf("{\"rounds\": %d, \"ok\": %d, \"dup\": %d, \"lost\": %d, \"other\": %d, \"err\": {",
	       rounds, ok, dups, lost, other);
	for (int e = 0, first = 1; e < 160; e++)
		if (errs[e]) {
			printf("%s\"%d\": %d", first ? "" : ", ", e, errs[e]);
			first = 0;
		}
	printf("}}\n");
	return 0;
}
