# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# make install / make uninstall, as packagers expect: PREFIX (default /usr/local) and
# DESTDIR (a staging root), every directory overridable on the command line.
#
#   $(SBINDIR)/udpclone-bpf                         the tool (it needs root)
#   $(MANDIR)/man8/udpclone-bpf.8                   the manual
#   $(SYSTEMDUNITDIR)/udpclone-bpf@.service         one instance per interface
#   $(SYSTEMDUNITDIR)/udpclone-bpf-tcp-server@.service, udpclone-bpf-tcp-client@.service
#   $(BASHCOMPDIR)/udpclone-bpf                     bash completion
#   $(SYSCONFDIR)/udpclone-bpf/udpclone-bpf.conf.example, tcp-server.conf.example,
#                                                   tcp-client.conf.example
#
# The unit goes under PREFIX too: systemd looks in /usr/local/lib/systemd/system as
# well as /usr/lib/systemd/system, so PREFIX=/usr/local and PREFIX=/usr both work
# without touching /lib or /etc/systemd. For any other PREFIX, set SYSTEMDUNITDIR.
# The configuration is in /etc whatever PREFIX is (SYSCONFDIR), as the unit expects;
# uninstall removes the example only, never a *.conf of yours.

PREFIX         ?= /usr/local
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR     ?= /etc
INSTALL        ?= install

UNITS    := udpclone-bpf@.service udpclone-bpf-tcp-server@.service udpclone-bpf-tcp-client@.service
CONFS    := udpclone-bpf.conf.example tcp-server.conf.example tcp-client.conf.example
INST_BIN  = $(DESTDIR)$(SBINDIR)/udpclone-bpf
INST_MAN  = $(DESTDIR)$(MANDIR)/man8/udpclone-bpf.8
INST_UNITS = $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS))
INST_COMP = $(DESTDIR)$(BASHCOMPDIR)/udpclone-bpf
INST_CONFS = $(addprefix $(DESTDIR)$(SYSCONFDIR)/udpclone-bpf/,$(CONFS))

.PHONY: install uninstall

# The units name the binary and the configuration where they are installed; each is
# written in place each time, so it never keeps the paths of an earlier PREFIX.
install: $(BIN)
	$(call msg,INSTALL,$(INST_BIN))
	$(Q)$(INSTALL) -D -m 0755 $(BIN) $(INST_BIN)
	$(call msg,INSTALL,$(INST_MAN))
	$(Q)$(INSTALL) -D -m 0644 docs/udpclone-bpf.8 $(INST_MAN)
	$(Q)$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR)
	$(Q)set -e; for u in $(UNITS); do \
		dst=$(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
		$(if $(Q),printf "  %-8s %s\n" INSTALL $$dst;) \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			dist/systemd/$$u.in >$$dst.tmp && chmod 0644 $$dst.tmp && mv -f $$dst.tmp $$dst; \
	done
	$(call msg,INSTALL,$(INST_COMP))
	$(Q)$(INSTALL) -D -m 0644 dist/bash-completion/udpclone-bpf $(INST_COMP)
	$(Q)set -e; for c in $(CONFS); do \
		$(if $(Q),printf "  %-8s %s\n" INSTALL $(DESTDIR)$(SYSCONFDIR)/udpclone-bpf/$$c;) \
		$(INSTALL) -D -m 0644 dist/$$c $(DESTDIR)$(SYSCONFDIR)/udpclone-bpf/$$c; \
	done

# Only what install put there; the directories we made go when they are empty.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(INST_BIN) $(INST_MAN) $(INST_UNITS) $(INST_COMP) $(INST_CONFS)
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/udpclone-bpf 2>/dev/null || true
