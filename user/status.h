/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
#ifndef UDPC_STATUS_H
#define UDPC_STATUS_H

#include <stdbool.h>

/* Print the state of ifname (or of every interface when NULL) from the pins alone;
 * returns an exit code. */
int udpc_status_run(const char *ifname, bool json);

#endif
