// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Listen and destination specs. Everything works on (pointer, length) slices so
 * that a list item can be parsed in place and echoed back in a message exactly
 * as the user typed it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spec.h"

#define NAME_MAX_LEN 253	/* RFC 1035, without the root's trailing dot */
#define LABEL_MAX_LEN 63
/* Echo at most this much of an item: enough to recognise it, never a screenful. */
#define ECHO_MAX 80

struct item {
	const char *kind;	/* "listen", "destination", "destination list" */
	const char *s;
	size_t len;		/* what is parsed */
	size_t shown;		/* what messages quote, if longer (the whole item) */
};

struct hostport {
	const char *host;
	size_t hlen;
	const char *port;	/* NULL: there was no ':' at all */
	size_t plen;
	bool bracketed;
};

static int echo_len(size_t len)
{
	return len > ECHO_MAX ? ECHO_MAX : (int)len;
}

/* Append s to err (of size errlen, holding n bytes) with bytes outside printable
 * ASCII as \xNN: one line, and nothing for a terminal to obey. Returns the new n. */
static size_t append_quoted(char *err, size_t errlen, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && n + 5 < errlen; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f)
			err[n++] = c;
		else
			n += snprintf(err + n, errlen - n, "\\x%02x", c);
	}
	err[n] = '\0';
	return n;
}

/* Always -EINVAL, so callers can `return fail(...)`. The message quotes the item
 * and may quote parts of it: all of it passes through append_quoted(). */
