// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Our TC filters: fixed handle and priority (udpclone.h), on clsact. A filter there
 * is ours only if its program has one of our programs' names: anyone else's is
 * never replaced or removed.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tc.h"
#include "udpclone.h"

static const char *const our_progs[] = { "udpc_egress", "udpc_ingress", "udpc_serve_egress",
					  "udpc_serve_ingress", "udpc_gso_return" };

static void tc_hook(struct bpf_tc_hook *hook, int ifindex, bool egress)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = ifindex;
	hook->attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

/* prog_id of the filter at our handle/priority, 0 if none, or -errno. */
static int query_filter(int ifindex, bool egress, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = UDPC_TC_HANDLE, .priority = UDPC_TC_PRIO);
	struct bpf_tc_hook hook;
	int err;

	tc_hook(&hook, ifindex, egress);
	err = bpf_tc_query(&hook, &opts);
	if (err == -ENOENT || err == -EINVAL) {
		/* -EINVAL: no clsact qdisc at all, so no filter either. */
		*prog_id = 0;
		return 0;
	}
	if (err)
		return err;
	*prog_id = opts.prog_id;
	return 0;
}

/* 1 if prog_id is one of our programs. */
static int prog_is_ours(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	size_t i;
	int fd, err;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return err;
	/* The kernel keeps BPF_OBJ_NAME_LEN - 1 bytes of a name: udpc_serve_ingress
	 * comes back as udpc_serve_ingr. */
	for (i = 0; i < sizeof(our_progs) / sizeof(our_progs[0]); i++)
		if (!strncmp(info.name, our_progs[i], sizeof(info.name) - 1))
			return 1;
	return 0;
}

enum filter_at { FILTER_NONE, FILTER_OURS, FILTER_FOREIGN };

/* Whose filter sits at our handle/priority on this hook: enum filter_at, or -errno.
 * A program we cannot inspect counts as someone else's: never touch it. */
static int filter_at(int ifindex, bool egress)
{
	__u32 id;
	int err = query_filter(ifindex, egress, &id);

	if (err)
		return err;
	if (!id)
		return FILTER_NONE;
	return prog_is_ours(id) == 1 ? FILTER_OURS : FILTER_FOREIGN;
}

int udpc_filter_present(int ifindex, bool egress)
{
	int at = filter_at(ifindex, egress);

	return at < 0 ? at : at == FILTER_OURS;
}

int udpc_tc_attach(int ifindex, const char *ifname, int prog_fd, bool egress)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = UDPC_TC_HANDLE, .priority = UDPC_TC_PRIO,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = prog_fd);
	const char *dir = egress ? "egress" : "ingress";
	struct bpf_tc_hook hook;
	int at, err;

	at = filter_at(ifindex, egress);
	if (at < 0)
		return at;
	if (at == FILTER_FOREIGN) {
		pr_warn("cannot attach to %s %s: a TC filter that is not ours already uses handle 0x%x priority %u\n",
			ifname, dir, UDPC_TC_HANDLE, UDPC_TC_PRIO);
		return -EEXIST;
	}
	tc_hook(&hook, ifindex, egress);
	/* Replacing the filter swaps the program atomically: no packet sees neither. */
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		pr_warn("cannot attach to %s %s: %s\n", ifname, dir, strerror(-err));
	else
		pr_debug("%s %s: program id %u %s\n", ifname, dir, opts.prog_id,
			 at == FILTER_OURS ? "replaced ours" : "attached");
	return err;
}

int udpc_tc_attach_progs(int ifindex, const char *ifname, int ingress_fd, int egress_fd)
{
	int err = udpc_tc_clsact(ifindex, ifname);

	/* Ingress first: replies to the first copies must already be handled. */
	if (!err && ingress_fd >= 0)
		err = udpc_tc_attach(ifindex, ifname, ingress_fd, false);
	if (!err && egress_fd >= 0)
		err = udpc_tc_attach(ifindex, ifname, egress_fd, true);
	return err;
}

int udpc_tc_clsact(int ifindex, const char *ifname)
{
	struct bpf_tc_hook hook;
	int err;

	tc_hook(&hook, ifindex, false);
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS; /* the clsact qdisc */
	err = bpf_tc_hook_create(&hook);
	if (!err || err == -EEXIST)
		return 0;
	if (err == -EOPNOTSUPP || err == -ENOENT)
		pr_warn("cannot create the clsact qdisc on %s: %s (kernel without CONFIG_NET_SCH_INGRESS/clsact?)\n",
			ifname, strerror(-err));
	else
		pr_warn("cannot create the clsact qdisc on %s: %s\n", ifname, strerror(-err));
	return err;
}

int udpc_detach_filters(int ifindex, const char *ifname)
{
	int removed = 0, i;

	for (i = 1; i >= 0; i--) { /* egress first: stop making copies */
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = UDPC_TC_HANDLE, .priority = UDPC_TC_PRIO);
		bool egress = i;
		struct bpf_tc_hook hook;
		int at, err;

		at = filter_at(ifindex, egress);
		if (at < 0)
			return at;
		if (at == FILTER_NONE)
			continue;
		if (at == FILTER_FOREIGN) {
			pr_warn("%s %s: the filter at handle 0x%x priority %u is not ours: left alone\n",
				ifname, egress ? "egress" : "ingress", UDPC_TC_HANDLE, UDPC_TC_PRIO);
			continue;
		}
		tc_hook(&hook, ifindex, egress);
		err = bpf_tc_detach(&hook, &opts);
		if (err && err != -ENOENT)
			return err;
		removed++;
	}
	return removed;
}
