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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "maps.h"
#include "tc.h"
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

int udpc_instance_load(struct udpc_instance *in, unsigned int max_flows)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = in->pin_dir);
	struct udpc_maps p;
	unsigned int pinned = 0;
	char path[192];
	int err;

	snprintf(path, sizeof(path), "%s/udpc_config", in->pin_dir);
	in->adopted = access(path, F_OK) == 0;
	/* Pins of another layout are left for the load to refuse. */
	if (in->adopted && !udpc_maps_open(&p, in->pin_dir)) {
		pinned = p.max_flows;
		udpc_maps_close(&p);
	}
	if (pinned && max_flows && pinned != max_flows) {
		in->max_flows = pinned;
		return -EEXIST;
	}
	in->max_flows = max_flows ? max_flows : pinned ? pinned : UDPC_MAX_FLOWS;

	in->skel = udpclone__open_opts(&opts);
	if (!in->skel)
		return -errno;
	err = bpf_map__set_max_entries(in->skel->maps.udpc_flows, in->max_flows);
	if (!err)
		err = udpclone__load(in->skel);
	if (err) {
		udpclone__destroy(in->skel);
		in->skel = NULL;
	}
	return err;
}

int udpc_instance_attach(struct udpc_instance *in)
{
	int err = udpc_tc_clsact(in->ifindex, in->ifname);

	if (err)
		return err;
	/* Ingress first: replies to the first copies must already be mapped back. */
	err = udpc_tc_attach(in->ifindex, in->ifname, bpf_program__fd(in->skel->progs.udpc_ingress),
			     false);
	if (err)
		return err;
	return udpc_tc_attach(in->ifindex, in->ifname, bpf_program__fd(in->skel->progs.udpc_egress),
			      true);
}

int udpc_instance_attach_uplink(struct udpc_instance *in, int ifindex, const char *ifname)
{
	int err = udpc_tc_clsact(ifindex, ifname);

	return err ? err :
		     udpc_tc_attach(ifindex, ifname, bpf_program__fd(in->skel->progs.udpc_ingress),
				    false);
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
