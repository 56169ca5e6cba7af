/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
#ifndef UDPC_STATUS_H
#define UDPC_STATUS_H

enum udpc_status_format {
	UDPC_STATUS_TEXT,
	UDPC_STATUS_JSON,
	UDPC_STATUS_PROMETHEUS, /* text exposition format, for scrapers and textfile collectors */
};

/* Print the state of ifname (or of every interface when NULL) from the pins alone;
 * returns an exit code. */
int udpc_status_run(const char *ifname, enum udpc_status_format format);

#endif
