// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * One interface driven by udpclone-bpf: the pin directory and its lock (whose holder
 * is the daemon), loading or adopting the BPF object, and putting its programs on the
 * interface and its uplinks (through tc.c).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "gsopath.h"
#include "instance.h"
#include "log.h"
#include "maps.h"
#include "sys.h"
#include "tc.h"
#include "udpc_peer.h"
#include "udpclone.skel.h"

/* Who holds the lock, for messages and for detach's SIGTERM: the kernel's list of
 * flock()s names the holder's pid. The owner file says the same in the pin
 * directory, for people and where /proc/locks does not show the holder. */
#define OWNER_FILE "udpc_owner"

/* Record our pid as the owner's: a symlink, as bpffs holds no regular files, whose
 * target is the pid (like `ls -l` shows it). Written under a temporary name and
 * renamed, so a reader sees the old pid or ours, never none. */
static int write_owner(const char *pin_dir)
{
	char path[192], tmp[192], pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/" OWNER_FILE, pin_dir);
	/* No dot in the name: bpffs refuses those (EPERM), they are reserved to it. */
	snprintf(tmp, sizeof(tmp), "%s/" OWNER_FILE "_new_%s", pin_dir, pid);
	unlink(tmp);
	if (symlink(pid, tmp))
		return -errno;
	if (rename(tmp, path)) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	return 0;
}

/* The pid whose flock() is on the inode (dev, ino), from /proc/locks; 0 if none shows
 * (no /proc, or the holder is in a pid namespace we cannot see: it shows as 0). */
