/* batch_client: a small rtnetlink client that batches, for the `nlcore inject` tests.
 *
 *   batch_client [--send=sendmsg|sendto|sendmmsg|write] [--recv=recvmsg|recvfrom|recvmmsg|read]
 *                [--wait=none|poll|epoll] [--peek] [--ext-ack] [--cap-ack] [--repeat=N]
 *                [--pause-ms=N] [--ignore-send-errors] DEV ADDR/PLEN...
 *
 * Sends one RTM_NEWADDR (NLM_F_REQUEST|ACK|CREATE|REPLACE) per address, seq 1..N, all in
 * ONE datagram (sendmmsg: one datagram per address, one syscall), then reads until every
 * seq is acked, optionally waiting in poll()/epoll_wait() before each receive and peeking
 * (MSG_PEEK|MSG_TRUNC) like iproute2. Prints one line per reply in arrival order:
 *   seq=S error=E pid=ok|bad [extack=MSG]
 * --repeat=N sends the whole thing N times (for benchmarks; lines only for the last);
 * --ignore-send-errors goes on with the next round when the send syscall fails.
 * Exit: 0 when every reply is a success ack, 1 when some failed, 2 on a local error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ADDRS 64
#define MSG_ROOM 64

struct req {
	struct nlmsghdr nh;
	struct ifaddrmsg ifa;
	char attrs[MSG_ROOM];
};

static char send_mode[16] = "sendmsg", recv_mode[16] = "recvmsg", wait_mode[16] = "none";
static int peek, ext_ack, cap_ack, repeat = 1, pause_ms, ignore_send_errors;

static int die(const char *what)
{
	fprintf(stderr, "batch_client: %s: %s\n", what, strerror(errno));
	return 2;
}

static size_t add_attr(char *at, unsigned short type, const void *data, unsigned short len)
{
	struct nlattr *a = (struct nlattr *)at;

	a->nla_len = (unsigned short)(NLA_HDRLEN + len);
	a->nla_type = type;
	memcpy(at + NLA_HDRLEN, data, len);
	return NLA_ALIGN(a->nla_len);
}

static int build(struct req *r, const char *text, int index, unsigned int seq)
{
	char buf[64];
	unsigned char addr[16];
	char *slash;
	int family, plen;
	unsigned short alen;
	size_t off = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	plen = atoi(slash + 1);
	family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	alen = family == AF_INET6 ? 16 : 4;
	if (inet_pton(family, buf, addr) != 1)
		return -1;
	memset(r, 0, sizeof(*r));
	r->ifa.ifa_family = (unsigned char)family;
	r->ifa.ifa_prefixlen = (unsigned char)plen;
	r->ifa.ifa_index = (unsigned int)index;
	off += add_attr(r->attrs + off, IFA_LOCAL, addr, alen);
	off += add_attr(r->attrs + off, IFA_ADDRESS, addr, alen);
	r->nh.nlmsg_len = (unsigned int)(NLMSG_LENGTH(sizeof(r->ifa)) + off);
	r->nh.nlmsg_type = RTM_NEWADDR;
	r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	r->nh.nlmsg_seq = seq;
	return 0;
}

static int wait_readable(int fd, int ep)
{
	if (!strcmp(wait_mode, "poll")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 5000) != 1)
			return -1;
	} else if (!strcmp(wait_mode, "epoll")) {
		struct epoll_event ev;

		if (epoll_wait(ep, &ev, 1, 5000) != 1)
			return -1;
	}
	return 0;
}

static ssize_t recv_one(int fd, char *buf, size_t len, int flags)
{
	struct sockaddr_nl sa;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov,
			     .msg_iovlen = 1 };
	struct mmsghdr mm = { .msg_hdr = mh };
	socklen_t sl = sizeof(sa);

	if (!strcmp(recv_mode, "recvfrom"))
		return recvfrom(fd, buf, len, flags, (struct sockaddr *)&sa, &sl);
	if (!strcmp(recv_mode, "read"))
		return read(fd, buf, len);
	if (!strcmp(recv_mode, "recvmmsg")) {
		int n = recvmmsg(fd, &mm, 1, flags, NULL);

		return n == 1 ? (ssize_t)mm.msg_len : -1;
	}
	return recvmsg(fd, &mh, flags);
}

/* One datagram; -2 when waiting timed out. With `drain`, try without blocking first. */
static ssize_t next_dgram(int fd, int ep, char *buf, size_t len, int drain)
{
	int fl = drain ? MSG_DONTWAIT : 0;
	ssize_t r;

	for (;;) {
		if (!drain && wait_readable(fd, ep))
			return -2;
		r = peek ? recv_one(fd, buf, 16, MSG_PEEK | MSG_TRUNC | fl) : 0;
		if (r >= 0)
			r = recv_one(fd, buf, len, fl);
		if (r >= 0 || errno != EAGAIN || !drain)
			return r;
		drain = 0;
		fl = 0;
	}
}

