/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Where the stream layer's snapshot (tcpstat.h) lives: UDPC_RUN_ROOT/IFACE/tcp, as
 * bpffs next to the pins holds no regular files. tcp-client/tcp-server publish it,
 * status loads it and asks whether its writer still runs.
 */
#ifndef UDPC_TCPSTAT_FILE_H
#define UDPC_TCPSTAT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tcpstat.h"

#define UDPC_RUN_ROOT "/run/udpclone-bpf"

/* UDPC_RUN_ROOT/<ifname>/tcp: 0, -ENAMETOOLONG, or -EINVAL for a name with a '/'. */
int tcpstat_path(const char *ifname, char *buf, size_t len);

/* Writes t for ifname whole or not at all (a temporary file renamed over the old),
 * making the directories (mode 0700, as the pins'). Returns 0 or -errno. */
int tcpstat_publish(const char *ifname, const struct tcpstat *t);

/* Removes ifname's snapshot (and its directory if empty): on a clean exit. */
void tcpstat_unpublish(const char *ifname);

/* Reads and parses ifname's snapshot into *t (tcpstat_free() it after). Returns 0,
 * -ENOENT if there is none, -EINVAL / -EPROTO (tcpstat_parse()) or -EFBIG with why
 * in err, or another -errno from reading it. */
int tcpstat_load(const char *ifname, struct tcpstat *t, char *err, size_t errlen);

/* A process's start time (/proc/PID/stat's starttime), 0 if there is no such process
 * or it is a zombie: with the pid, it names one process across pid reuse. */
uint64_t tcpstat_proc_start(pid_t pid);

/* Whether the process that wrote t still runs. */
bool tcpstat_writer_alive(const struct tcpstat *t);

#endif
