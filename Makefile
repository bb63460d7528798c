# warp -- top-level build.  Plain GNU make + pkg-config.
#
#   make              build bin/warp-proxyd, bin/warp-logd, bin/warp-filterd,
#                     bin/warp-routed (and bin/warpctl once it exists)
#   make run          install missing Debian packages (as root), build, and
#                     run the whole suite on a development config under ./var
#   make test         the same set-up, then every test (unit, sanitizer,
#                     integration, fuzz smoke)
#   make bench        the benchmark (prints figures and ratios)
#   make demo         a round trip through warp with the embedded default
#   make sanitize     everything built with ASan+UBSan under build/san
#   make fuzz         libFuzzer targets (clang) under build/fuzz
#   make install      PREFIX=/usr/local DESTDIR=

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc/warp
UNITDIR    ?= /lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/warp
DESTDIR    ?=

VERSION    := 0.1.0

CC         ?= cc
PKG_CONFIG ?= pkg-config

# SANITIZE=1 builds the whole tree with ASan+UBSan into build/san.
# BUILD/BIN may be overridden to build in a private tree (parallel work).
BUILDROOT  ?= build
ifeq ($(SANITIZE),1)
BUILD      := $(BUILDROOT)/san
BIN        := $(BUILDROOT)/san/bin
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT        ?= -O1
else
BUILD      := $(BUILDROOT)
BIN        ?= bin
SANFLAGS   :=
OPT        ?= -O2
endif

PKGS_COMMON := libevent libprotobuf-c openssl
PKGS_PROXYD := $(PKGS_COMMON) libevent_openssl
PKGS_LOGD   := $(PKGS_COMMON) sqlite3 libmariadb libcurl
PKGS_FILTERD:= $(PKGS_COMMON) libpcre2-8
PKGS_ROUTED := $(PKGS_COMMON)
PKGS_ALL    := $(sort $(PKGS_PROXYD) $(PKGS_LOGD) $(PKGS_FILTERD) $(PKGS_ROUTED))

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

WARNFLAGS := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
	-Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CPPFLAGS  += -D_GNU_SOURCE -DWARP_VERSION='"$(VERSION)"' \
	-DWARP_SYSCONFDIR='"$(SYSCONFDIR)"' -Icommon -I$(BUILD)/proto
CFLAGS    ?= $(OPT) -g
CFLAGS    += -std=gnu11 $(WARNFLAGS) $(SANFLAGS) -fstack-protector-strong \
	$(call pc_cflags,$(PKGS_ALL))
LDFLAGS   += $(SANFLAGS)

DAEMONS   := warp-proxyd warp-logd warp-filterd warp-routed
# warpctl joins the list when its directory exists.
TOOLS     := $(notdir $(wildcard warpctl))

