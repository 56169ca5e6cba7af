// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The stream layer's snapshot (tcpstat.h): what tcp-client/tcp-server write is what
 * status reads back, field for field; a file of another version, cut short or
 * damaged gives a one-line reason, never a crash or half a snapshot taken as whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstat.h"

static void sample(struct tcpstat *t)
{
	uint32_t i;

	memset(t, 0, sizeof(*t));
	t->pid = 4242;
	t->pid_start = 987654321;
	strcpy(t->role, "tcp-server");
	strcpy(t->ifname, "eth0");
	t->written_ns = 123456789012345ULL;
	t->accepted = 7;
	t->tx_dropped = 3;
	t->total.rx_datagrams = 1000;
	t->total.timeouts = 2;
	t->total.streams_reset = UINT64_MAX;	/* the whole range survives */
	t->n_forwards = 2;
	strcpy(t->forwards[0].name, "app");
	strcpy(t->forwards[0].addr, "127.0.0.1:8000");
	strcpy(t->forwards[1].name, "v6");
	strcpy(t->forwards[1].addr, "[2001:db8::1]:22");
	t->n_sessions = 2;
	t->sessions = calloc(2, sizeof(*t->sessions));
	assert_non_null(t->sessions);
	strcpy(t->sessions[0].peer, "[::ffff:127.0.0.1]:40000");
	t->sessions[0].age_ms = 5000;
	t->sessions[0].link.srtt_us = 41234;
	t->sessions[0].link.min_rtt_us = 40001;
	t->sessions[0].link.streams = 40;
	t->sessions[0].link.peer_epoch = 0xfedcba9876543210ULL;
	t->sessions[0].link.loss_avg = 0.125;
	t->sessions[0].st.retransmits = 17;
	t->sessions[1].link.cwnd = 64000;
	t->n_streams = 40;
	t->streams = calloc(40, sizeof(*t->streams));
	assert_non_null(t->streams);
	for (i = 0; i < 40; i++) {
		struct tcpstat_stream *s = &t->streams[i];

		s->session = i % 2;
		s->id = 2 * i + 1;
		strcpy(s->target, "app");
		strcpy(s->state, i ? "open" : "half-closed-local");
		snprintf(s->local, sizeof(s->local), "127.0.0.1:%u", 50000 + i);
		strcpy(s->remote, "127.0.0.1:8000");
		s->age_ms = 1000 + i;
		s->tx_bytes = 100000 + i;
		s->tx_acked = 90000;
		s->rx_bytes = 16 + i;
		s->rx_read = 16;
	}
}

