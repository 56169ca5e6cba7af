// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* The stream layer's snapshot as text (tcpstat.h): one table of keys per record. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstat.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KEY(n, t, s, m) { .name = (n), .type = (t), .off = offsetof(s, m), .size = sizeof(((s *)0)->m) }
#define COUNTER(m, h) { .name = #m, .type = TCPSTAT_U64, .off = offsetof(struct stream_stats, m), .help = (h) }

const struct tcpstat_key tcpstat_counters[] = {
	COUNTER(rx_datagrams, "Datagrams received from the other end."),
	COUNTER(rx_bytes, "Bytes of the datagrams received from the other end."),
	COUNTER(tx_datagrams, "Datagrams sent to the other end."),
	COUNTER(tx_bytes, "Bytes of the datagrams sent to the other end."),
	COUNTER(retransmits, "Packets declared lost (their frames are sent again)."),
	COUNTER(spurious_losses, "Packets declared lost and acked after all: reordered, not lost."),
	COUNTER(rto_fired, "Retransmission timeouts."),
	COUNTER(tail_probes, "Tail probes: a silent flight's newest packet sent again, so that its lost tail is found (QUIC's PTO)."),
	COUNTER(echoes, "Packets of a thin flight (typing, a request, a close) or of a transfer's last repairs sent a second time, 2 ms after the first."),
	COUNTER(rx_malformed, "Datagrams dropped: a header or frame did not parse."),
	COUNTER(rx_bad_version, "Datagrams dropped: another version of the stream layer."),
	COUNTER(rx_stale_epoch, "Datagrams dropped: to another incarnation of this end, or from a retired one of the other."),
	COUNTER(rx_duplicate, "Datagrams dropped: a packet number seen before."),
	COUNTER(rx_too_old, "Datagrams dropped: a packet number below those still tracked."),
	COUNTER(rx_unknown_stream, "Frames for a stream never opened (answered by a reset)."),
	COUNTER(rx_closed_stream, "Frames for a stream already closed (ignored)."),
	COUNTER(rx_flow_violation, "Packets not acked: data beyond the window given."),
	COUNTER(rx_refused, "Packets not acked: frames not taken for lack of room."),
	COUNTER(spurious_acks, "Acks of packet numbers never sent."),
	COUNTER(streams_opened, "Streams opened, by either end."),
	COUNTER(streams_closed, "Streams closed (reset ones included)."),
	COUNTER(streams_reset, "Streams reset, by either end or by the link."),
	COUNTER(peer_restarts, "The other end came back with a new epoch (its streams were reset)."),
	COUNTER(peer_closes, "The other end said it was going away."),
	COUNTER(timeouts, "The link fell silent for the idle timeout (its streams were reset)."),
};
const size_t tcpstat_n_counters = ARRAY_SIZE(tcpstat_counters);

void tcpstat_add_counters(struct stream_stats *sum, const struct stream_stats *x)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tcpstat_counters); i++) {
		uint64_t a, b;

		memcpy(&a, (const char *)sum + tcpstat_counters[i].off, sizeof(a));
		memcpy(&b, (const char *)x + tcpstat_counters[i].off, sizeof(b));
		a += b;
		memcpy((char *)sum + tcpstat_counters[i].off, &a, sizeof(a));
	}
}

static const struct tcpstat_key process_keys[] = {
	KEY("pid", TCPSTAT_U32, struct tcpstat, pid),
	KEY("start", TCPSTAT_U64, struct tcpstat, pid_start),
	KEY("role", TCPSTAT_STR, struct tcpstat, role),
	KEY("interface", TCPSTAT_STR, struct tcpstat, ifname),
	KEY("written_ns", TCPSTAT_U64, struct tcpstat, written_ns),
};

static const struct tcpstat_key totals_keys[] = {
	KEY("accepted", TCPSTAT_U64, struct tcpstat, accepted),
	KEY("refused_local", TCPSTAT_U64, struct tcpstat, refused_local),
	KEY("tx_dropped", TCPSTAT_U64, struct tcpstat, tx_dropped),
	KEY("streams_not_listed", TCPSTAT_U64, struct tcpstat, streams_not_listed),
};

static const struct tcpstat_key forward_keys[] = {
	KEY("name", TCPSTAT_STR, struct tcpstat_forward, name),
	KEY("address", TCPSTAT_STR, struct tcpstat_forward, addr),
};

