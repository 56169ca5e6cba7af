// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * `detach`: stop the daemon driving an interface (it cleans up after itself), or
 * remove what a killed one left: our filters, on the interface and its uplinks,
 * and the pins. Never anything that is not ours.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"
#include "gsopath.h"
#include "instance.h"
#include "log.h"
#include "maps.h"
#include "sys.h"
#include "tc.h"
#include "tcpstat_file.h"

/* How long detach waits for the daemon it stopped (50 ms each). A daemon stops
 * once its programs are loaded: tens of milliseconds here, but a first DNS round
 * against a dead server, or a slow router CPU, can make it seconds. */
#define DETACH_WAIT_TRIES 600

/* The uplinks a killed daemon left our ingress program on, from its pins. */
static int detach_pinned_uplinks(const char *pin_dir)
{
	struct udpc_maps p;
	int removed = 0;
	__u32 i;

	if (udpc_maps_open(&p, pin_dir))
		return 0;
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		struct udpc_uplink up;
		char name[IF_NAMESIZE];
		int n;

		if (bpf_map_lookup_elem(p.uplinks, &i, &up) || !(up.flags & UDPC_UPLINK_VIA) ||
		    !up.ifindex || !if_indextoname(up.ifindex, name))
			continue;
		n = udpc_detach_filters(up.ifindex, name);
		if (n > 0)
			removed += n;
	}
	udpc_maps_close(&p);
	return removed;
}

/* A tcp-client / tcp-server killed outright left its snapshot for status, which would
 * call it stale until the next one on the interface: gone with the pins. */
static void remove_stale_snapshot(const char *ifname)
{
	struct tcpstat t;
	char why[160];

	if (!tcpstat_load(ifname, &t, why, sizeof(why)) && !tcpstat_writer_alive(&t))
		tcpstat_unpublish(ifname);
	tcpstat_free(&t);
}

int udpc_detach_run(const char *ifname)
{
	struct udpc_instance in = { .lock_fd = -1 };
	int err, removed = 0, i;
	bool stopped = false;	/* a daemon was running and has cleaned up after itself */
	unsigned int ifindex;

	if (udpc_check_caps()) {
		pr_warn("needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root\n");
		return EXIT_FAILURE;
	}
	snprintf(in.ifname, sizeof(in.ifname), "%s", ifname);
	if (udpc_ensure_bpffs() || udpc_pin_dir(ifname, in.pin_dir, sizeof(in.pin_dir)))
		return EXIT_FAILURE;

	err = udpc_instance_lock(&in, false);
	if (err == -EBUSY) {
		/* A daemon drives it: ask it to stop; it removes everything itself. */
		int pid = udpc_owner_pid(in.pin_dir);

		if (pid > 0 && kill(pid, SIGTERM) == 0)
			pr_info("stopping the udpclone-bpf daemon (pid %d) on %s\n", pid, ifname);
		/* A daemon still loading its programs stops once they are loaded. */
		for (i = 0; i < DETACH_WAIT_TRIES && err == -EBUSY; i++) {
			usleep(50000);
			err = udpc_instance_lock(&in, false);
		}
		if (err == -EBUSY) {
			pr_warn("the daemon driving '%s' (pid %d) did not stop\n", ifname, pid);
			return EXIT_FAILURE;
		}
		stopped = true;
	}
	if (err && err != -ENOENT) {
		pr_warn("cannot lock %s: %s\n", in.pin_dir, strerror(-err));
		return EXIT_FAILURE;
	}
	/* -ENOENT: no pins, maybe filters left by a run whose pins were removed. */

	if (!err)
		removed += detach_pinned_uplinks(in.pin_dir);
	ifindex = if_nametoindex(ifname);
	if (ifindex) {
		int n = udpc_detach_filters(ifindex, ifname);

		udpc_gsopath_remove((int)ifindex);
		removed = n < 0 ? n : removed + n;
		if (removed < 0) {
			pr_warn("cannot remove the filters from '%s': %s\n", ifname, strerror(-removed));
			udpc_instance_close(&in);
			return EXIT_FAILURE;
		}
	} else if (err == -ENOENT) {
		pr_warn("unknown interface '%s', and nothing of ours is pinned for it\n", ifname);
		return EXIT_FAILURE;
	} else {
		pr_warn("interface '%s' does not exist here: removing its pins only\n", ifname);
	}
	if (err != -ENOENT) {
		udpc_unpin_dir(in.pin_dir);
		udpc_instance_close(&in);
	} else if (!removed && !stopped) {
		pr_warn("nothing of ours is attached to '%s'\n", ifname);
		return EXIT_FAILURE;
	}
	remove_stale_snapshot(ifname);
	pr_info("detached from %s\n", ifname);
	return EXIT_SUCCESS;
}
