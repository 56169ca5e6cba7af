#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Fan-out over IPv6: test_fanout_v4.sh with bracketed IPv6 destinations
# [2001:db8:2::1..3]:9000..9002, the client on 2001:db8:1::1.
FANOUT_FAMILY=6 exec bash "$(dirname "$0")/test_fanout_v4.sh"
