// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* The daemons' signals: blocked early, read from a signalfd (signals.h). */
#include <poll.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "signals.h"

void udpc_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int udpc_stop_pending(void)
{
	sigset_t pending;
	int sig = 0;

	sigpending(&pending);
	if (sigismember(&pending, SIGTERM))
		sig = SIGTERM;
	else if (sigismember(&pending, SIGINT))
		sig = SIGINT;
	if (sig) {
		/* Stop here rather than attach only to detach: stopping means detaching. */
		pr_info("%s before attaching: detaching\n", strsignal(sig));
		udpc_sd_notify("STOPPING=1");
	}
	return sig;
}

int udpc_signal_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct signalfd_siginfo si;

	if (poll(&pfd, 1, timeout_ms) > 0 && read(fd, &si, sizeof(si)) == sizeof(si))
		return (int)si.ssi_signo;
	return 0;
}
