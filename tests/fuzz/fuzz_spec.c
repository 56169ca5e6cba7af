// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * libFuzzer target for the command-line parsers (user/spec.c): --listen and
 * --destinations, one item or a list. Built with
 * clang -fsanitize=fuzzer,address,undefined, so any read or write out of bounds
 * (of the input, which is given as an exactly sized heap string, or of the error
 * buffer, also exactly sized) or undefined behaviour aborts the run. Properties,
 * each an abort() when broken:
 *   - a parser returns 0 or -EINVAL, nothing else;
 *   - success: the port is 1..65535; a destination's host is non-empty and
 *     terminated within its buffer; printed back as the user would write it
 *     (HOST:PORT, [IPv6]:PORT) it parses again to exactly the same result;
 *     a list has 1..max items, each like that, and no two the same;
 *   - rejection: the message is not empty, is one line, and names the input:
 *     it starts with "<kind> '" and the item as given (cut after 80 bytes);
 *     with a small error buffer the message is cut, never overflows.
 * Inputs stop at their first NUL, as a command-line argument does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define ECHO_MAX 80	/* what spec.c echoes of an item */
#define LIST_MAX UDPC_MAX_DESTS

/*
 * Every rejection is one line: spec.c quotes control characters as \xNN.
 * UDPC_FUZZ_STRICT_ONE_LINE=0 tolerates a newline the input itself brought in.
 */
static int strict_one_line;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *s = getenv("UDPC_FUZZ_STRICT_ONE_LINE");

	strict_one_line = !(s && *s == '0');
	return 0;
}

static int one_line(const char *err, const char *input)
{
	if (!strict_one_line && strpbrk(input, "\n\r"))
		return 1;
	return !strpbrk(err, "\n\r");
}

#define check(cond, ...)                                                               \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz_spec: property broken: " __VA_ARGS__);   \
			fprintf(stderr, "\n");                                         \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* How spec.c quotes an item: its first ECHO_MAX bytes, each byte outside printable
 * ASCII as \xNN. out must hold ECHO_MAX * 4 + 1. Returns the length. */
static size_t quote(const char *s, size_t len, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len && i < ECHO_MAX; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f)
			out[n++] = c;
		else
			n += sprintf(out + n, "\\x%02x", c);
	}
	out[n] = '\0';
	return n;
}

/* The message names the input: "<kind> '<quoted item>...". */
static void check_message(const char *err, const char *kind, const char *item, size_t len)
{
	size_t kl = strlen(kind), n;
	char want[ECHO_MAX * 4 + 1];

	n = quote(item, len, want);
	check(err[0], "empty error message for %s '%s'", kind, item);
	check(one_line(err, item), "error message for %s is not one line: \"%s\"", kind, err);
	check(!strncmp(err, kind, kl) && err[kl] == ' ' && err[kl + 1] == '\'',
	      "error \"%s\" does not start with \"%s '\"", err, kind);
	/* a message buffer too small for the whole echo holds a prefix of it */
	check(!strncmp(err + kl + 2, want, strlen(err + kl + 2) < n ? strlen(err + kl + 2) : n),
	      "error \"%s\" does not echo the %s", err, kind);
}

/* An item's message names one of the list's comma-separated items. */
static void check_names_item(const char *err, const char *list)
{
	const char *p = list, *e;

	for (;;) {
		char want[ECHO_MAX * 4 + 1];
		size_t il, n;

		e = strchr(p, ',');
		il = e ? (size_t)(e - p) : strlen(p);
		n = quote(p, il, want);
		if (!strncmp(err + 13, want, n) && err[13 + n] == (il > ECHO_MAX ? '.' : '\''))
			return;
		if (!e)
			break;
		p = e + 1;
	}
	check(0, "error \"%s\" names no item of the list '%s'", err, list);
}

/* A rejection of s must say something one line long, even in a tiny buffer. */
static void check_small_buffers(int (*parse)(const char *, char *, size_t), const char *s)
{
	static const size_t sizes[] = { 1, 2, 7, 16, 40 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *err = malloc(sizes[i]);	/* exactly sized: ASan sees any overflow */

		check(err, "malloc");
		memset(err, 'X', sizes[i]);
		check(parse(s, err, sizes[i]) == -EINVAL, "result changed with the buffer size");
		check(memchr(err, '\0', sizes[i]), "error not terminated in a %zu-byte buffer",
		      sizes[i]);
		free(err);
	}
	check(parse(s, NULL, 0) == -EINVAL, "NULL error buffer changed the result");
}

static int parse_listen(const char *s, char *err, size_t len)
{
	struct udpc_listen l;

	return udpc_parse_listen(s, &l, err, len);
}

static int parse_dest(const char *s, char *err, size_t len)
{
	struct udpc_dest_spec d;

	return udpc_parse_dest(s, &d, err, len);
}

static int parse_list(const char *s, char *err, size_t len)
{
	static struct udpc_dest_spec d[LIST_MAX];
	int n;

	return udpc_parse_dest_list(s, d, LIST_MAX, &n, err, len);
}

/* A parsed destination, printed back as the user would write it. */
static void format_dest(const struct udpc_dest_spec *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, strchr(d->host, ':') ? "[%s]:%u" : "%s:%u", d->host, d->port);

	if (d->uplink[0])
		snprintf(buf + n, len - n, "@%s", d->uplink);
	else if (d->table)
		snprintf(buf + n, len - n, "@table=%u", d->table);
}