static int lock_holder(dev_t dev, ino_t ino)
{
	char line[256];
	FILE *f = fopen("/proc/locks", "re");
	int pid = 0;

	if (!f)
		return 0;
	/* "1: FLOCK  ADVISORY  WRITE 1234 00:1c:5678 0 EOF"; waiters' lines have "->". */
	while (!pid && fgets(line, sizeof(line), f)) {
		unsigned int maj, min;
		unsigned long long i;
		int p;

		if (strstr(line, "->") ||
		    sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%llu", &p, &maj, &min, &i) != 4)
			continue;
		if (i == ino && makedev(maj, min) == dev && p > 0)
			pid = p;
	}
	fclose(f);
	return pid;
}

int udpc_owner_pid(const char *pin_dir)
{
	char path[192], target[16];
	struct stat st;
	ssize_t n;
	int pid;

	if (stat(pin_dir, &st))
		return 0;
	pid = lock_holder(st.st_dev, st.st_ino);
	if (pid)
		return pid;
	/* The file may be a crashed owner's: only a live process that is not us counts. */
	snprintf(path, sizeof(path), "%s/" OWNER_FILE, pin_dir);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	pid = atoi(target);
	if (pid <= 0 || pid == getpid() || (kill(pid, 0) && errno == ESRCH))
		return 0;
	return pid;
}

int udpc_instance_lock(struct udpc_instance *in, bool create)
{
	if (create) {
		if (mkdir(UDPC_PIN_ROOT, 0700) && errno != EEXIST)
			return -errno;
		if (mkdir(in->pin_dir, 0700) && errno != EEXIST)
			return -errno;
	}
	in->lock_fd = open(in->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (in->lock_fd < 0)
		return -errno;
	if (flock(in->lock_fd, LOCK_EX | LOCK_NB)) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(in->lock_fd);
		in->lock_fd = -1;
		return err;
	}
	/* At once, before the slow load: a second attach names us from the start. The pid
	 * is information; the lock is what counts, so failing to write it is no failure. */
	if (create) {
		int err = write_owner(in->pin_dir);

		if (err)
			pr_debug("cannot write %s/" OWNER_FILE ": %s\n", in->pin_dir, strerror(-err));
	}
	return 0;
}

enum udpc_mode udpc_mode_of(__u32 peer_flags)
{
	if (peer_flags & UDPC_PEER_SERVER)
		return UDPC_MODE_SERVE;
	return peer_flags & UDPC_PEER_CLIENT ? UDPC_MODE_PEER : UDPC_MODE_PLAIN;
}

const char *udpc_mode_cmd(enum udpc_mode mode)
{
	static const char *const names[] = {
		[UDPC_MODE_PLAIN] = "attach",
		[UDPC_MODE_PEER] = "attach --peer",
		[UDPC_MODE_SERVE] = "serve",
	};

	return (unsigned int)mode < sizeof(names) / sizeof(names[0]) ? names[mode] : "?";
}

int udpc_instance_begin(struct udpc_instance *in, const char *ifname, int *l2_len)
{
	int err;

	snprintf(in->ifname, sizeof(in->ifname), "%s", ifname);
	if (udpc_check_caps()) {
		pr_warn("needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root\n");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_warn("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): a kernel built with CONFIG_DEBUG_INFO_BTF is needed\n");
		return -ENOTSUP;
	}
	in->ifindex = if_nametoindex(ifname);
	if (!in->ifindex) {
		pr_warn("unknown interface '%s'\n", ifname);
		return -ENODEV;
	}
	err = udpc_iface_l2_len(ifname, l2_len);
	if (err == -EPROTONOSUPPORT) {
		pr_warn("interface '%s' has a link type udpclone-bpf does not support (Ethernet-like and raw-IP devices only)\n",
			ifname);
		return err;
	}
	if (err) {
		pr_warn("cannot read the link type of '%s': %s\n", ifname, strerror(-err));
		return err;
	}
	err = udpc_ensure_bpffs();
	if (err) {
		pr_warn("cannot mount bpffs at /sys/fs/bpf: %s\n", strerror(-err));
		return err;
	}
	err = udpc_pin_dir(in->ifname, in->pin_dir, sizeof(in->pin_dir));
	if (!err)
		err = udpc_instance_lock(in, true);
	if (err == -EBUSY) {
		/* Named at once: the kernel says who holds the lock, and the owner wrote its
		 * pid right after taking it, before loading. */
		int pid = udpc_owner_pid(in->pin_dir);

		if (pid)
			pr_warn("interface '%s' is already driven by a running udpclone-bpf (pid %d)\n",
				in->ifname, pid);
		else
			pr_warn("interface '%s' is already driven by a running udpclone-bpf\n",
				in->ifname);
	} else if (err) {
		pr_warn("cannot create %s: %s\n", in->pin_dir, strerror(-err));
	}
	return err;
}

/* What the pins say: mode and sizes. A daemon killed before it wrote udpc_peer_cfg
 * left flags 0; its session table's size still tells peer mode (plain has 1 entry). */
static int read_pinned(struct udpc_instance *in)
{
	struct udpc_peer_cfg pc = {};
	struct udpc_maps p;
	__u32 zero = 0;
	int err;

	err = udpc_maps_open(&p, in->pin_dir);
	if (err)
		return err;
	bpf_map_lookup_elem(p.peer_cfg, &zero, &pc);
	in->mode = udpc_mode_of(pc.flags);
	in->max_flows = p.max_flows;
	in->max_sessions = p.max_sessions;
	udpc_maps_close(&p);
	return 0;
}

/* The size of a table: asked for, else as pinned, else the default. */
static unsigned int size_of(unsigned int asked, unsigned int pinned, unsigned int dflt)
{
	return asked ? asked : pinned ? pinned : dflt;
}

int udpc_instance_load(struct udpc_instance *in, const struct udpc_load_req *req)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = in->pin_dir);
	bool peer = req->mode != UDPC_MODE_PLAIN;
	unsigned int flows = 0, sessions = 0;
	char path[192];
	int err;

	snprintf(path, sizeof(path), "%s/udpc_config", in->pin_dir);
	in->adopted = access(path, F_OK) == 0;
	/* Pins of another layout are left for the load to refuse. */
	if (in->adopted && !read_pinned(in)) {
		/* Flags 0 with a session table: a peer mode whose daemon died before saying
		 * which; either peer mode may adopt it. */
		bool untold = in->mode == UDPC_MODE_PLAIN && in->max_sessions > 1;

		if (untold && !peer)
			in->mode = UDPC_MODE_PEER;
		if (in->mode != req->mode && !(untold && peer))
			return -EEXIST;
		if (req->max_flows && in->max_flows != req->max_flows)
			return -EEXIST;
		if (peer && req->max_sessions && in->max_sessions != req->max_sessions)
			return -EEXIST;
		flows = in->max_flows;
		sessions = in->max_sessions;
	}
	in->mode = req->mode;
	/* serve keeps no client flows: the table is there only because the object has it. */
	in->max_flows = size_of(req->max_flows, flows,
				req->mode == UDPC_MODE_SERVE ? 1 : UDPC_MAX_FLOWS);
	/* Without peer mode nothing uses sessions: one entry each (a session is ~5.7 KB). */
	in->max_sessions = peer ? size_of(req->max_sessions, sessions, UDPC_DEFAULT_SESSIONS) : 1;

	in->skel = udpclone__open_opts(&opts);
	if (!in->skel)
		return -errno;
	err = bpf_map__set_max_entries(in->skel->maps.udpc_flows, in->max_flows);
	if (!err)
		err = bpf_map__set_max_entries(in->skel->maps.udpc_sessions, in->max_sessions);
	if (!err)
		err = bpf_map__set_max_entries(in->skel->maps.udpc_labels, in->max_sessions);
	if (!err)
		err = udpclone__load(in->skel);
	if (err) {
		udpclone__destroy(in->skel);
		in->skel = NULL;
	}
	return err;
}

