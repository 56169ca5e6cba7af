// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <errno.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sys.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

#define BPFFS "/sys/fs/bpf"

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return !!(d[cap / 32].effective & (1U << (cap % 32)));
}

int udpc_check_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	/* CAP_NET_ADMIN for TC; CAP_SYS_ADMIN to open the program behind a filter (by id)
	 * and tell ours from others'; the verifier wants CAP_BPF + CAP_PERFMON, both of
	 * which CAP_SYS_ADMIN also covers. */
	if (!has_cap(data, CAP_NET_ADMIN) || !has_cap(data, CAP_SYS_ADMIN))
		return -EPERM;
	return 0;
}

int udpc_ensure_bpffs(void)
{
	struct statfs st;

	if (statfs(BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir(BPFFS, 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
		return -errno;
	pr_info("mounted bpffs at %s\n", BPFFS);
	return 0;
}

int udpc_iface_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int fd, err = 0;

	memset(ifr, 0, sizeof(*ifr));
	if (strlen(ifname) >= sizeof(ifr->ifr_name))
		return -ENAMETOOLONG;
	strcpy(ifr->ifr_name, ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, ifr))
		err = -errno;
	close(fd);
	return err;
}

/* SIOCGIFHWADDR: the link type (sa_family, an ARPHRD_*) and hardware address. */
static int iface_hwaddr(const char *ifname, struct sockaddr *hw)
{
	struct ifreq ifr;
	int err = udpc_iface_ioctl(ifname, SIOCGIFHWADDR, &ifr);

	if (!err)
		*hw = ifr.ifr_hwaddr;
	return err;
}

int udpc_iface_l2_len(const char *ifname, int *l2_len)
{
	struct sockaddr hw;
	int err = iface_hwaddr(ifname, &hw);

	if (err)
		return err;
	switch (hw.sa_family) {
	case ARPHRD_ETHER:
		*l2_len = 14;
		return 0;
	case ARPHRD_NONE: /* tun */
	case ARPHRD_PPP:
	case ARPHRD_RAWIP: /* wwan, rmnet */
		*l2_len = 0;
		return 0;
	default:
		return -EPROTONOSUPPORT;
	}
}

int udpc_pin_dir(const char *ifname, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", UDPC_PIN_ROOT, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

uint64_t udpc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int udpc_iface_mac(const char *ifname, __u8 mac[6])
{
	struct sockaddr hw;
	int err = iface_hwaddr(ifname, &hw);

	if (!err)
		memcpy(mac, hw.sa_data, 6);
	return err;
}
