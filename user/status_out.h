/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The pieces of status's machine-readable outputs (docs/STATUS.md) that every part
 * of it writes alike, to stdout: JSON strings, Prometheus families and label values.
 */
#ifndef UDPC_STATUS_OUT_H
#define UDPC_STATUS_OUT_H

/* A JSON string: quotes, backslashes and control characters escaped. */
void json_str(const char *s);

/* A metric family's "# HELP" and "# TYPE" lines. */
void prom_family(const char *name, const char *type, const char *help);

/* A label value: backslash, double quote and line feed escaped, as the format says. */
void prom_str(const char *s);

#endif
