/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
#ifndef UDPC_DETACH_H
#define UDPC_DETACH_H

/* Remove our filters and pins from ifname; returns an exit code. */
int udpc_detach_run(const char *ifname);

#endif