static const struct tcpstat_key session_keys[] = {
	KEY("peer", TCPSTAT_STR, struct tcpstat_session, peer),
	KEY("age_ms", TCPSTAT_U64, struct tcpstat_session, age_ms),
};

static const struct tcpstat_key link_keys[] = {
	KEY("srtt_us", TCPSTAT_U64, struct stream_info, srtt_us),
	KEY("rttvar_us", TCPSTAT_U64, struct stream_info, rttvar_us),
	KEY("min_rtt_us", TCPSTAT_U64, struct stream_info, min_rtt_us),
	KEY("rto_us", TCPSTAT_U64, struct stream_info, rto_us),
	KEY("btl_bw", TCPSTAT_U64, struct stream_info, btl_bw),
	KEY("pacing_rate", TCPSTAT_U64, struct stream_info, pacing_rate),
	KEY("cwnd", TCPSTAT_U64, struct stream_info, cwnd),
	KEY("bytes_in_flight", TCPSTAT_U64, struct stream_info, bytes_in_flight),
	KEY("streams", TCPSTAT_U32, struct stream_info, streams),
	KEY("peer_epoch", TCPSTAT_U64, struct stream_info, peer_epoch),
	KEY("loss_avg", TCPSTAT_DBL, struct stream_info, loss_avg),
};

static const struct tcpstat_key stream_keys[] = {
	KEY("session", TCPSTAT_U32, struct tcpstat_stream, session),
	KEY("id", TCPSTAT_U32, struct tcpstat_stream, id),
	KEY("target", TCPSTAT_STR, struct tcpstat_stream, target),
	KEY("state", TCPSTAT_STR, struct tcpstat_stream, state),
	KEY("local", TCPSTAT_STR, struct tcpstat_stream, local),
	KEY("remote", TCPSTAT_STR, struct tcpstat_stream, remote),
	KEY("age_ms", TCPSTAT_U64, struct tcpstat_stream, age_ms),
	KEY("tx_bytes", TCPSTAT_U64, struct tcpstat_stream, tx_bytes),
	KEY("tx_acked", TCPSTAT_U64, struct tcpstat_stream, tx_acked),
	KEY("rx_bytes", TCPSTAT_U64, struct tcpstat_stream, rx_bytes),
	KEY("rx_read", TCPSTAT_U64, struct tcpstat_stream, rx_read),
};

/* A record's keys: some tables, each at an offset in the record's struct. */
struct part {
	const struct tcpstat_key *keys;
	size_t n, base;
};

#define PART(k, b) { (k), ARRAY_SIZE(k), (b) }
#define COUNTERS(b) { tcpstat_counters, ARRAY_SIZE(tcpstat_counters), (b) }

static const struct part process_parts[] = { PART(process_keys, 0) };
static const struct part totals_parts[] = {
	PART(totals_keys, 0), COUNTERS(offsetof(struct tcpstat, total)),
};
static const struct part forward_parts[] = { PART(forward_keys, 0) };
static const struct part session_parts[] = {
	PART(session_keys, 0), PART(link_keys, offsetof(struct tcpstat_session, link)),
	COUNTERS(offsetof(struct tcpstat_session, st)),
};
static const struct part stream_parts[] = { PART(stream_keys, 0) };

/* ---- writing ---- */