static char *text_of(const struct tcpstat *t, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(tcpstat_write(f, t), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_round_trip(void **state)
{
	struct tcpstat in, out;
	char err[128], *text;
	size_t len;
	uint32_t i;

	sample(&in);
	text = text_of(&in, &len);
	assert_int_equal(strncmp(text, "udpclone-bpf-tcp-status 1\nprocess pid=4242 ", 43), 0);
	assert_int_equal(tcpstat_parse(text, len, &out, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(out.version, TCPSTAT_VERSION);
	assert_int_equal(out.pid, 4242);
	assert_int_equal(out.pid_start, 987654321);
	assert_string_equal(out.role, "tcp-server");
	assert_string_equal(out.ifname, "eth0");
	assert_int_equal(out.written_ns, in.written_ns);
	assert_int_equal(out.accepted, 7);
	assert_int_equal(out.tx_dropped, 3);
	assert_memory_equal(&out.total, &in.total, sizeof(in.total));
	assert_int_equal(out.n_forwards, 2);
	assert_memory_equal(out.forwards, in.forwards, 2 * sizeof(in.forwards[0]));
	assert_int_equal(out.n_sessions, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(out.sessions[i].peer, in.sessions[i].peer);
		assert_int_equal(out.sessions[i].age_ms, in.sessions[i].age_ms);
		assert_memory_equal(&out.sessions[i].st, &in.sessions[i].st, sizeof(in.sessions[i].st));
		assert_int_equal(out.sessions[i].link.srtt_us, in.sessions[i].link.srtt_us);
		assert_int_equal(out.sessions[i].link.peer_epoch, in.sessions[i].link.peer_epoch);
		assert_int_equal(out.sessions[i].link.cwnd, in.sessions[i].link.cwnd);
		assert_true(out.sessions[i].link.loss_avg == in.sessions[i].link.loss_avg);
	}
	assert_string_equal(out.sessions[1].peer, "");	/* none: written "-" */
	assert_int_equal(out.n_streams, 40);
	assert_memory_equal(out.streams, in.streams, 40 * sizeof(in.streams[0]));
	tcpstat_free(&out);
	tcpstat_free(&in);
	free(text);
}

/* A string cannot split its record: spaces and controls become '?'. */
static void test_tokens(void **state)
{
	struct tcpstat in, out;
	char err[128], *text;
	size_t len;

	sample(&in);
	strcpy(in.forwards[0].name, "a b\tc=d");
	text = text_of(&in, &len);
	assert_int_equal(tcpstat_parse(text, len, &out, err, sizeof(err)), 0);
	assert_string_equal(out.forwards[0].name, "a?b?c=d");
	tcpstat_free(&out);
	tcpstat_free(&in);
	free(text);
}

/* A later writer's records and keys are skipped; what is known is read. */
static void test_forward_compatible(void **state)
{
	static const char text[] =
		"udpclone-bpf-tcp-status 1\n"
		"process pid=1 start=2 role=tcp-client interface=wc1 written_ns=3 new_key=x\n"
		"gadget colour=blue\n"
		"session peer=- srtt_us=5 future=7\n"
		"stream session=0 id=4 target=web state=open tx_bytes=9\n"
		"end\n";
	struct tcpstat t;
	char err[128];

	assert_int_equal(tcpstat_parse(text, strlen(text), &t, err, sizeof(err)), 0);
	assert_int_equal(t.pid, 1);
	assert_string_equal(t.role, "tcp-client");
	assert_int_equal(t.n_sessions, 1);
	assert_int_equal(t.sessions[0].link.srtt_us, 5);
	assert_int_equal(t.n_streams, 1);
	assert_int_equal(t.streams[0].id, 4);
	assert_int_equal(t.streams[0].tx_bytes, 9);
	assert_string_equal(t.streams[0].local, "");
	tcpstat_free(&t);
}

struct bad_case {
	const char *text;
	int ret;
	const char *why;	/* the message starts so */
};

static void test_bad_files(void **state)
{
	static const struct bad_case cases[] = {
		{ "", -EINVAL, "empty" },
		{ "hello world\n", -EINVAL, "not a stream snapshot" },
		{ "udpclone-bpf-tcp-status x\nend\n", -EINVAL, "not a stream snapshot" },
		{ "udpclone-bpf-tcp-status 2\nprocess pid=1\nend\n", -EPROTO, "written in version 2" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1\n", -EINVAL, "cut short" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1\nsession peer=-\nstre", -EINVAL, "cut short" },
		{ "udpclone-bpf-tcp-status 1\nend\n", -EINVAL, "no process record" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=-1\nend\n", -EINVAL, "line 2: pid=-1" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=4294967296\nend\n", -EINVAL, "line 2: pid=" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1\ntotals accepted=99999999999999999999\nend\n",
		  -EINVAL, "line 3: accepted=" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1\nsession loss_avg=nan\nend\n", -EINVAL,
		  "line 3: loss_avg=nan" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1 junk\nend\n", -EINVAL, "line 2: 'junk'" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1\nstream session=0 id=1\nend\n", -EINVAL,
		  "line 3: stream 1 of session 0" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1\nend\nprocess pid=2\n", -EINVAL,
		  "line 4: something after" },
		{ "udpclone-bpf-tcp-status 1\nprocess pid=1 role=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nend\n",
		  -EINVAL, "line 2: role: longer than" },
	};
	struct tcpstat t;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = tcpstat_parse(cases[i].text, strlen(cases[i].text), &t, err, sizeof(err));

		if (ret != cases[i].ret || strncmp(err, cases[i].why, strlen(cases[i].why)))
			fail_msg("case %zu: %d '%s', wanted %d '%s...'", i, ret, err, cases[i].ret,
				 cases[i].why);
		tcpstat_free(&t);
	}
	/* a NUL inside: not text */
	assert_int_equal(tcpstat_parse("udpclone-bpf-tcp-status 1\n\0end\n", 31, &t, err,
				       sizeof(err)), -EINVAL);
	assert_string_equal(err, "not text (a NUL byte)");
	tcpstat_free(&t);
}

/* Every counter of struct stream_stats is in the table, each once. */
static void test_counter_table(void **state)
{
	size_t i, j;

	struct stream_stats a, b;
	uint64_t *x = (uint64_t *)&a, *y = (uint64_t *)&b;

	assert_int_equal(tcpstat_n_counters * sizeof(uint64_t), sizeof(struct stream_stats));
	for (i = 0; i < tcpstat_n_counters; i++) {
		assert_non_null(tcpstat_counters[i].help);
		/* one sentence: status's Prometheus HELP adds to it after its full stop */
		assert_int_equal(tcpstat_counters[i].help[strlen(tcpstat_counters[i].help) - 1], '.');
		for (j = 0; j < i; j++)
			assert_true(tcpstat_counters[i].off != tcpstat_counters[j].off);
	}
	/* and tcpstat_add_counters() adds each */
	for (i = 0; i < tcpstat_n_counters; i++) {
		x[i] = i;
		y[i] = 1000 * i + 1;
	}
	tcpstat_add_counters(&a, &b);
	for (i = 0; i < tcpstat_n_counters; i++)
		assert_int_equal(x[i], 1001 * i + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_forward_compatible),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_counter_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
