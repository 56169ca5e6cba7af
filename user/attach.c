// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The attach daemon's lifecycle: checks, lock, load (or adopt the pinned data path),
 * the first DNS round, attach, readiness, then the loop that runs its steps
 * (destsync.c, nexthop.c, uplink.c, keepalive.c) until SIGINT/SIGTERM, and removing what it
 * attached. If it is killed outright the data path keeps forwarding to the last
 * known addresses.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "gsopath.h"
#include "log.h"
#include "notify.h"
#include "signals.h"
#include "sys.h"
#include "tc.h"
#include "udpc_peer.h"
#include "udpclone.skel.h"

#define TICK_MS 1000
/* While a next hop is being resolved, look again this often (ARP/ND answer in ms),
 * for at most FAST_TICKS ticks: a dead neighbour falls back to TICK_MS. */
#define FAST_TICK_MS 20
#define FAST_TICKS 250

/* The service manager's one-line status (`systemctl status`): how many destinations,
 * and in which state. Sent once ready, then again only when it changes. */
static void notify_status(struct daemon *dm, const char *prefix)
{
	char line[sizeof(dm->status) + 16];
	int n = dm->o->n_dests, err;

	snprintf(line, sizeof(line), "%sSTATUS=%d destination%s on %s: %d active, %d stale, %d unresolved",
		 prefix, n, n == 1 ? "" : "s", dm->in.ifname, dm->states[UDPC_STATE_ACTIVE],
		 dm->states[UDPC_STATE_STALE], dm->states[UDPC_STATE_UNRESOLVED]);
	if (!dm->ready || !strcmp(line + strlen(prefix), dm->status))
		return;
	snprintf(dm->status, sizeof(dm->status), "%s", line + strlen(prefix));
	err = udpc_sd_notify(line);
	if (err)
		pr_debug("cannot notify the service manager: %s\n", strerror(-err));
}

/* Both programs are attached and the maps written: tell systemd and --ready-fd. */
static void notify_ready(struct daemon *dm)
{
	dm->ready = true;
	dm->status[0] = '\0';
	notify_status(dm, "READY=1\n");
	udpc_ready_fd(dm->o->ready_fd);
}