/* A string as one token: "-" for none, bytes that would split it replaced by '?'. */
static void put_token(FILE *f, const char *s, size_t size)
{
	size_t i, n = strnlen(s, size);

	if (!n)
		putc('-', f);
	for (i = 0; i < n; i++)
		putc((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ? '?' : s[i], f);
}

static void put_record(FILE *f, const char *keyword, const struct part *parts, size_t nparts,
		       const void *rec)
{
	size_t i, k;

	fputs(keyword, f);
	for (i = 0; i < nparts; i++)
		for (k = 0; k < parts[i].n; k++) {
			const struct tcpstat_key *key = &parts[i].keys[k];
			const char *p = (const char *)rec + parts[i].base + key->off;
			uint64_t u64;
			uint32_t u32;
			double d;

			fprintf(f, " %s=", key->name);
			switch (key->type) {
			case TCPSTAT_U64:
				memcpy(&u64, p, sizeof(u64));
				fprintf(f, "%llu", (unsigned long long)u64);
				break;
			case TCPSTAT_U32:
				memcpy(&u32, p, sizeof(u32));
				fprintf(f, "%u", u32);
				break;
			case TCPSTAT_DBL:
				memcpy(&d, p, sizeof(d));
				fprintf(f, "%.6f", isfinite(d) ? d : 0);
				break;
			case TCPSTAT_STR:
				put_token(f, p, key->size);
				break;
			}
		}
	putc('\n', f);
}

int tcpstat_write(FILE *f, const struct tcpstat *t)
{
	uint32_t i;

	fprintf(f, "%s %d\n", TCPSTAT_MAGIC, TCPSTAT_VERSION);
	put_record(f, "process", process_parts, ARRAY_SIZE(process_parts), t);
	put_record(f, "totals", totals_parts, ARRAY_SIZE(totals_parts), t);
	for (i = 0; i < t->n_forwards && i < TCPSTAT_MAX_FORWARDS; i++)
		put_record(f, "forward", forward_parts, ARRAY_SIZE(forward_parts), &t->forwards[i]);
	for (i = 0; i < t->n_sessions; i++)
		put_record(f, "session", session_parts, ARRAY_SIZE(session_parts), &t->sessions[i]);
	for (i = 0; i < t->n_streams; i++)
		put_record(f, "stream", stream_parts, ARRAY_SIZE(stream_parts), &t->streams[i]);
	fprintf(f, "end\n");
	return ferror(f) ? -EIO : 0;
}

/* ---- parsing ---- */

struct parser {
	unsigned int line;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 2, 3))) bad(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (ps->line && ps->errlen)
		n = snprintf(ps->err, ps->errlen, "line %u: ", ps->line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A whole decimal number, digits only, at most max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

static int set_value(struct parser *ps, const struct tcpstat_key *key, char *p, const char *v)
{
	uint64_t u;
	uint32_t u32;
	double d;
	char *end;

	switch (key->type) {
	case TCPSTAT_U64:
	case TCPSTAT_U32:
		if (!parse_u64(v, key->type == TCPSTAT_U32 ? UINT32_MAX : UINT64_MAX, &u))
			return bad(ps, "%s=%s: not a whole number in range", key->name, v);
		if (key->type == TCPSTAT_U32) {
			u32 = (uint32_t)u;
			memcpy(p, &u32, sizeof(u32));
		} else {
			memcpy(p, &u, sizeof(u));
		}
		return 0;
	case TCPSTAT_DBL:
		errno = 0;
		d = strtod(v, &end);
		if (!*v || *end || errno || !isfinite(d))
			return bad(ps, "%s=%s: not a number", key->name, v);
		memcpy(p, &d, sizeof(d));
		return 0;
	case TCPSTAT_STR:
		if (strlen(v) >= key->size)
			return bad(ps, "%s: longer than %zu bytes", key->name, key->size - 1);
		strcpy(p, strcmp(v, "-") ? v : "");
		return 0;
	}
	return bad(ps, "%s: unknown type", key->name);
}

/* The KEY=VALUE tokens after a keyword (toks: the rest of the line) into rec. */
static int parse_record(struct parser *ps, char *toks, const struct part *parts, size_t nparts,
			void *rec)
{
	char *save = NULL, *tok, *eq;
	size_t i, k;
	int err;

	for (tok = strtok_r(toks, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		eq = strchr(tok, '=');
		if (!eq || eq == tok)
			return bad(ps, "'%.40s': not KEY=VALUE", tok);
		*eq = '\0';
		for (i = 0; i < nparts; i++)
			for (k = 0; k < parts[i].n; k++)
				if (!strcmp(parts[i].keys[k].name, tok)) {
					err = set_value(ps, &parts[i].keys[k],
							(char *)rec + parts[i].base + parts[i].keys[k].off,
							eq + 1);
					if (err)
						return err;
					goto next;
				}
		/* a key of a later writer: skipped */
next:;
	}
	return 0;
}

/* Room for one more of an array of *n items of size, growing it by doubling. */
static void *grow(void **arr, uint32_t *n, size_t size)
{
	void *p;

	if (!*n || (*n >= 16 && !(*n & (*n - 1)))) {	/* full: 16, 32, 64... */
		p = realloc(*arr, (*n ? 2 * (size_t)*n : 16) * size);
		if (!p)
			return NULL;
		*arr = p;
	}
	p = (char *)*arr + (size_t)(*n)++ * size;
	memset(p, 0, size);
	return p;
}

static int parse_line(struct parser *ps, char *line, struct tcpstat *t, bool *have_process)
{
	char *sp = strchr(line, ' '), *rest = sp ? sp + 1 : line + strlen(line);
	void *rec;

	if (sp)
		*sp = '\0';
	if (!strcmp(line, "process")) {
		*have_process = true;
		return parse_record(ps, rest, process_parts, ARRAY_SIZE(process_parts), t);
	}
	if (!strcmp(line, "totals"))
		return parse_record(ps, rest, totals_parts, ARRAY_SIZE(totals_parts), t);
	if (!strcmp(line, "forward")) {
		if (t->n_forwards >= TCPSTAT_MAX_FORWARDS)
			return bad(ps, "more than %d forwards", TCPSTAT_MAX_FORWARDS);
		return parse_record(ps, rest, forward_parts, ARRAY_SIZE(forward_parts),
				    &t->forwards[t->n_forwards++]);
	}
	if (!strcmp(line, "session")) {
		if (t->n_sessions >= TCPSTAT_MAX_STREAMS)
			return bad(ps, "more than %d sessions", TCPSTAT_MAX_STREAMS);
		rec = grow((void **)&t->sessions, &t->n_sessions, sizeof(*t->sessions));
		if (!rec)
			return -ENOMEM;
		return parse_record(ps, rest, session_parts, ARRAY_SIZE(session_parts), rec);
	}
	if (!strcmp(line, "stream")) {
		struct tcpstat_stream *s;
		int err;

		if (t->n_streams >= TCPSTAT_MAX_STREAMS)
			return bad(ps, "more than %d streams", TCPSTAT_MAX_STREAMS);
		s = grow((void **)&t->streams, &t->n_streams, sizeof(*t->streams));
		if (!s)
			return -ENOMEM;
		err = parse_record(ps, rest, stream_parts, ARRAY_SIZE(stream_parts), s);
		if (!err && s->session >= t->n_sessions)
			return bad(ps, "stream %u of session %u, which is not listed before it", s->id,
				   s->session);
		return err;
	}
	return 0; /* a record of a later writer: skipped */
}

int tcpstat_parse(const char *text, size_t len, struct tcpstat *t, char *err, size_t errlen)
{
	struct parser ps = { .err = err, .errlen = errlen };
	bool have_process = false, ended = false;
	char *copy, *line, *nl;
	uint64_t version;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	if (errlen)
		err[0] = '\0';
	if (memchr(text, '\0', len))
		return bad(&ps, "not text (a NUL byte)");
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; *line && !ret; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		ps.line++;
		if (ended) {
			ret = bad(&ps, "something after \"end\"");
		} else if (ps.line == 1) {
			size_t m = strlen(TCPSTAT_MAGIC);

			if (strncmp(line, TCPSTAT_MAGIC " ", m + 1) ||
			    !parse_u64(line + m + 1, UINT32_MAX, &version)) {
				ps.line = 0;
				ret = bad(&ps, "not a stream snapshot (it starts \"%.40s\")", line);
			} else if ((t->version = (uint32_t)version) != TCPSTAT_VERSION) {
				ps.line = 0;
				bad(&ps, "written in version %u of the format, not %d", t->version,
				    TCPSTAT_VERSION);
				ret = -EPROTO;
			}
		} else if (!strcmp(line, "end")) {
			ended = true;
		} else if (*line) {
			ret = parse_line(&ps, line, t, &have_process);
		}
	}
	free(copy);
	ps.line = 0;
	if (!ret && !t->version)
		ret = bad(&ps, "empty");
	else if (!ret && !ended)
		ret = bad(&ps, "cut short (no \"end\" line)");
	else if (!ret && (!have_process || !t->pid))
		ret = bad(&ps, "no process record with a pid");
	return ret;
}

void tcpstat_free(struct tcpstat *t)
{
	free(t->sessions);
	free(t->streams);
	t->sessions = NULL;
	t->streams = NULL;
	t->n_sessions = t->n_streams = 0;
}
