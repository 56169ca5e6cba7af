// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The verifier budget: load the real object on the running kernel and read, for
 * every program, how many instructions the verifier processed
 * (bpf_prog_info.verified_insns, kernel 5.16+). Each must stay at or under
 * UDPC_VERIFIER_BUDGET, a tenth of the kernel's 1,000,000 limit: a kernel whose
 * verifier is a little less precise, or a slow router CPU, must still load us,
 * and quickly. The counts are printed whether or not they pass, so that a change
 * that makes them creep up shows in the log before it fails.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/utsname.h>

#include <cmocka.h>
#include <bpf/bpf.h>

#include "bpf/env.h"

#ifndef UDPC_VERIFIER_BUDGET
#define UDPC_VERIFIER_BUDGET 100000
#endif

static int64_t load_ns;

static int group_setup(void **state)
{
	int64_t t0 = now_ns();

	if (env_load("udpc-verifier"))
		return -1;
	load_ns = now_ns() - t0;
	return 0;
}

static int group_teardown(void **state)
{
	env_teardown();
	return 0;
}

static void test_budget(void **state)
{
	const char *name = *state;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct bpf_program *prog;
	int fd;

	prog = bpf_object__find_program_by_name(env.skel->obj, name);
	assert_non_null(prog);
	fd = bpf_program__fd(prog);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	/* 0 would mean a kernel older than 5.16, which cannot run us (bpf_loop: 5.17). */
	if (!info.verified_insns)
		fail_msg("%s: the kernel reports no verified instruction count", name);
	printf("verified_insns %s %u (budget %u)\n", name, info.verified_insns,
	       UDPC_VERIFIER_BUDGET);
	if (info.verified_insns > UDPC_VERIFIER_BUDGET)
		fail_msg("%s: the verifier processed %u instructions, over the budget of %u",
			 name, info.verified_insns, UDPC_VERIFIER_BUDGET);
}

int main(void)
{
	static const char *const progs[] = { "udpc_egress", "udpc_ingress", "udpc_serve_ingress",
					     "udpc_gso_return",
					     "udpc_serve_egress" };
	struct CMUnitTest tests[sizeof(progs) / sizeof(progs[0])];
	struct utsname u;
	size_t i;
	int rc;

	if (geteuid() != 0) {
		printf("SKIP test_verifier: needs root (BPF)\n");
		return 77;
	}
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		tests[i] = (struct CMUnitTest){ progs[i], test_budget, NULL, NULL,
						(void *)progs[i] };
	rc = _cmocka_run_group_tests("verifier budget", tests, i, group_setup, group_teardown);
	if (!uname(&u))
		printf("kernel %s: object loaded in %.0f ms\n", u.release, load_ns / 1e6);
	return rc;
}
