#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The bash completion (dist/bash-completion/udpclone-bpf), driven as bash drives
# it: COMP_LINE, COMP_POINT, and COMP_WORDS/COMP_CWORD split the way bash splits
# them (at blanks, and at the ':' and '=' of COMP_WORDBREAKS), then COMPREPLY is
# compared with what should be offered. Interfaces and pins come from a fake
# /sys/class/net and pin directory, plus one check against the real one. Needs
# neither root nor namespaces (e2e_begin --no-root); exits 0 (PASS) or 1 (FAIL).
set -u
# shellcheck source-path=SCRIPTDIR source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"

e2e_begin completion --no-root
COMP=$E2E_ROOT/dist/bash-completion/udpclone-bpf
TMP=$E2E_TMP

# shellcheck source-path=SCRIPTDIR source=../../dist/bash-completion/udpclone-bpf
. "$COMP" || { fail "cannot source $COMP"; e2e_end; }

mkdir -p "$TMP/net/eth0" "$TMP/net/lo" "$TMP/net/wlan0" "$TMP/net/wwan0" "$TMP/pins/wlan0"
_udpclone_bpf_net=$TMP/net
_udpclone_bpf_pins=$TMP/pins

# comp LINE: runs the completion function for LINE with the cursor at its end and
# prints COMPREPLY sorted, on one line.
comp() {
	local line=$1 tok
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMP_WORDS=()
	# bash's split: runs of wordbreak characters are words of their own
	while [[ $line =~ ^[[:blank:]]*([:=]+|[^:=[:blank:]]+) ]]; do
		tok=${BASH_REMATCH[1]}
		COMP_WORDS+=("$tok")
		line=${line:${#BASH_REMATCH[0]}}
	done
	# the cursor after a blank (or at the very start) is on a new, empty word
	[[ -z $COMP_LINE || $COMP_LINE == *[[:blank:]] ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_udpclone_bpf udpclone-bpf "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' ' -
}

# expect LINE EXPECTED: the sorted replies for LINE are EXPECTED (space-separated).
expect() {
	local got
	got=$(comp "$1")
	if [ "$got" = "$2" ]; then
		_ok "'$1' -> '$got'"
	else
		fail "'$1': expected '$2', got '$got'"
	fi
}

P=udpclone-bpf
# commands
expect "$P " "--help --version attach detach help serve status tcp-client tcp-server version"
expect "$P st" "status"
expect "$P --v" "--version"
expect "$P version " ""
expect "$P frobnicate " ""
# attach: the interface first, then options; option values are the user's
expect "$P attach " "eth0 lo wlan0 wwan0"
expect "$P attach w" "wlan0 wwan0"
expect "$P attach eth0 " "--destinations --flow-timeout --help --listen --max-flows --max-sessions --peer --ready-fd --resolve-interval --verbose"
expect "$P attach eth0 --l" "--listen"
expect "$P attach eth0 --listen " ""
expect "$P attach eth0 --listen 5743 " "--destinations --flow-timeout --help --listen --max-flows --max-sessions --peer --ready-fd --resolve-interval --verbose"
expect "$P attach --resolve-interval 5 " "eth0 lo wlan0 wwan0"
expect "$P attach --listen=5743 " "eth0 lo wlan0 wwan0"
expect "$P attach -l 5743 e" "eth0"
expect "$P attach eth0 --listen 192.0.2.1:5743 --d" "--destinations"
expect "$P attach eth0 --listen [2001:db8::1]:5743 -" \
	"--destinations --flow-timeout --help --listen --max-flows --max-sessions --peer --ready-fd --resolve-interval --verbose"
expect "$P attach eth0 --destinations " ""
expect "$P attach eth0 --peer --max-sessions " ""
expect "$P attach eth0 --max-sessions 64 --p" "--peer"
# serve: an interface (any), then its options; --to and --max-sessions take values
expect "$P se" "serve"
expect "$P serve " "eth0 lo wlan0 wwan0"
expect "$P serve eth0 " "--help --listen --max-sessions --ready-fd --to --verbose"
expect "$P serve eth0 --to " ""
expect "$P serve --to 9000 " "eth0 lo wlan0 wwan0"
expect "$P serve -t 9000 --listen 5743 w" "wlan0 wwan0"
expect "$P serve eth0 --max-sessions 64 --" "--help --listen --max-sessions --ready-fd --to --verbose"
# tcp-server, tcp-client: an interface, then options; the uplink after '@'
expect "$P tcp" "tcp-client tcp-server"
expect "$P tcp-server " "eth0 lo wlan0 wwan0"
expect "$P tcp-server eth0 --forward " ""
expect "$P tcp-server eth0 --listen 7000 --f" "--forward"
expect "$P tcp-client eth0 --destinations 192.0.2.1:7000@w" "7000@wlan0 7000@wwan0"
expect "$P tcp-client --forward 9000=app " "eth0 lo wlan0 wwan0"
expect "$P attach eth0 --ready-fd " ""
expect "$P attach --ready-fd 3 " "eth0 lo wlan0 wwan0"
expect "$P attach eth0 --destinations a.example:1" ""
# the uplink after '@' (bash completes the part after the last ':')
expect "$P attach eth0 --destinations a.example:1,b.example:2@w" "2@wlan0 2@wwan0"
expect "$P attach eth0 --destinations=a.example:1@" "1@eth0 1@lo 1@wlan0 1@wwan0"
expect "$P attach eth0 --destinations [2001:db8::7]:9@wl" "9@wlan0"
# detach and status: interfaces with pins first
expect "$P detach " "wlan0"
expect "$P detach wlan0 " "--help --verbose"
expect "$P status " "wlan0"
expect "$P status --" "--help --json --prometheus"
expect "$P status --json " "wlan0"
expect "$P status wlan0 --p" "--prometheus"
expect "$P status wlan0 --prometheus " "--help --json --prometheus"
rmdir "$TMP/pins/wlan0"
expect "$P detach " "eth0 lo wlan0 wwan0"
_udpclone_bpf_pins=$TMP/nonexistent
expect "$P status w" "wlan0 wwan0"

# the real /sys/class/net: every system has lo
unset _udpclone_bpf_net
case " $(comp "$P attach l") " in
*" lo "*) ;;
*) fail "'attach l' on the real /sys/class/net did not offer lo" ;;
esac
# and the function is registered for the command
complete -p udpclone-bpf 2>/dev/null | grep -q -- '-F _udpclone_bpf udpclone-bpf$' ||
	fail "not registered: $(complete -p udpclone-bpf 2>&1)"

e2e_end
