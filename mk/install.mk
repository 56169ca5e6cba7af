# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# make install / make uninstall, as packagers expect: PREFIX (default /usr/local) and
# DESTDIR (a staging root), every directory overridable on the command line.
#
#   $(SBINDIR)/udpclone-bpf                         the tool (it needs root)
#   $(MANDIR)/man8/udpclone-bpf.8                   the manual
#   $(SYSTEMDUNITDIR)/udpclone-bpf@.service         one instance per interface
#   $(BASHCOMPDIR)/udpclone-bpf                     bash completion
#   $(SYSCONFDIR)/udpclone-bpf/udpclone-bpf.conf.example
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

UNIT_IN  := dist/systemd/udpclone-bpf@.service.in
INST_BIN  = $(DESTDIR)$(SBINDIR)/udpclone-bpf
INST_MAN  = $(DESTDIR)$(MANDIR)/man8/udpclone-bpf.8
INST_UNIT = $(DESTDIR)$(SYSTEMDUNITDIR)/udpclone-bpf@.service
INST_COMP = $(DESTDIR)$(BASHCOMPDIR)/udpclone-bpf
INST_CONF = $(DESTDIR)$(SYSCONFDIR)/udpclone-bpf/udpclone-bpf.conf.example

.PHONY: install uninstall

# The unit names the binary and the configuration where they are installed; it is
# written in place each time, so it never keeps the paths of an earlier PREFIX.
install: $(BIN)
	$(call msg,INSTALL,$(INST_BIN))
	$(Q)$(INSTALL) -D -m 0755 $(BIN) $(INST_BIN)
	$(call msg,INSTALL,$(INST_MAN))
	$(Q)$(INSTALL) -D -m 0644 docs/udpclone-bpf.8 $(INST_MAN)
	$(call msg,INSTALL,$(INST_UNIT))
	$(Q)$(INSTALL) -d -m 0755 $(dir $(INST_UNIT))
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		$(UNIT_IN) >$(INST_UNIT).tmp && chmod 0644 $(INST_UNIT).tmp && \
		mv -f $(INST_UNIT).tmp $(INST_UNIT)
	$(call msg,INSTALL,$(INST_COMP))
	$(Q)$(INSTALL) -D -m 0644 dist/bash-completion/udpclone-bpf $(INST_COMP)
	$(call msg,INSTALL,$(INST_CONF))
	$(Q)$(INSTALL) -D -m 0644 dist/udpclone-bpf.conf.example $(INST_CONF)

# Only what install put there; the directories we made go when they are empty.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(INST_BIN) $(INST_MAN) $(INST_UNIT) $(INST_COMP) $(INST_CONF)
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/udpclone-bpf 2>/dev/null || true