static void check_dest(const struct udpc_dest_spec *d, const char *in)
{
	struct udpc_dest_spec again;
	char buf[UDPC_HOST_MAX + UDPC_IFNAME_MAX + 32], err[512];
	size_t hl = strnlen(d->host, sizeof(d->host));

	check(hl > 0 && hl < sizeof(d->host), "'%s': host empty or not terminated", in);
	check(d->port >= 1, "'%s': port 0", in);
	check(strnlen(d->uplink, sizeof(d->uplink)) < sizeof(d->uplink),
	      "'%s': uplink not terminated", in);
	check(!(d->uplink[0] && d->table), "'%s': both an uplink and a table", in);
	format_dest(d, buf, sizeof(buf));
	err[0] = '\0';
	check(udpc_parse_dest(buf, &again, err, sizeof(err)) == 0,
	      "'%s' parsed, but its re-print '%s' does not: %s", in, buf, err);
	check(!strcmp(again.host, d->host) && again.port == d->port &&
	      !strcmp(again.uplink, d->uplink) && again.table == d->table,
	      "'%s' -> '%s' re-parses differently ('%s' port %u uplink '%s' table %u)", in, buf,
	      again.host, again.port, again.uplink, again.table);
	check(udpc_host_equal(d->host, again.host), "'%s': host not equal to itself", in);
}

static void fuzz_listen(const char *s, size_t len)
{
	struct udpc_listen l, again;
	char err[512], buf[INET6_ADDRSTRLEN + 16], a[INET6_ADDRSTRLEN];
	int ret;

	err[0] = '\0';
	ret = udpc_parse_listen(s, &l, err, sizeof(err));
	check(ret == 0 || ret == -EINVAL, "listen '%s' returned %d", s, ret);
	if (ret) {
		check_message(err, "listen", s, len);
		check_small_buffers(parse_listen, s);
		return;
	}
	check(l.port >= 1, "listen '%s': port 0", s);
	if (l.family == 0) {
		snprintf(buf, sizeof(buf), "%u", l.port);
	} else if (l.family == UDPC_AF_INET) {
		check(inet_ntop(AF_INET, &l.addr.w[0], a, sizeof(a)), "inet_ntop");
		check(!l.addr.w[1] && !l.addr.w[2] && !l.addr.w[3], "listen '%s': IPv4 with junk", s);
		snprintf(buf, sizeof(buf), "%s:%u", a, l.port);
	} else {
		check(l.family == UDPC_AF_INET6, "listen '%s': family %d", s, l.family);
		check(inet_ntop(AF_INET6, &l.addr, a, sizeof(a)), "inet_ntop");
		snprintf(buf, sizeof(buf), "[%s]:%u", a, l.port);
	}
	check(udpc_parse_listen(buf, &again, err, sizeof(err)) == 0,
	      "listen '%s' parsed, but its re-print '%s' does not: %s", s, buf, err);
	check(again.family == l.family && again.port == l.port &&
	      !memcmp(&again.addr, &l.addr, sizeof(l.addr)),
	      "listen '%s' -> '%s' re-parses differently", s, buf);
}

static void fuzz_dest(const char *s, size_t len)
{
	struct udpc_dest_spec d;
	char err[512];
	int ret;

	err[0] = '\0';
	ret = udpc_parse_dest(s, &d, err, sizeof(err));
	check(ret == 0 || ret == -EINVAL, "destination '%s' returned %d", s, ret);
	if (ret) {
		check_message(err, "destination", s, len);
		check_small_buffers(parse_dest, s);
		return;
	}
	check_dest(&d, s);
}

static void fuzz_list(const char *s, size_t len)
{
	static struct udpc_dest_spec d[LIST_MAX];
	char err[512];
	int ret, n = -1, i, j;

	err[0] = '\0';
	ret = udpc_parse_dest_list(s, d, LIST_MAX, &n, err, sizeof(err));
	check(ret == 0 || ret == -EINVAL, "list '%s' returned %d", s, ret);
	if (ret) {
		check(err[0] && one_line(err, s), "list '%s': bad message \"%s\"", s, err);
		/* The list as a whole, one of its items, or the count. */
		if (!strncmp(err, "destination '", 13))
			check_names_item(err, s);
		else if (strncmp(err, "too many destinations: ", 23))
			check_message(err, "destination list", s, len);
		check_small_buffers(parse_list, s);
		return;
	}
	check(n >= 1 && n <= LIST_MAX, "list '%s': %d items", s, n);
	for (i = 0; i < n; i++) {
		check_dest(&d[i], s);
		for (j = 0; j < i; j++)
			check(d[j].port != d[i].port || d[j].table != d[i].table ||
			      strcmp(d[j].uplink, d[i].uplink) || !udpc_host_equal(d[j].host, d[i].host),
			      "list '%s': items %d and %d are the same", s, j + 1, i + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - data) : size;
	char *s = malloc(len + 1);	/* exactly sized: a read past the NUL is caught */

	if (!s)
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	fuzz_listen(s, len);
	fuzz_dest(s, len);
	fuzz_list(s, len);
	free(s);
	return 0;
}