static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, const struct item *it, const char *fmt, ...)
{
	size_t len = it->shown > it->len ? it->shown : it->len, n;
	char rest[512];
	va_list ap;
	int w;

	if (!err || !errlen)
		return -EINVAL;
	w = snprintf(err, errlen, "%s '", it->kind);
	if (w < 0 || (size_t)w >= errlen)
		return -EINVAL;
	n = append_quoted(err, errlen, w, it->s, (size_t)echo_len(len));
	n = append_quoted(err, errlen, n, len > ECHO_MAX ? "...': " : "': ",
			  len > ECHO_MAX ? 6 : 3);
	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	append_quoted(err, errlen, n, rest, strlen(rest));
	return -EINVAL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool all_digits(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_digit(p[i]))
			return false;
	return len > 0;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       c == '-' || c == '_';
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Copy a slice into a NUL-terminated buffer for the libc parsers; false if it cannot fit. */
static bool slice_copy(char *buf, size_t size, const char *p, size_t len)
{
	if (len >= size)
		return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return true;
}

/* Digits only: strtoul() would let "+5", " 5" and "0x10" through. */
static int parse_port(const struct item *it, const char *p, size_t len, uint16_t *port,
		      char *err, size_t errlen)
{
	unsigned long v = 0;
	size_t i;

	if (!len)
		return fail(err, errlen, it, "port is missing");
	for (i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return fail(err, errlen, it, "port must be a number from 1 to 65535");
		if (v <= 65535)	/* saturate instead of overflowing on long inputs */
			v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return fail(err, errlen, it, "port %.*s%s is out of range 1-65535",
			    echo_len(len), p, len > ECHO_MAX ? "..." : "");
	*port = (uint16_t)v;
	return 0;
}

/*
 * Split at the port's ':'. Without brackets the port follows the last ':', so a
 * host part that still holds a ':' can only be an unbracketed IPv6 address, and
 * there is no telling where that address was meant to end.
 */
static int split_hostport(const struct item *it, struct hostport *hp, char *err, size_t errlen)
{
	const char *s = it->s, *end = it->s + it->len, *p;
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;

	memset(hp, 0, sizeof(*hp));
	if (it->len && s[0] == '[') {
		p = memchr(s, ']', it->len);
		if (!p)
			return fail(err, errlen, it, "missing ']' after the IPv6 address");
		hp->host = s + 1;
		hp->hlen = p - s - 1;
		hp->bracketed = true;
		p++;
		if (p == end)
			return fail(err, errlen, it, "port is missing (expected [ADDR]:PORT)");
		if (*p != ':')
			return fail(err, errlen, it, "expected ':' and a port after ']'");
		hp->port = p + 1;
		hp->plen = end - hp->port;
		return 0;
	}

	for (p = end; p > s && p[-1] != ':'; p--)
		;
	if (p == s) {
		hp->host = s;
		hp->hlen = it->len;
		return 0;
	}
	hp->host = s;
	hp->hlen = p - 1 - s;
	hp->port = p;
	hp->plen = end - p;
	if (memchr(hp->host, ':', hp->hlen)) {
		if (memchr(hp->host, '%', hp->hlen))
			return fail(err, errlen, it,
				    "IPv6 zone ids (%%interface) are not supported");
		/* Splitting at the last ':' is only a guess, so offer it as an example. */
		if (slice_copy(buf, sizeof(buf), hp->host, hp->hlen) &&
		    inet_pton(AF_INET6, buf, &a6) == 1 && all_digits(hp->port, hp->plen))
			return fail(err, errlen, it,
				    "an IPv6 address needs brackets: [ADDR]:PORT, e.g. [%s]:%.*s",
				    buf, echo_len(hp->plen), hp->port);
		return fail(err, errlen, it, "an IPv6 address needs brackets: [ADDR]:PORT");
	}
	return 0;
}

static int check_bracketed(const struct item *it, const struct hostport *hp,
			   struct udpc_addr *addr, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in_addr a4;

	if (!hp->hlen)
		return fail(err, errlen, it, "empty address in brackets");
	if (memchr(hp->host, '%', hp->hlen))
		return fail(err, errlen, it, "IPv6 zone ids (%%interface) are not supported");
	if (!slice_copy(buf, sizeof(buf), hp->host, hp->hlen))
		return fail(err, errlen, it, "'%.*s' is not a valid IPv6 address",
			    echo_len(hp->hlen), hp->host);
	if (inet_pton(AF_INET6, buf, addr) == 1)
		return 0;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return fail(err, errlen, it, "brackets are only for IPv6 addresses: write %s:%.*s",
			    buf, echo_len(hp->plen), hp->port);
	return fail(err, errlen, it, "'%s' is not a valid IPv6 address", buf);
}

static int check_name(const struct item *it, const char *h, size_t len, char *err,
		      size_t errlen)
{
	char buf[NAME_MAX_LEN + 2];
	bool numeric = true;
	size_t i, start = 0, n = len;
	struct in_addr a4;

	if (n && h[n - 1] == '.')
		n--;	/* the root: "example.com." */
	if (n > NAME_MAX_LEN)
		return fail(err, errlen, it, "name is longer than %d characters", NAME_MAX_LEN);
	for (i = 0; i <= n; i++) {
		if (i < n && h[i] != '.') {
			char c = h[i];

			if (!is_name_char(c)) {
				if (c >= 0x20 && c < 0x7f)
					return fail(err, errlen, it,
						    "invalid character '%c' in name", c);
				if ((unsigned char)c >= 0x80)
					return fail(err, errlen, it,
						    "invalid byte 0x%02x in name: give a name with non-ASCII letters in its xn-- (punycode) form",
						    (unsigned char)c);
				return fail(err, errlen, it,
					    "invalid byte 0x%02x in name", (unsigned char)c);
			}
			if (!is_digit(c))
				numeric = false;
			continue;
		}
		if (i == start)
			return fail(err, errlen, it, "empty label in name '%.*s'", (int)len, h);
		if (i - start > LABEL_MAX_LEN)
			return fail(err, errlen, it, "label '%.*s' is longer than %d characters",
				    (int)(i - start), h + start, LABEL_MAX_LEN);
		if (h[start] == '-' || h[i - 1] == '-')
			return fail(err, errlen, it, "label '%.*s' starts or ends with '-'",
				    (int)(i - start), h + start);
		start = i + 1;
	}
	/*
	 * Only the dotted quad counts as an IPv4 literal, yet getaddrinfo() would
	 * read "127.1" or "0x7f000001" as one (inet_aton forms): reject those rather
	 * than resolve them to something the user did not write.
	 */
	if (numeric || (slice_copy(buf, sizeof(buf), h, len) && inet_aton(buf, &a4)))
		return fail(err, errlen, it, "'%.*s' is not a valid IPv4 address", (int)len, h);
	return 0;
}

static bool addr_is_zero(const struct udpc_addr *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

int udpc_host_literal(const char *host, struct udpc_addr *addr)
{
	struct udpc_addr a;
	int family = 0;

	memset(&a, 0, sizeof(a));
	if (!host)
		return 0;
	if (inet_pton(AF_INET, host, &a.w[0]) == 1)
		family = UDPC_AF_INET;
	else if (inet_pton(AF_INET6, host, &a) == 1)
		family = UDPC_AF_INET6;
	else
		memset(&a, 0, sizeof(a));
	if (family && addr)
		*addr = a;
	return family;
}

bool udpc_host_equal(const char *a, const char *b)
{
	struct udpc_addr xa, xb;
	int fa = udpc_host_literal(a, &xa), fb = udpc_host_literal(b, &xb);
	size_t la, lb, i;

	if (fa || fb)
		return fa == fb && !memcmp(&xa, &xb, sizeof(xa));
	la = strlen(a);
	lb = strlen(b);
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	if (la != lb)
		return false;
	/* not strncasecmp(): DNS case folding is ASCII-only whatever the locale */
	for (i = 0; i < la; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

int udpc_parse_listen(const char *s, struct udpc_listen *out, char *err, size_t errlen)
{
	struct udpc_listen l;
	struct hostport hp;
	struct item it;
	char buf[INET_ADDRSTRLEN + 1];
	int ret;

	if (!s || !out)
		return -EINVAL;
	it = (struct item){ .kind = "listen", .s = s, .len = strlen(s) };
	memset(&l, 0, sizeof(l));

	if (all_digits(s, it.len)) {
		ret = parse_port(&it, s, it.len, &l.port, err, errlen);
		if (ret)
			return ret;
		*out = l;
		return 0;
	}

	ret = split_hostport(&it, &hp, err, errlen);
	if (ret)
		return ret;
	if (!hp.port) {
		if (!it.len)
			return fail(err, errlen, &it, "port is missing");
		if (udpc_host_literal(s, NULL))
			return fail(err, errlen, &it, "port is missing (expected ADDR:PORT)");
		return fail(err, errlen, &it, "port must be a number from 1 to 65535");
	}

	if (hp.bracketed) {
		ret = check_bracketed(&it, &hp, &l.addr, err, errlen);
		if (ret)
			return ret;
		l.family = UDPC_AF_INET6;
	} else {
		if (!hp.hlen)
			return fail(err, errlen, &it,
				    "empty address (give only the port to match any address)");
		if (!slice_copy(buf, sizeof(buf), hp.host, hp.hlen) ||
		    inet_pton(AF_INET, buf, &l.addr.w[0]) != 1) {
			bool dotted = true;
			size_t i;

			for (i = 0; i < hp.hlen; i++)
				if (!is_digit(hp.host[i]) && hp.host[i] != '.')
					dotted = false;
			if (dotted)
				return fail(err, errlen, &it, "'%.*s' is not a valid IPv4 address",
					    echo_len(hp.hlen), hp.host);
			return fail(err, errlen, &it,
				    "'%.*s' is not an IPv4 address or a bracketed IPv6 address (names are not accepted here)",
				    echo_len(hp.hlen), hp.host);
		}
		l.family = UDPC_AF_INET;
	}
	/* Matching on the unspecified address would match nothing at all. */
	if (addr_is_zero(&l.addr))
		return fail(err, errlen, &it,
			    "the unspecified address matches no packet; give only the port to match any address");

	ret = parse_port(&it, hp.port, hp.plen, &l.port, err, errlen);
	if (ret)
		return ret;
	*out = l;
	return 0;
}

int udpc_parse_port(const char *kind, const char *s, uint16_t *port, char *err, size_t errlen)
{
	struct item it;

	if (!kind || !s || !port)
		return -EINVAL;
	it = (struct item){ .kind = kind, .s = s, .len = strlen(s) };
	return parse_port(&it, s, it.len, port, err, errlen);
}

int udpc_parse_serve_ports(const char *listen, const char *to, uint16_t *listen_port,
			   uint16_t *to_port, char *err, size_t errlen)
{
	uint16_t l, t;
	int ret;

	ret = udpc_parse_port("listen", listen, &l, err, errlen);
	if (!ret)
		ret = udpc_parse_port("to", to, &t, err, errlen);
	if (ret)
		return ret;
	/* The application's port is where decapsulated datagrams go: were it the listen
	 * port, each would be caught again as a copy from a client. */
	if (l == t) {
		struct item it = { .kind = "to", .s = to, .len = strlen(to) };

		return fail(err, errlen, &it, "must differ from the --listen port");
	}
	*listen_port = l;
	*to_port = t;
	return 0;
}

/* "@IFACE" or "@table=N" after HOST:PORT: which way the copy leaves. */
static int parse_via(const struct item *it, const char *p, size_t len, struct udpc_dest_spec *d,
		     char *err, size_t errlen)
{
	static const char table[] = "table=";
	size_t i;

	if (!len)
		return fail(err, errlen, it, "nothing after '@' (expected @IFACE or @table=N)");
	if (len >= sizeof(table) - 1 && !strncmp(p, table, sizeof(table) - 1)) {
		unsigned long long n = 0;

		p += sizeof(table) - 1;
		len -= sizeof(table) - 1;
		if (!all_digits(p, len) || len > 10)
			return fail(err, errlen, it, "routing table must be a number from 1 to 4294967295");
		for (i = 0; i < len; i++)
			n = n * 10 + (p[i] - '0');
		if (n < 1 || n > 0xffffffffULL)
			return fail(err, errlen, it, "routing table must be a number from 1 to 4294967295");
		d->table = n;
		return 0;
	}
	if (len >= UDPC_IFNAME_MAX)
		return fail(err, errlen, it, "interface name is longer than %d characters",
			    UDPC_IFNAME_MAX - 1);
	/* What the kernel refuses in a name (dev_valid_name), and our separators. */
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
		return fail(err, errlen, it, "'%.*s' is not an interface name", (int)len, p);
	for (i = 0; i < len; i++)
		if (p[i] == '/' || p[i] == ':' || p[i] == '@' || isspace((unsigned char)p[i]) ||
		    !isprint((unsigned char)p[i]))
			return fail(err, errlen, it, "'%.*s' is not an interface name", (int)len, p);
	slice_copy(d->uplink, sizeof(d->uplink), p, len);
	return 0;
}

static int parse_dest_slice(const char *s, size_t len, struct udpc_dest_spec *out, char *err,
			    size_t errlen)
{
	struct udpc_dest_spec d;
	struct udpc_addr addr;
	struct hostport hp;
	struct item it = { .kind = "destination", .s = s, .len = len };
	const char *at = memchr(s, '@', len);
	int ret;

	memset(&d, 0, sizeof(d));
	memset(&addr, 0xff, sizeof(addr));	/* stays so for a name: never "unspecified" */
	if (at) {
		ret = parse_via(&it, at + 1, s + len - at - 1, &d, err, errlen);
		if (ret)
			return ret;
		it.shown = it.len;
		it.len = at - s; /* the HOST:PORT part */
	}
	ret = split_hostport(&it, &hp, err, errlen);
	if (ret)
		return ret;
	if (!hp.port)
		return fail(err, errlen, &it, "port is missing (expected HOST:PORT)");

	if (hp.bracketed) {
		ret = check_bracketed(&it, &hp, &addr, err, errlen);
		if (ret)
			return ret;
	} else {
		if (!hp.hlen)
			return fail(err, errlen, &it, "empty host");
		if (hp.hlen > NAME_MAX_LEN + 1)
			return fail(err, errlen, &it, "name is longer than %d characters",
				    NAME_MAX_LEN);
		/* fits: NAME_MAX_LEN + 1 < UDPC_HOST_MAX */
		slice_copy(d.host, sizeof(d.host), hp.host, hp.hlen);
		if (!udpc_host_literal(d.host, &addr)) {
			ret = check_name(&it, hp.host, hp.hlen, err, errlen);
			if (ret)
				return ret;
		}
	}
	if (addr_is_zero(&addr))
		return fail(err, errlen, &it, "the unspecified address is not a destination");

	ret = parse_port(&it, hp.port, hp.plen, &d.port, err, errlen);
	if (ret)
		return ret;
	slice_copy(d.host, sizeof(d.host), hp.host, hp.hlen);
	*out = d;
	return 0;
}

int udpc_parse_dest(const char *s, struct udpc_dest_spec *out, char *err, size_t errlen)
{
	if (!s || !out)
		return -EINVAL;
	return parse_dest_slice(s, strlen(s), out, err, errlen);
}

/* Item idx (0-based) of a comma-separated list. */
static void list_item(const char *s, int idx, const char **p, size_t *len)
{
	const char *e;

	while (idx--)
		s = strchr(s, ',') + 1;
	e = strchr(s, ',');
	*p = s;
	*len = e ? (size_t)(e - s) : strlen(s);
}

int udpc_parse_dest_list(const char *s, struct udpc_dest_spec *out, int max, int *n,
			 char *err, size_t errlen)
{
	struct item it;
	const char *p;
	size_t len;
	int count = 1, i, j, ret;

	if (!s || !out || !n || max <= 0)
		return -EINVAL;
	it = (struct item){ .kind = "destination list", .s = s, .len = strlen(s) };
	if (!it.len)
		return fail(err, errlen, &it, "no destinations given");

	/* Structure first: "too many" must not hide behind an error in item 17. */
	for (p = s; *p; p++)
		count += *p == ',';
	for (i = 0; i < count; i++) {
		list_item(s, i, &p, &len);
		if (!len)
			return fail(err, errlen, &it, "item %d is empty", i + 1);
	}
	if (count > max) {
		if (err && errlen)
			snprintf(err, errlen, "too many destinations: %d, the limit is %d",
				 count, max);
		return -EINVAL;
	}

	for (i = 0; i < count; i++) {
		list_item(s, i, &p, &len);
		ret = parse_dest_slice(p, len, &out[i], err, errlen);
		if (ret)
			return ret;
		for (j = 0; j < i; j++) {
			const char *q;
			size_t qlen;

			/* The same server by two uplinks is the point, not a duplicate. */
			if (out[j].port != out[i].port || out[j].table != out[i].table ||
			    strcmp(out[j].uplink, out[i].uplink) ||
			    !udpc_host_equal(out[j].host, out[i].host))
				continue;
			list_item(s, j, &q, &qlen);
			it = (struct item){ .kind = "destination", .s = p, .len = len };
			return fail(err, errlen, &it, "duplicate of item %d '%.*s'", j + 1,
				    echo_len(qlen), q);
		}
	}
	*n = count;
	return 0;
}
