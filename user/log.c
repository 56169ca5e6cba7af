// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static enum udpc_log_level log_level = UDPC_LOG_INFO;

void udpc_log_set_level(enum udpc_log_level level)
{
	log_level = level;
}

enum udpc_log_level udpc_log_get_level(void)
{
	return log_level;
}

void udpc_log(enum udpc_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	fputs("udpclone-bpf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
