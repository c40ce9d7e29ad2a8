/* hostile_client: hands a supervisor bad pointers, bad lengths and malformed netlink, for
 * the sanitizer test of csrc/supervise.c (run under tests/c/sup_harness.c with the rule
 * "20,family=10", i.e. RTM_NEWADDR for IPv6, which fails with EACCES).
 *
 *   hostile_client IFINDEX
 *
 * Prints one line per case, "NAME ret=R errno=E", where R is the syscall's return value
 * and E its errno name (or 0). Exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BAD ((void *)0x10)

static void show(const char *name, long ret)
{
	printf("%s ret=%ld errno=%s\n", name, ret, ret < 0 ? strerrorname_np(errno) : "0");
	fflush(stdout);
}

/* An RTM_NEWADDR for fe80::N/64 on index, with ACK; extra bytes of attributes appended. */
static size_t v6_request(uint8_t *buf, int index, unsigned n, unsigned seq,
			 const uint8_t *extra, size_t extra_len)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct ifaddrmsg *ifa = (struct ifaddrmsg *)(buf + 16);
	memset(buf, 0, 64);
	h->nlmsg_type = RTM_NEWADDR;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	h->nlmsg_seq = seq;
	ifa->ifa_family = 10;
	ifa->ifa_prefixlen = 64;
	ifa->ifa_index = (unsigned)index;
	uint8_t *a = buf + 24;
	a[0] = 20; a[2] = IFA_LOCAL;
	a[4] = 0xfe; a[5] = 0x80; a[19] = (uint8_t)n;
	memcpy(buf + 44, extra, extra_len);
	h->nlmsg_len = (uint32_t)(44 + extra_len);
	return 44 + extra_len;
}

static void drain(int fd)
{
	uint8_t buf[8192];
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

int main(int argc, char **argv)
{
	int index = argc > 1 ? atoi(argv[1]) : 1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	uint8_t buf[8192], big[256];
	struct iovec iov[2];
	struct msghdr mh;
	long r;

	if (fd < 0 || bind(fd, (struct sockaddr *)&k, sizeof k))
		return 2;
	r = sendto(fd, BAD, 100, 0, (struct sockaddr *)&k, sizeof k);
	show("sendto-bad-buffer", r);
	r = sendto(fd, buf, 64, 0, BAD, sizeof k);
	show("sendto-bad-addr", r);
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = iov;
	mh.msg_iovlen = 5000;
	r = sendmsg(fd, &mh, 0);
	show("sendmsg-iovlen-5000", r);
	mh.msg_iov = BAD;
	mh.msg_iovlen = 2;
	r = sendmsg(fd, &mh, 0);
	show("sendmsg-bad-iov", r);
	r = sendmsg(fd, BAD, 0);
	show("sendmsg-bad-msghdr", r);
	r = sendmmsg(fd, BAD, 3, 0);
	show("sendmmsg-bad-vector", r);
	/* malformed netlink: attribute lengths 0, 2, 0xffff; then a truncated header */
	static const uint8_t bad_attrs[][8] = { { 0, 0, 1, 0 }, { 2, 0, 1, 0 },
						{ 0xff, 0xff, 1, 0 } };
	for (unsigned i = 0; i < 3; i++) {
		size_t n = v6_request(buf, index, 10 + i, 100 + i, bad_attrs[i], 4);
		r = send(fd, buf, n, 0);
		show("send-malformed-attr", r);
	}
	drain(fd);
	size_t n = v6_request(buf, index, 20, 200, NULL, 0);
	((struct nlmsghdr *)buf)->nlmsg_len = 0xfffffff0u;
	r = send(fd, buf, n, 0);
	show("send-nlmsg-len-huge", r);
	((struct nlmsghdr *)buf)->nlmsg_len = 15;
	r = send(fd, buf, n, 0);
	show("send-nlmsg-len-15", r);
	drain(fd);
	/* a failing request, its reply received with a bad msghdr, then into 1 byte */
	n = v6_request(buf, index, 30, 300, NULL, 0);
	r = send(fd, buf, n, 0);
	show("send-v6", r);
	r = recvmsg(fd, BAD, 0);
	show("recvmsg-bad-msghdr", r);
	r = send(fd, buf, n, 0);
	show("send-v6-again", r);
	r = recv(fd, big, 1, MSG_TRUNC);
	show("recv-1-byte-trunc", r);
	r = send(fd, buf, n, 0);
	show("send-v6-third", r);
	iov[0].iov_base = big;
	iov[0].iov_len = 8;
	iov[1].iov_base = BAD;
	iov[1].iov_len = 100;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	mh.msg_name = BAD;
	mh.msg_namelen = 12;
	r = recvmsg(fd, &mh, 0);
	show("recvmsg-bad-piece", r);
	drain(fd);
	r = send(fd, buf, n, 0);
	show("send-v6-fourth", r);
	socklen_t alen = 12;
	r = recvfrom(fd, big, sizeof big, 0, BAD, &alen);
	show("recvfrom-bad-addr", r);
	drain(fd);
	/* the same fd number, another socket: the supervisor must not take it for the old one */
	close(fd);
	int fd2 = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd2 < 0 || bind(fd2, (struct sockaddr *)&k, sizeof k))
		return 2;
	show("reopen-same-number", fd2 == fd ? 0 : -1);
	r = send(fd2, buf, n, 0);
	show("send-v6-new-socket", r);
	r = recv(fd2, big, sizeof big, 0);
	show("recv-new-socket", r);
	close(fd2);
	return 0;
}
