/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* One line per event, to stderr (journald picks it up); -v raises the level. */
#ifndef UDPC_LOG_H
#define UDPC_LOG_H

enum udpc_log_level {
	UDPC_LOG_WARN = 0,
	UDPC_LOG_INFO = 1,
	UDPC_LOG_DEBUG = 2,
};

void udpc_log_set_level(enum udpc_log_level level);
enum udpc_log_level udpc_log_get_level(void);
void udpc_log(enum udpc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(...) udpc_log(UDPC_LOG_WARN, __VA_ARGS__)
#define pr_info(...) udpc_log(UDPC_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) udpc_log(UDPC_LOG_DEBUG, __VA_ARGS__)

#endif
