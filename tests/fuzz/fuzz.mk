# fuzz.mk -- libFuzzer targets, built with clang into build/fuzz.
# Invoked by `make fuzz`.  Each tests/fuzz/fuzz_<name>.c defines
# LLVMFuzzerTestOneInput and is linked with the whole common library built
# with -fsanitize=fuzzer-no-link,address,undefined.
FUZZ_CC   ?= clang
FB        := build/fuzz
PKGS      := libevent libprotobuf-c openssl
FCFLAGS   := -g -O1 -D_GNU_SOURCE -DWARP_VERSION='"fuzz"' -DWARP_SYSCONFDIR='"/etc/warp"' \
	-Icommon -I$(FB)/proto -fsanitize=fuzzer-no-link,address,undefined \
	$(shell pkg-config --cflags $(PKGS))
FLIBS     := $(shell pkg-config --libs $(PKGS))
FUZZ_SRC  ?= $(wildcard tests/fuzz/fuzz_*.c)
COMMON    := $(wildcard common/*.c)
OBJS      := $(COMMON:%.c=$(FB)/%.o) $(FB)/proto/warp.pb-c.o
TARGETS   := $(FUZZ_SRC:tests/fuzz/%.c=$(FB)/bin/%)

all: $(TARGETS)

$(FB)/proto/warp.pb-c.c $(FB)/proto/warp.pb-c.h &: proto/warp.proto
	@mkdir -p $(FB)/proto
	protoc-c --c_out=$(FB)/proto -Iproto proto/warp.proto

$(FB)/proto/warp.pb-c.o: $(FB)/proto/warp.pb-c.c
	$(FUZZ_CC) $(FCFLAGS) -c -o $@ $<

$(FB)/%.o: %.c $(FB)/proto/warp.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FCFLAGS) -c -o $@ $<

$(FB)/bin/%: tests/fuzz/%.c $(OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FCFLAGS) -fsanitize=fuzzer -o $@ $< $(OBJS) $(FLIBS)
