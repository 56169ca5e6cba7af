/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The daemons' signals (attach, serve): blocked from before the lock names us the
 * owner and read from a signalfd, so that a stop asked at any moment (detach's
 * SIGTERM, Ctrl-C) ends in a clean teardown.
 */
#ifndef UDPC_SIGNALS_H
#define UDPC_SIGNALS_H

#include <signal.h>

/* Block SIGINT, SIGTERM and SIGHUP into set (everywhere, threads included) and
 * ignore SIGPIPE: a reader of the log or of --ready-fd that went away must not
 * kill the daemon. */
void udpc_signals_block(sigset_t *set);
/* SIGINT or SIGTERM already waiting (a stop asked while loading): which, else 0.
 * Logs "<signal> before attaching: detaching" and tells the service manager. */
int udpc_stop_pending(void);
/* Wait up to timeout_ms on the signalfd fd: the signal read, 0 if none came. */
int udpc_signal_wait(int fd, int timeout_ms);

#endif
