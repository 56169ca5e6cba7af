// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * `serve`, the server end of peer mode (docs/PEER.md): the lifecycle of attach.c
 * without its destinations. Take the interface (lock), load or adopt the data path,
 * write the configuration, attach the serve programs, then wait for a signal; the
 * kernel does all the work. Killed outright, it leaves the data path running: a new
 * `serve` adopts its sessions.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "gsopath.h"
#include "instance.h"
#include "log.h"
#include "maps.h"
#include "notify.h"
#include "serve.h"
#include "signals.h"
#include "udpc_peer.h"
#include "udpclone.skel.h"

#define TICK_MS 1000
#define NS_PER_S 1000000000ULL

/* The data path's two configurations: udpc_config (the listen port, the interface)
 * and udpc_peer_cfg (the server's side of the protocol). */
static int write_config(const struct udpc_instance *in, const struct udpc_serve_opts *o,
			int l2_len)
{
	struct udpc_config cfg = {
		.flags = UDPC_CFG_ENABLED,
		.listen_port = htons(o->listen_port),
		.l2_len = l2_len,
		.ifindex = in->ifindex,
		.owner_pid = getpid(),
	};
	struct udpc_peer_cfg pc = {
		.flags = UDPC_PEER_SERVER,
		.to_port = htons(o->to_port),
		.path_timeout_ns = UDPC_PATH_TIMEOUT_S * NS_PER_S,
		.session_timeout_ns = UDPC_SESSION_TIMEOUT_S * NS_PER_S,
	};
	struct udpc_maps m;
	__u32 zero = 0;
	int err;

	err = udpc_maps_of(&m, in->skel->obj);
	if (err)
		return err;
	/* The peer configuration first: the programs act only once udpc_config is enabled. */
	if (bpf_map_update_elem(m.peer_cfg, &zero, &pc, BPF_ANY) ||
	    bpf_map_update_elem(m.config, &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

/* Until SIGINT or SIGTERM (SIGHUP: nothing to reload), or the interface goes. */
static int wait_loop(const struct udpc_instance *in, const sigset_t *signals)
{
	int fd = signalfd(-1, signals, SFD_CLOEXEC), sig, ret = EXIT_SUCCESS;

	if (fd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	for (;;) {
		sig = udpc_signal_wait(fd, TICK_MS);
		if (sig == SIGINT || sig == SIGTERM) {
			pr_info("%s: detaching\n", strsignal(sig));
			udpc_sd_notify("STOPPING=1\nSTATUS=detaching");
			break;
		}
		if (if_nametoindex(in->ifname) != (unsigned int)in->ifindex) {
			pr_warn("interface '%s' is gone: its filters went with it\n", in->ifname);
			ret = EXIT_FAILURE;
			break;
		}
	}
	close(fd);
	return ret;
}

int udpc_serve_run(const struct udpc_serve_opts *o)
{
	struct udpc_instance in = { .lock_fd = -1 };
	struct udpc_load_req req = { .mode = UDPC_MODE_SERVE, .max_sessions = o->max_sessions };
	bool attached = false, stopped = false;
	char line[160];
	sigset_t signals;
	int l2_len, err, ret = EXIT_FAILURE;

	udpc_signals_block(&signals);
	if (udpc_instance_begin(&in, o->ifname, &l2_len))
		return EXIT_FAILURE;
	err = udpc_instance_load(&in, &req);
	if (err) {
		udpc_instance_load_failed(&in, &req, err);
		goto out;
	}
	if (in.adopted)
		pr_info("adopting the state pinned in %s\n", in.pin_dir);
	err = write_config(&in, o, l2_len);
	if (err) {
		pr_warn("cannot write the maps: %s\n", strerror(-err));
		goto out;
	}
	/* A GSO super-packet of the application's (QUIC servers send them) is cut
	 * into datagrams by the pair before its copies leave. */
	udpc_gsopath_enable(in.ifindex, bpf_program__fd(in.skel->progs.udpc_gso_return),
			    bpf_map__fd(in.skel->maps.udpc_peer_cfg));
	if (udpc_stop_pending()) {
		stopped = true;
		ret = EXIT_SUCCESS;
		goto out;
	}
	err = udpc_instance_attach(&in);
	if (err)
		goto out;
	attached = true;
	snprintf(line, sizeof(line), "serving %s: UDP port %u -> local port %u, up to %u sessions",
		 in.ifname, o->listen_port, o->to_port, in.max_sessions);
	pr_info("%s\n", line);
	/* Both programs attached and the maps written: tell systemd and --ready-fd. */
	udpc_notify_ready(line, o->ready_fd);
	ret = wait_loop(&in, &signals);
out:
	/* As attach: an adopted data path whose attach failed keeps running. */
	if (attached || stopped || !in.adopted)
		udpc_instance_remove(&in);
	udpc_instance_close(&in);
	return ret;
}