PROTO_C   := $(BUILD)/proto/warp.pb-c.c
PROTO_H   := $(BUILD)/proto/warp.pb-c.h
COMMON_SRC:= $(wildcard common/*.c)
COMMON_OBJ:= $(COMMON_SRC:%.c=$(BUILD)/%.o) $(BUILD)/proto/warp.pb-c.o
LIBWARP   := $(BUILD)/libwarp.a

# Every daemon directory: main.c is the program, every other .c file goes
# into an archive that unit tests may link against.
daemon_src  = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
daemon_obj  = $(patsubst %.c,$(BUILD)/%.o,$(call daemon_src,$(1)))
daemon_lib  = $(BUILD)/$(1)/lib$(1).a

LIBS_warp-proxyd  := $(call pc_libs,$(PKGS_PROXYD))
LIBS_warp-logd    := $(call pc_libs,$(PKGS_LOGD)) -lpthread
LIBS_warp-filterd := $(call pc_libs,$(PKGS_FILTERD))
LIBS_warp-routed  := $(call pc_libs,$(PKGS_ROUTED))
LIBS_warpctl      := $(call pc_libs,$(PKGS_COMMON))
LIBS_ALL          := $(call pc_libs,$(PKGS_ALL)) -lpthread

PROGRAMS  := $(addprefix $(BIN)/,$(DAEMONS) $(TOOLS))

.SECONDEXPANSION:

.PHONY: all
all: $(PROGRAMS)

# ---- protobuf-c (generated, never edited) ---------------------------------
$(PROTO_C) $(PROTO_H) &: proto/warp.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --c_out=$(BUILD)/proto -Iproto proto/warp.proto

$(BUILD)/proto/warp.pb-c.o: $(PROTO_C)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# ---- objects ----------------------------------------------------------------
$(BUILD)/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBWARP): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

define daemon_rules
$(call daemon_lib,$(1)): $(call daemon_obj,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(AR) rcs $$@ $$^ $(if $(call daemon_obj,$(1)),,)

$(BIN)/$(1): $(BUILD)/$(1)/main.o $(call daemon_lib,$(1)) $(LIBWARP)
	@mkdir -p $(BIN)
	$$(CC) $$(LDFLAGS) -o $$@ $(BUILD)/$(1)/main.o $(call daemon_lib,$(1)) $(LIBWARP) $$(LIBS_$(1))
endef
$(foreach d,$(DAEMONS) $(TOOLS),$(eval $(call daemon_rules,$(d))))

# ---- unit tests (cmocka) ----------------------------------------------------
# tests/unit/test_<name>.c links libwarp; test_proxyd_*.c, test_logd_*.c,
# test_filterd_*.c and test_routed_*.c also link that daemon's archive.
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CMOCKA_CFLAGS := $(call pc_cflags,cmocka)
CMOCKA_LIBS   := $(call pc_libs,cmocka)
unit_daemon = $(firstword $(foreach d,proxyd logd filterd routed,$(if $(filter test_$(d)_%,$(1)),warp-$(d))))

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBWARP) tests/unit/unit.h \
		$$(if $$(call unit_daemon,test_$$*),$$(call daemon_lib,$$(call unit_daemon,test_$$*)))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(CMOCKA_CFLAGS) -Wno-missing-prototypes \
		-o $@ $< $(if $(call unit_daemon,test_$*),$(call daemon_lib,$(call unit_daemon,test_$*))) \
		$(LIBWARP) $(CMOCKA_LIBS) $(LIBS_ALL) $(LDFLAGS)

# tests/tools/<name>.c: helper programs for the integration scenarios
# (IPC test client, frame fuzzer peers, ...), linked with libwarp.
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBWARP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(LIBWARP) $(LIBS_ALL) $(LDFLAGS)

.PHONY: unit unit-build
unit-build: $(UNIT_BIN) $(TOOL_BIN)
unit: unit-build
	@tests/run-unit $(UNIT_BIN)

.PHONY: sanitize sanitize-unit
sanitize:
	$(MAKE) SANITIZE=1 all unit-build
sanitize-unit:
	$(MAKE) SANITIZE=1 unit

# ---- fuzz targets (clang + libFuzzer) --------------------------------------
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 10
.PHONY: fuzz fuzz-run
fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk FUZZ_SRC="$(FUZZ_SRC)"
fuzz-run: fuzz
	@tests/fuzz/run $(FUZZ_SECONDS) build/fuzz/bin

# ---- the suite --------------------------------------------------------------
.PHONY: deps run test check-conf integration bench demo
deps:
	@sh scripts/deps

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-dev

check-conf: all
	@tests/check-conf

integration: all
	@tests/run-integration

# `make test` on a fresh machine: packages, build, then every level of test.
# tests/run-all prints one summary line, "N passed, N failed, N skipped".
test: deps
	@$(MAKE) --no-print-directory all unit-build
	@$(MAKE) --no-print-directory SANITIZE=1 all unit-build
	@$(MAKE) --no-print-directory fuzz
	@tests/run-all

bench: deps
	@$(MAKE) --no-print-directory all $(TOOL_BIN)
	@BIN=$(BIN) TOOLS=$(BUILD)/tests/tools bench/run

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

# ---- install ------------------------------------------------------------------
.PHONY: install
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(SBINDIR)/
	for f in conf/*.conf; do \
		[ -e $(DESTDIR)$(SYSCONFDIR)/$${f#conf/} ] || \
		install -m 0640 $$f $(DESTDIR)$(SYSCONFDIR)/; \
	done
	for u in conf/systemd/*.service; do \
		sed -e 's|/usr/local/sbin|$(SBINDIR)|g' \
		    -e 's|/usr/local/share/doc/warp|$(DOCDIR)|g' \
		    -e 's|/etc/warp|$(SYSCONFDIR)|g' $$u \
		    >$(DESTDIR)$(UNITDIR)/$${u#conf/systemd/}; \
	done
	install -d $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR)/conf
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	install -m 0644 conf/mysql-schema.sql $(DESTDIR)$(DOCDIR)/conf/

.PHONY: clean
clean:
	rm -rf $(BUILDROOT) bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
