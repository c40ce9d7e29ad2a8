/* toctou_client: a thread rewrites the send buffer while another sends it (TOCTOU).
 *
 *   toctou_client DEV N
 *
 * One RTM_NEWADDR (NLM_F_REPLACE, no ACK) in a buffer whose IFA_LOCAL/IFA_ADDRESS flip
 * between 198.51.100.1 and 198.51.100.200 as fast as a second thread can write them,
 * while the main thread sends the buffer N times. Under `nlcore inject --match
 * 'RTM_NEWADDR addr=198.51.100.128/25'` the .200 address must never reach the kernel,
 * whichever byte the check saw. Prints the number of sends that succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct req {
	struct nlmsghdr nh;
	struct ifaddrmsg ifa;
	struct nlattr a1;
	unsigned char local[4];
	struct nlattr a2;
	unsigned char addr[4];
};

static volatile struct req r;
static atomic_int stop;

static void *flipper(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		unsigned char last = i & 1 ? 200 : 1;
		r.local[3] = last;
		r.addr[3] = last;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: toctou_client DEV N\n"), 2;
	int index = (int)if_nametoindex(argv[1]), n = atoi(argv[2]), ok = 0;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (!index || fd < 0)
		return perror("toctou_client"), 2;
	struct req init = {
		.nh = { sizeof(struct req), RTM_NEWADDR,
			NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, 1, 0 },
		.ifa = { AF_INET, 24, 0, 0, (unsigned int)index },
		.a1 = { 8, IFA_LOCAL }, .local = { 198, 51, 100, 1 },
		.a2 = { 8, IFA_ADDRESS }, .addr = { 198, 51, 100, 1 },
	};
	memcpy((void *)&r, &init, sizeof init);
	pthread_t t;
	if (pthread_create(&t, NULL, flipper, NULL))
		return perror("pthread_create"), 2;
	for (int i = 0; i < n; i++)
		ok += send(fd, (const void *)&r, sizeof r, 0) == (ssize_t)sizeof r;
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("%d\n", ok);
	return 0;
}