static int write_config(struct daemon *dm, int l2_len)
{
	const struct udpc_listen *l = &dm->o->listen;
	struct udpc_config cfg = {
		.flags = UDPC_CFG_ENABLED,
		.listen_port = htons(l->port),
		.l2_len = l2_len,
		.flow_timeout_ns = (__u64)dm->o->flow_timeout * 1000000000ULL,
		.ifindex = dm->in.ifindex,
		.owner_pid = getpid(),
	};
	__u32 zero = 0;

	/* Without --peer nothing changes on the wire: no flags. */
	struct udpc_peer_cfg pc = { .flags = dm->o->peer ? UDPC_PEER_CLIENT : 0 };

	if (l->family) {
		cfg.flags |= UDPC_CFG_LISTEN_ADDR;
		cfg.listen_family = l->family;
		cfg.listen_addr = l->addr;
	}
	if (bpf_map_update_elem(dm->maps.peer_cfg, &zero, &pc, BPF_ANY))
		return -errno;
	return bpf_map_update_elem(dm->maps.config, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

/* Resolves every interval (or when kicked), then applies the answers under the lock. */
static void *resolver_main(void *arg)
{
	struct daemon *dm = arg;
	struct answers a;

	for (;;) {
		struct timespec deadline;

		pthread_mutex_lock(&dm->lock);
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += dm->o->resolve_interval;
		while (!dm->kick &&
		       pthread_cond_timedwait(&dm->cond, &dm->lock, &deadline) != ETIMEDOUT)
			;
		dm->kick = false;
		pthread_mutex_unlock(&dm->lock);

		resolve_all(dm->o, &a);

		pthread_mutex_lock(&dm->lock);
		if (sync_dests(dm, &a)) {
			pr_warn("cannot update the destination map\n");
		} else {
			nexthop_tick(dm); /* at once for a changed address */
			notify_status(dm, "");
		}
		pthread_mutex_unlock(&dm->lock);
	}
	return NULL;
}

static int run_loop(struct daemon *dm)
{
	pthread_condattr_t cattr;
	pthread_t resolver;
	int unknown = 1, fast = 0, n, sig, sfd;
	int ret = EXIT_SUCCESS;

	sfd = signalfd(-1, &dm->signals, SFD_CLOEXEC);
	if (sfd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&dm->cond, &cattr);
	/* Signals stay blocked in the thread too: only the signalfd sees them. */
	if (pthread_create(&resolver, NULL, resolver_main, dm)) {
		pr_warn("cannot start the resolver thread\n");
		close(sfd);
		return EXIT_FAILURE;
	}
	for (;;) {
		sig = udpc_signal_wait(sfd, unknown && fast < FAST_TICKS ? FAST_TICK_MS : TICK_MS);
		if (sig) {
			if (sig != SIGHUP) {
				pr_info("%s: detaching\n", strsignal(sig));
				udpc_sd_notify("STOPPING=1\nSTATUS=detaching");
				break;
			}
			pthread_mutex_lock(&dm->lock);
			dm->kick = true;
			pthread_cond_signal(&dm->cond);
			pthread_mutex_unlock(&dm->lock);
		}
		if (if_nametoindex(dm->in.ifname) != (unsigned int)dm->in.ifindex) {
			pr_warn("interface '%s' is gone: its filters went with it\n", dm->in.ifname);
			ret = EXIT_FAILURE;
			break;
		}
		pthread_mutex_lock(&dm->lock);
		uplink_tick(dm);
		n = nexthop_tick(dm);
		pthread_mutex_unlock(&dm->lock);
		keepalive_tick(dm); /* takes the lock itself, only as long as it must */
		/* A newly unknown next hop (an address changed) earns fast ticks again. */
		fast = !n || n > unknown ? 0 : fast + 1;
		unknown = n;
	}
	/* Keep the lock for good: the resolver thread, maybe still waiting for DNS, must not
	 * touch the maps being torn down; it ends with the process. */
	pthread_mutex_lock(&dm->lock);
	close(sfd);
	return ret;
}

int udpc_attach_run(const struct udpc_attach_opts *o)
{
	struct daemon dm = { .o = o, .in = { .lock_fd = -1 }, .lock = PTHREAD_MUTEX_INITIALIZER,
			     .ka = { .fd4 = -1, .fd6 = -1 } };
	struct udpc_load_req req = {
		.mode = o->peer ? UDPC_MODE_PEER : UDPC_MODE_PLAIN,
		.max_flows = o->max_flows,
		.max_sessions = o->max_sessions,
	};
	struct udpc_instance *in = &dm.in;
	bool attached = false, stopped = false;
	int l2_len, err, ret = EXIT_FAILURE;

	/* Before taking the lock names us as the owner: from then on, detach's SIGTERM
	 * must end in a clean detach. */
	udpc_signals_block(&dm.signals);
	if (udpc_instance_begin(in, o->ifname, &l2_len))
		return EXIT_FAILURE;

	err = udpc_instance_load(in, &req);
	if (err) {
		udpc_instance_load_failed(in, &req, err);
		goto out;
	}
	if (in->adopted)
		pr_info("adopting the state pinned in %s\n", in->pin_dir);
	err = udpc_maps_of(&dm.maps, in->skel->obj);
	if (err) {
		pr_warn("cannot find the maps of the BPF object: %s\n", strerror(-err));
		goto out;
	}
	dm.l2_len = l2_len;
	if (l2_len && udpc_iface_mac(in->ifname, dm.mac))
		pr_warn("cannot read the MAC address of %s\n", in->ifname);

	err = write_config(&dm, l2_len);
	if (!err) {
		struct answers a;

		/* The first round before attaching, so copies start with every address known. */
		resolve_all(o, &a);
		err = sync_dests(&dm, &a);
	}
	if (err) {
		pr_warn("cannot write the maps: %s\n", strerror(-err));
		goto out;
	}
	if (o->peer)
		udpc_gsopath_enable(in->ifindex, bpf_program__fd(in->skel->progs.udpc_gso_return),
				    dm.maps.peer_cfg);
	uplink_tick(&dm);
	nexthop_tick(&dm);
	/* Told to stop while loading (detach names us from the lock on). */
	if (udpc_stop_pending()) {
		stopped = true;
		ret = EXIT_SUCCESS;
		goto out;
	}
	err = udpc_instance_attach(in);
	if (err)
		goto out;
	attached = true;
	pr_info("attached to %s: UDP port %u%s fanned out to %d destination%s%s\n", in->ifname,
		o->listen.port, o->listen.family ? " (one address)" : "", o->n_dests,
		o->n_dests == 1 ? "" : "s", o->peer ? " (peer mode)" : "");
	notify_ready(&dm);

	if (o->peer)
		keepalive_open(&dm);
	ret = run_loop(&dm);
out:
	keepalive_close(&dm);
	/* Tear down what this run created; an adopted data path whose attach failed
	 * keeps running on the old programs rather than stop forwarding. */
	if (attached || stopped || !in->adopted) {
		detach_uplinks(&dm);
		udpc_instance_remove(in);
	}
	udpc_instance_close(in);
	return ret;
}
