// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Readiness, without libsystemd: the notification protocol is one datagram on a
 * local socket (see sd_notify(3), "Notes"), a few lines to speak ourselves.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

int udpc_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len, n = strlen(state);
	ssize_t sent;
	int fd, err = 0;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	/* A path, or '@' for Linux's abstract namespace (a leading NUL on the wire).
	 * Newer systemd also knows vsock:, meant for virtual machines: not ours. */
	if (path[0] != '/' && path[0] != '@')
		return -EAFNOSUPPORT;
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The manager learns who sent it from the kernel (SCM_CREDENTIALS on its side):
	 * nothing to attach. The abstract name's length is exact: no trailing NUL. */
	sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa,
		      offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
	if (sent < 0)
		err = -errno;
	else if ((size_t)sent != n)
		err = -EMSGSIZE;
	close(fd);
	return err;
}

int udpc_ready_fd(int fd)
{
	static const char line[] = "ready\n";
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return 0;
	do
		n = write(fd, line, sizeof(line) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != sizeof(line) - 1)
		err = -EIO;
	/* Closed, so that a reader waiting for EOF (or reading to it) is not held up. */
	close(fd);
	if (err)
		pr_warn("cannot write to --ready-fd %d: %s\n", fd, strerror(-err));
	return err;
}

void udpc_notify_ready(const char *status, int ready_fd)
{
	char state[640];
	int err;

	snprintf(state, sizeof(state), "READY=1\nSTATUS=%s", status);
	err = udpc_sd_notify(state);
	if (err)
		pr_debug("cannot notify the service manager: %s\n", strerror(-err));
	udpc_ready_fd(ready_fd);
}