void udpc_instance_load_failed(const struct udpc_instance *in, const struct udpc_load_req *req,
			       int err)
{
	const char *dir = in->pin_dir, *ifn = in->ifname;

	if (err == -EEXIST && in->mode != req->mode)
		pr_warn("interface '%s' was set up by '%s' (pinned in %s), not '%s': run 'udpclone-bpf detach %s' first\n",
			ifn, udpc_mode_cmd(in->mode), dir, udpc_mode_cmd(req->mode), ifn);
	else if (err == -EEXIST && req->max_flows && in->max_flows != req->max_flows)
		pr_warn("the flow table pinned in %s holds %u flows, not the %u of --max-flows: run 'udpclone-bpf detach %s' first (its flows are then forgotten), or attach without --max-flows\n",
			dir, in->max_flows, req->max_flows, ifn);
	else if (err == -EEXIST)
		pr_warn("the session table pinned in %s holds %u sessions, not the %u of --max-sessions: run 'udpclone-bpf detach %s' first (its sessions are then forgotten), or %s without --max-sessions\n",
			dir, in->max_sessions, req->max_sessions, ifn,
			req->mode == UDPC_MODE_SERVE ? "serve" : "attach");
	else if (in->adopted && err == -EINVAL)
		pr_warn("the maps pinned in %s do not match this version: run 'udpclone-bpf detach %s' first\n",
			dir, ifn);
	else
		pr_warn("cannot load the BPF programs: %s\n", strerror(-err));
}

/* The fd of the object's program `name`: found by name, so that this builds whichever
 * programs the data path has; -ENOENT if it has no such program. */
static int prog_fd(const struct udpc_instance *in, const char *name)
{
	const struct bpf_program *p = bpf_object__find_program_by_name(in->skel->obj, name);

	if (!p) {
		pr_warn("this build's BPF object has no program '%s'\n", name);
		return -ENOENT;
	}
	return bpf_program__fd(p);
}

int udpc_instance_attach(struct udpc_instance *in)
{
	bool serve = in->mode == UDPC_MODE_SERVE;
	int ing = prog_fd(in, serve ? "udpc_serve_ingress" : "udpc_ingress"), eg;

	if (ing < 0)
		return ing;
	eg = prog_fd(in, serve ? "udpc_serve_egress" : "udpc_egress");
	if (eg < 0)
		return eg;
	return udpc_tc_attach_progs(in->ifindex, in->ifname, ing, eg);
}

int udpc_instance_attach_uplink(struct udpc_instance *in, int ifindex, const char *ifname)
{
	return udpc_tc_attach_progs(ifindex, ifname, bpf_program__fd(in->skel->progs.udpc_ingress),
				    -1);
}

void udpc_instance_remove(struct udpc_instance *in)
{
	if (in->ifindex && udpc_detach_filters(in->ifindex, in->ifname) < 0)
		pr_warn("cannot remove the filters from %s\n", in->ifname);
	if (in->ifindex)
		udpc_gsopath_remove(in->ifindex);
	udpc_unpin_dir(in->pin_dir);
}

int udpc_unpin_dir(const char *pin_dir)
{
	struct dirent *de;
	char path[384];
	DIR *d;
	int err = 0;

	d = opendir(pin_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		/* Only what we pin: a stranger's file keeps the directory alive. */
		if (strncmp(de->d_name, "udpc_", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	if (rmdir(pin_dir) && errno != ENOENT && !err)
		err = -errno;
	rmdir(UDPC_PIN_ROOT); /* only succeeds when no other interface is pinned */
	return err;
}

void udpc_instance_close(struct udpc_instance *in)
{
	udpclone__destroy(in->skel);
	in->skel = NULL;
	if (in->lock_fd >= 0)
		close(in->lock_fd);
	in->lock_fd = -1;
}
