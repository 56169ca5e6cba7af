/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Facts about the host the control plane needs: privileges, bpffs, interfaces. */
#ifndef UDPC_SYS_H
#define UDPC_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "udpclone.h"
/* attach.c takes the address formatters from here until it includes fmt.h itself. */
#include "fmt.h"

/* 0 if we hold CAP_NET_ADMIN and CAP_SYS_ADMIN (see sys.c for why), else -EPERM. */
int udpc_check_caps(void);
/* Mount bpffs at /sys/fs/bpf unless something is mounted there already. */
int udpc_ensure_bpffs(void);
/* Link-layer header length for our programs: 14 (Ethernet-like) or 0 (raw IP). */
int udpc_iface_l2_len(const char *ifname, int *l2_len);
/* /sys/fs/bpf/udpclone-bpf/<ifname> */
int udpc_pin_dir(const char *ifname, char *buf, size_t len);
/* Kernel's CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
uint64_t udpc_mono_ns(void);
/* One ioctl about ifname (SIOCGIF*) on a throwaway socket; *ifr holds the answer. */
struct ifreq;
int udpc_iface_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr);
/* The interface's hardware (MAC) address. */
int udpc_iface_mac(const char *ifname, __u8 mac[6]);

#endif