static void print_ack(const struct nlmsghdr *nh, unsigned int port)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);
	const char *ext = NULL;
	size_t off = sizeof(*e) - sizeof(e->msg);

	if (!(nh->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len);
	else
		off += sizeof(e->msg);
	if (nh->nlmsg_flags & NLM_F_ACK_TLVS) {
		const char *p = (const char *)e + off, *end = (const char *)nh + nh->nlmsg_len;

		while (p + NLA_HDRLEN <= end) {
			const struct nlattr *a = (const struct nlattr *)p;

			if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
				break;
			if (a->nla_type == NLMSGERR_ATTR_MSG)
				ext = p + NLA_HDRLEN;
			p += NLA_ALIGN(a->nla_len);
		}
	}
	printf("seq=%u error=%d pid=%s%s%s\n", nh->nlmsg_seq, e->error,
	       nh->nlmsg_pid == port ? "ok" : "bad", ext ? " extack=" : "", ext ? ext : "");
}

static int send_all(int fd, struct req *reqs, int n)
{
	static char batch[MAX_ADDRS * sizeof(struct req)];
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	struct iovec iov[MAX_ADDRS];
	struct mmsghdr mm[MAX_ADDRS];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++) {
		memcpy(batch + len, &reqs[i], reqs[i].nh.nlmsg_len);
		len += NLMSG_ALIGN(reqs[i].nh.nlmsg_len);
	}
	if (!strcmp(send_mode, "sendto"))
		return sendto(fd, batch, len, 0, (struct sockaddr *)&k, sizeof(k)) == (ssize_t)len ? 0 : -1;
	if (!strcmp(send_mode, "write"))
		return write(fd, batch, len) == (ssize_t)len ? 0 : -1;
	if (!strcmp(send_mode, "sendmmsg")) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < n; i++) {
			iov[i].iov_base = &reqs[i];
			iov[i].iov_len = reqs[i].nh.nlmsg_len;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		return sendmmsg(fd, mm, (unsigned int)n, 0) == n ? 0 : -1;
	}
	/* sendmsg: one iovec per message, to exercise the iovec walk */
	for (i = 0; i < n; i++) {
		iov[i].iov_base = &reqs[i];
		iov[i].iov_len = NLMSG_ALIGN(reqs[i].nh.nlmsg_len);
	}
	{
		struct msghdr mh = { .msg_name = &k, .msg_namelen = sizeof(k), .msg_iov = iov,
				     .msg_iovlen = (size_t)n };

		return sendmsg(fd, &mh, 0) == (ssize_t)len ? 0 : -1;
	}
}

static int opt(const char *arg, const char *name, char *dst, size_t room)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) || arg[n] != '=')
		return 0;
	snprintf(dst, room, "%s", arg + n + 1);
	return 1;
}

int main(int argc, char **argv)
{
	static struct req reqs[MAX_ADDRS];
	static char buf[1 << 16];
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	socklen_t sl = sizeof(local);
	char num[16];
	int fd, ep = -1, index, n = 0, failed = 0, i, one = 1, round;

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (opt(argv[i], "--send", send_mode, sizeof(send_mode)) ||
		    opt(argv[i], "--recv", recv_mode, sizeof(recv_mode)) ||
		    opt(argv[i], "--wait", wait_mode, sizeof(wait_mode)))
			continue;
		if (opt(argv[i], "--repeat", num, sizeof(num)))
			repeat = atoi(num);
		else if (opt(argv[i], "--pause-ms", num, sizeof(num)))
			pause_ms = atoi(num);
		else if (!strcmp(argv[i], "--peek"))
			peek = 1;
		else if (!strcmp(argv[i], "--ext-ack"))
			ext_ack = 1;
		else if (!strcmp(argv[i], "--cap-ack"))
			cap_ack = 1;
		else if (!strcmp(argv[i], "--ignore-send-errors"))
			ignore_send_errors = 1;
		else
			return fprintf(stderr, "batch_client: unknown option %s\n", argv[i]), 2;
	}
	if (argc - i < 2 || argc - i - 1 > MAX_ADDRS)
		return fprintf(stderr, "usage: batch_client [options] DEV ADDR/PLEN...\n"), 2;
	index = (int)if_nametoindex(argv[i]);
	if (!index)
		return die(argv[i]);
	for (i++; i < argc; i++, n++)
		if (build(&reqs[n], argv[i], index, (unsigned int)n + 1))
			return fprintf(stderr, "batch_client: bad address %s\n", argv[i]), 2;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return die("socket");
	if (ext_ack)
		setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (cap_ack)
		setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) || getsockname(fd, (struct sockaddr *)&local, &sl))
		return die("bind");
	if (!strcmp(wait_mode, "epoll")) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = fd };

		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			return die("epoll");
	}
	for (round = 0; round < repeat; round++) {
		int last = round == repeat - 1, got = 0;

		if (send_all(fd, reqs, n)) {
			if (ignore_send_errors)
				continue;
			return die(send_mode);
		}
		if (pause_ms) {
			struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		while (got < n) {
			ssize_t len;
			struct nlmsghdr *nh;

			/* poll: wait before every receive; epoll (edge-triggered): wait for the
			 * first reply, then drain with MSG_DONTWAIT and wait again only on EAGAIN */
			len = next_dgram(fd, ep, buf, sizeof(buf), ep >= 0 && got > 0);
			if (len == -2)
				return fprintf(stderr, "batch_client: no reply within 5 s (%s)\n",
					       wait_mode), 2;
			if (len < 0)
				return die(recv_mode);
			for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len)) {
				if (nh->nlmsg_type != NLMSG_ERROR)
					continue;
				got++;
				if (((struct nlmsgerr *)NLMSG_DATA(nh))->error)
					failed += last;
				if (last)
					print_ack(nh, local.nl_pid);
			}
		}
	}
	return failed ? 1 : 0;
}
