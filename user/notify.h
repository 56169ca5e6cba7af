/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Telling whoever started the daemon that it is ready: systemd (Type=notify) and scripts. */
#ifndef UDPC_NOTIFY_H
#define UDPC_NOTIFY_H

/* Send state lines ("READY=1", "STATUS=...", joined by '\n') to the service manager's
 * $NOTIFY_SOCKET (sd_notify(3)'s protocol). 0 when sent or when there is no manager
 * to tell (no $NOTIFY_SOCKET), else -errno. */
int udpc_sd_notify(const char *state);
/* Write "ready\n" to fd and close it (--ready-fd): 0 or -errno (logged); fd < 0: nothing. */
int udpc_ready_fd(int fd);
/* Ready: READY=1 with STATUS=status (cut to a few hundred bytes) to the service manager
 * (failure logged at debug level: most runs have none), then --ready-fd. */
void udpc_notify_ready(const char *status, int ready_fd);

#endif
