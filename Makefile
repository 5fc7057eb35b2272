# SPDX-License-Identifier: MIT
#
# spawnd: one Makefile for everything.
#
#   make            build everything (installs missing Debian packages first)
#   make check      build and run every test        SAN=1: ASan+UBSan  TSAN=1: TSan (libgp)
#   make run        build and run the demo
#   make bench      run the benchmarks side by side with Erlang and Go
#   make install    PREFIX=/usr/local DESTDIR=...   (and uninstall)
#   make deps       apt-get install what the build, tests and benchmarks need
#   make clean
#
# V=1 shows every command.

VERSION   := 0.1.0
SOVERSION := 0

PREFIX     ?= /usr/local
bindir     ?= $(PREFIX)/bin
sbindir    ?= $(PREFIX)/sbin
libdir     ?= $(PREFIX)/lib
includedir ?= $(PREFIX)/include
mandir     ?= $(PREFIX)/share/man
pkgconfigdir ?= $(libdir)/pkgconfig

CC         ?= gcc
PKG_CONFIG ?= pkg-config
INSTALL    ?= install

ifeq ($(V),1)
Q   :=
msg :=
else
Q   := @
msg  = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# ---- build variants ---------------------------------------------------------

ifeq ($(SAN),1)
B        := build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(TSAN),1)
B        := build/tsan
SANFLAGS := -fsanitize=thread
else
B        := build
SANFLAGS :=
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	    -Wno-missing-field-initializers
CSTD     := -std=gnu17
OPT      := -O2 -g -fno-omit-frame-pointer -fstack-clash-protection
CFLAGS   ?=
CPPFLAGS ?=
LDFLAGS  ?=
ALL_CFLAGS  = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

# ---- dependencies (Debian packages) -----------------------------------------

DEB_BUILD := gcc make pkg-config clang liburing-dev libconfig-dev libseccomp-dev libjson-c-dev \
	     libsystemd-dev libncurses-dev libbpf-dev bpftool libelf-dev libdw-dev
# bash-completion: where completions go, and their test; systemd:
# systemd-analyze for the units' check (PID 1 stays what it is);
# systemd-container and debootstrap: the test under a real systemd;
# tmux: ptop's screen, driven by its tests.
DEB_TEST  := libcriterion-dev groff-base bash-completion systemd systemd-container debootstrap tmux
DEB_BENCH := erlang-base golang-go runit s6 supervisor strace
DEB_PKGS  := $(DEB_BUILD) $(DEB_TEST) $(DEB_BENCH)

DEPS_STAMP := $(B)/.deps-ok

.PHONY: deps
deps:
	$(Q)missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "make deps: every package is installed"; exit 0; fi; \
	echo "make deps: installing:" $$missing; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null; then SUDO=sudo; \
	else echo "make deps: need root to install: $$missing" >&2; exit 1; fi; \
	$$SUDO apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing && \
	case " $$missing " in *" supervisor "*) \
		if [ -d /run/systemd/system ]; then \
			echo "make deps: supervisor is for the benchmarks only: disabling supervisor.service"; \
			$$SUDO systemctl disable --now supervisor.service; \
		fi ;; \
	esac

# Installs what is missing, once per build tree (cheap to check again).
$(DEPS_STAMP):
	$(Q)if ! $(PKG_CONFIG) --exists liburing criterion libconfig libseccomp json-c libsystemd ncursesw \
	    libbpf libelf libdw 2>/dev/null || ! command -v bpftool >/dev/null || \
	    ! command -v clang >/dev/null || ! command -v tmux >/dev/null || \
	    ! command -v erl >/dev/null || ! command -v go >/dev/null || \
	    ! command -v runsvdir >/dev/null || ! command -v s6-svscan >/dev/null || \
	    ! command -v supervisord >/dev/null || ! command -v groff >/dev/null || \
	    ! command -v systemd-analyze >/dev/null || ! command -v systemd-nspawn >/dev/null || \
	    ! command -v debootstrap >/dev/null; then \
		$(MAKE) --no-print-directory deps; fi
	$(Q)mkdir -p $(@D) && touch $@

URING_CFLAGS  = $(shell $(PKG_CONFIG) --cflags liburing 2>/dev/null)
URING_LIBS    = $(shell $(PKG_CONFIG) --libs liburing 2>/dev/null)
CRIT_CFLAGS   = $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null)
SD_PKGS       = liburing libconfig libseccomp json-c libsystemd libbpf libelf libdw
SD_CFLAGS     = $(shell $(PKG_CONFIG) --cflags $(SD_PKGS) 2>/dev/null)
SD_LIBS       = $(shell $(PKG_CONFIG) --libs $(SD_PKGS) 2>/dev/null)
CRIT_LIBS     = $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null)
JSON_CFLAGS   = $(shell $(PKG_CONFIG) --cflags json-c 2>/dev/null)
JSON_LIBS     = $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
CURSES_CFLAGS = $(shell $(PKG_CONFIG) --cflags ncursesw 2>/dev/null)
CURSES_LIBS   = $(shell $(PKG_CONFIG) --libs ncursesw 2>/dev/null)

# ---- libgp -------------------------------------------------------------------

GP_SRCS := sched/sched.c sched/proc.c sched/link.c sched/mailbox.c sched/heap.c \
	   sched/stack.c sched/timer.c sched/fault.c sched/registry.c sched/stall.c \
	   sched/runtime.c sched/io.c sched/sandbox.c sched/introspect.c sched/supervisor.c \
	   sched/probe.c
GP_ASM  := sched/ctx_x86_64.S
GP_OBJS := $(GP_SRCS:%.c=$(B)/%.o) $(GP_ASM:%.S=$(B)/%.o) $(B)/sched/strategy.o
GP_LIBS  = $(URING_LIBS) $(shell $(PKG_CONFIG) --libs libseccomp 2>/dev/null) -lpthread

LIBGP_A  := $(B)/libgp.a
LIBGP_SO := $(B)/libgp.so.$(VERSION)
GP_PC    := $(B)/gp.pc

$(B)/sched/%.o: sched/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC $(URING_CFLAGS) $(CPPFLAGS) -c $< -o $@

# The restart engine, shared with spawnd, built into libgp too.
$(B)/sched/strategy.o: supervisor/strategy.c supervisor/strategy.h | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden $(CPPFLAGS) -c $< -o $@

$(B)/sched/%.o: sched/%.S
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -fPIC -c $< -o $@

$(LIBGP_A): $(GP_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBGP_SO): $(GP_OBJS) sched/libgp.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libgp.so.$(SOVERSION) -Wl,--version-script=sched/libgp.map \
		-Wl,-z,defs -Wl,-z,now -o $@ $(GP_OBJS) $(ALL_LDFLAGS) $(GP_LIBS)
	$(Q)ln -sf libgp.so.$(VERSION) $(B)/libgp.so.$(SOVERSION)
	$(Q)ln -sf libgp.so.$(VERSION) $(B)/libgp.so

$(GP_PC): sched/gp.pc.in Makefile
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@prefix@|$(PREFIX)|' \
		-e 's|@libdir@|$(patsubst $(PREFIX)%,$${prefix}%,$(libdir))|' \
		-e 's|@includedir@|$(patsubst $(PREFIX)%,$${prefix}%,$(includedir))|' \
		-e 's|@version@|$(VERSION)|' $< > $@.tmp
	$(Q)mv $@.tmp $@

.PHONY: libgp
libgp: $(LIBGP_A) $(LIBGP_SO) $(GP_PC)

# ---- BPF programs (bpf/*.bpf.c) -------------------------------------------------

# vmlinux.h from the running kernel's BTF when it has one, else the copy
# committed in bpf/ (for machines without /sys/kernel/btf/vmlinux). Each
# program becomes an object and a libbpf skeleton that spawnd's loaders
# include.
BPFTOOL   ?= bpftool
BPF_CLANG ?= clang
BPF_ARCH  := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' \
		-e 's/riscv64/riscv/' -e 's/s390x/s390/')
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(B)/bpf/%.skel.h)

$(B)/bpf/vmlinux.h: | $(DEPS_STAMP)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)if [ -r /sys/kernel/btf/vmlinux ]; then \
		$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c >$@.tmp; \
	else cp bpf/vmlinux.h $@.tmp; fi
	$(Q)mv $@.tmp $@

$(B)/bpf/%.bpf.o: bpf/%.bpf.c bpf/events.h $(B)/bpf/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(BPF_CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(BPF_ARCH) \
		-I$(B)/bpf -Ibpf -c $< -o $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name sd_$*_bpf >$@.tmp
	$(Q)mv $@.tmp $@

# The loaders include their skeleton (bpf_NAME.c loads bpf/NAME.bpf.c).
$(BPF_SRCS:bpf/%.bpf.c=$(B)/supervisor/bpf_%.o): $(B)/supervisor/bpf_%.o: $(B)/bpf/%.skel.h

# ---- the supervisor ----------------------------------------------------------

SV_SRCS := supervisor/strategy.c supervisor/config.c supervisor/sandbox.c supervisor/loop.c \
	   supervisor/launch.c supervisor/cgroup.c supervisor/log.c supervisor/journal.c \
	   supervisor/tree.c \
	   supervisor/worker.c supervisor/request.c supervisor/control.c supervisor/command.c \
	   supervisor/event.c supervisor/reload.c supervisor/service.c supervisor/bpf.c \
	   supervisor/bpf_proctree.c supervisor/bpf_stall.c supervisor/crash.c \
	   supervisor/symbolize.c supervisor/gpprobe.c
SV_OBJS := $(SV_SRCS:%.c=$(B)/%.o)
LIBSD   := $(B)/libspawnd.a
SPAWND  := $(B)/spawnd

$(B)/supervisor/%.o: supervisor/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(SD_CFLAGS) -I$(B)/bpf -Ibpf $(CPPFLAGS) -c $< -o $@

$(LIBSD): $(SV_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(SPAWND): $(B)/supervisor/main.o $(LIBSD)
	$(call msg,LD,$@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(SD_LIBS)

.PHONY: spawnd
spawnd: $(SPAWND)

# ---- tools -----------------------------------------------------------------------

SPAWNCTL := $(B)/spawnctl
PTOP     := $(B)/ptop
PTOP_OBJS := $(B)/tools/ptop.o $(B)/tools/ptop_source.o $(B)/tools/ptop_rows.o \
	     $(B)/tools/ptop_screen.o $(B)/tools/client.o

$(B)/tools/%.o: tools/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Isupervisor $(SD_CFLAGS) $(CURSES_CFLAGS) $(CPPFLAGS) -c $< -o $@

$(SPAWNCTL): $(B)/tools/spawnctl.o $(B)/tools/client.o $(LIBSD)
	$(call msg,LD,$@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(SD_LIBS)

.PHONY: spawnctl
spawnctl: $(SPAWNCTL)

# libspawnd for the signal names (request.c), as spawnctl.
$(PTOP): $(PTOP_OBJS) $(LIBSD)
	$(call msg,LD,$@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(SD_LIBS) $(CURSES_LIBS)

.PHONY: ptop
ptop: $(PTOP)

# ---- programs linked with libgp ----------------------------------------------

GP_USER_CFLAGS = $(ALL_CFLAGS) -Isched
GP_USER_LIBS   = $(LIBGP_A) $(GP_LIBS)

# The demo tree: the example programs beside demo.conf, which names them
# relative to its own folder.
EXAMPLES := $(B)/examples/demo $(B)/examples/crasher $(B)/examples/leaver \
	    $(B)/examples/echo $(B)/examples/chat \
	    $(B)/examples/notifier $(B)/examples/demo.conf
$(B)/examples/%: examples/%.c $(LIBGP_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GP_USER_CFLAGS) $(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(GP_USER_LIBS)

$(B)/examples/demo.conf: examples/demo.conf
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@

# ---- tests -------------------------------------------------------------------

GP_TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_gp_*.c))
SV_TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_sv_*.c))
SD_TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_sd_*.c))
SD_PROGS := $(patsubst tests/progs/%.c,$(B)/tests/progs/%,$(wildcard tests/progs/*.c))
GP_PROGS := $(patsubst tests/gpprogs/%.c,$(B)/tests/gpprogs/%,$(wildcard tests/gpprogs/*.c))
SD_TEST_DEPS := $(SPAWND) $(SPAWNCTL) $(PTOP) $(SD_PROGS) $(GP_PROGS)
TESTS    := $(GP_TESTS) $(SV_TESTS) $(SD_TESTS)

# Criterion cannot start under TSan (Snaipe/Criterion#274): the TSan build runs
# the same tests under tests/minirunner.h.
ifeq ($(TSAN),1)
TEST_RUNNER_CFLAGS = -DGP_MINIRUNNER
TEST_RUNNER_LIBS   =
else
TEST_RUNNER_CFLAGS = $(CRIT_CFLAGS)
TEST_RUNNER_LIBS   = $(CRIT_LIBS)
endif

$(B)/tests/test_gp_%: tests/test_gp_%.c tests/gp_test.h tests/minirunner.h $(LIBGP_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GP_USER_CFLAGS) -Wno-missing-prototypes $(TEST_RUNNER_CFLAGS) $(JSON_CFLAGS) \
		$(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(GP_USER_LIBS) $(TEST_RUNNER_LIBS) $(JSON_LIBS) -lm

$(B)/tests/test_sv_%: tests/test_sv_%.c $(LIBSD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(SD_CFLAGS) $(CRIT_CFLAGS) $(CPPFLAGS) \
		-o $@ $< $(LIBSD) $(ALL_LDFLAGS) $(SD_LIBS) $(CRIT_LIBS)

$(B)/tests/test_sd_%: tests/test_sd_%.c $(LIBSD) $(SD_TEST_DEPS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Isupervisor $(SD_CFLAGS) $(CRIT_CFLAGS) \
		$(CPPFLAGS) -o $@ $< $(LIBSD) $(ALL_LDFLAGS) $(SD_LIBS) $(CRIT_LIBS)

# libgp programs that the ptop and bpf tests watch.
$(B)/tests/gpprogs/%: tests/gpprogs/%.c $(LIBGP_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GP_USER_CFLAGS) $(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(GP_USER_LIBS)

$(B)/tests/progs/gpspin: tests/progs/gpspin.c $(LIBGP_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GP_USER_CFLAGS) $(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(GP_USER_LIBS)

# Programs the spawnd tests run as children (built without sanitizers: they
# are the supervised, not the supervisor), with frame pointers so that
# spawnd's crash reports can walk their stacks.
$(B)/tests/progs/%: tests/progs/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CSTD) -O2 -g -fno-omit-frame-pointer $(WARN) -o $@ $< $(shell $(PKG_CONFIG) --cflags --libs liburing)

# Sanitizer runs scale the million-process tests down (GP_TEST_SCALE).
ifeq ($(SAN),1)
# ASan leaves fatal signals to libgp (whose crash reports the tests check).
TEST_ENV := GP_TEST_SCALE=0.05 SD_CHAOS_SECONDS=15 \
	    ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
CHECK_TESTS := $(TESTS)
else ifeq ($(TSAN),1)
# TSan counts each fiber as a thread, and allows 8128 at once: scale to 0.002.
TEST_ENV := GP_TEST_SCALE=0.002 \
	    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0
CHECK_TESTS := $(GP_TESTS)
else
TEST_ENV :=
CHECK_TESTS := $(TESTS)
endif

# Where the spawnd tests find their binaries.
TEST_ENV += SPAWND=$(SPAWND) SPAWNCTL=$(SPAWNCTL) PTOP=$(PTOP) CROWD=$(B)/tests/gpprogs/crowd \
	    SDTEST=$(B)/tests/progs/sdtest SANDBOX_PROBE=$(B)/tests/progs/sandbox_probe \
	    BPFTEST=$(B)/tests/progs/bpftest GPSPIN=$(B)/tests/progs/gpspin

# Built by `make check` too, so that a change that breaks a benchmark's C
# program fails the build and not a later `make bench`.
BENCH_C := $(B)/bench/gpbench $(B)/bench/pagefault $(B)/bench/echo/echo_gp \
	   $(B)/bench/echo/echo_uring $(B)/bench/echo/loadgen

.PHONY: check
check: $(CHECK_TESTS) libgp $(EXAMPLES) $(BENCH_C)
	$(Q)$(TEST_ENV) tests/run.sh $(CHECK_TESTS)
ifeq ($(SAN)$(TSAN),)
	$(Q)tests/examples.sh $(B)
endif
	$(Q)$(TEST_ENV) tests/readme_example.sh $(B) $(CC) $(CSTD) $(WARN) $(SANFLAGS) -Isched \
		-fstack-clash-protection
	$(Q)tests/man.sh man
ifeq ($(SAN)$(TSAN),)
	$(Q)tests/install.sh $(B) $(CC)
	$(Q)tests/systemd/units.sh $(B)
	$(Q)tests/systemd/run.sh $(B)
endif

# ---- fuzzing ---------------------------------------------------------------------

# make fuzz: the configuration parser under libFuzzer for FUZZ_SECONDS, from
# the seed corpus (copied: libFuzzer adds what it finds to its corpus).
FUZZ_SECONDS ?= 60
FUZZ_CONFIG  := build/fuzz/fuzz_config
FUZZ_REQUEST := build/fuzz/fuzz_request

$(FUZZ_CONFIG): tests/fuzz/fuzz_config.c supervisor/config.c supervisor/strategy.c \
		supervisor/config.h | $(DEPS_STAMP)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)clang -std=gnu17 -g -O1 -fsanitize=fuzzer,address,undefined -Isupervisor -o $@ \
		tests/fuzz/fuzz_config.c supervisor/config.c supervisor/strategy.c \
		$(shell $(PKG_CONFIG) --cflags --libs libconfig)

$(FUZZ_REQUEST): tests/fuzz/fuzz_request.c supervisor/request.c supervisor/request.h \
		| $(DEPS_STAMP)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)clang -std=gnu17 -g -O1 -fsanitize=fuzzer,address,undefined -Isupervisor -o $@ \
		tests/fuzz/fuzz_request.c supervisor/request.c \
		$(shell $(PKG_CONFIG) --cflags --libs json-c)

# Each target runs FUZZ_SECONDS from its seed corpus.
.PHONY: fuzz
fuzz: $(FUZZ_CONFIG) $(FUZZ_REQUEST)
	$(Q)rm -rf build/fuzz/corpus && mkdir -p build/fuzz/corpus/config build/fuzz/corpus/request && \
		cp tests/fuzz/corpus/config/* build/fuzz/corpus/config/ && \
		cp tests/fuzz/corpus/request/* build/fuzz/corpus/request/
	$(FUZZ_CONFIG) -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/config.dict \
		-print_final_stats=1 build/fuzz/corpus/config
	$(FUZZ_REQUEST) -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/request.dict \
		-print_final_stats=1 build/fuzz/corpus/request

# ---- demo, benchmarks ----------------------------------------------------------

.PHONY: run
run: $(SPAWND) $(EXAMPLES)
	$(SPAWND) -c $(B)/examples/demo.conf

BENCH_BINS := $(B)/bench/gpbench $(B)/bench/pagefault $(B)/bench/go-gpbench \
	      $(B)/bench/erlang/gpbench.beam

ECHO_BINS := $(B)/bench/echo/echo_gp $(B)/bench/echo/echo_uring $(B)/bench/echo/loadgen \
	     $(B)/bench/echo/go-echo $(B)/bench/echo/erlang/echo.beam

$(B)/bench/echo/echo_gp: bench/echo/echo_gp.c bench/echo/listen.h $(LIBGP_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GP_USER_CFLAGS) $(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(GP_USER_LIBS)

$(B)/bench/echo/echo_uring: bench/echo/echo_uring.c bench/echo/listen.h | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(URING_CFLAGS) $(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(URING_LIBS)

$(B)/bench/echo/loadgen: bench/echo/loadgen.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(URING_CFLAGS) $(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(URING_LIBS) -lpthread

$(B)/bench/echo/go-echo: bench/echo/peers/echo.go | $(DEPS_STAMP)
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)GOCACHE=$(abspath $(B))/.gocache GOFLAGS=-mod=mod GO111MODULE=off \
		go build -o $@ $<

$(B)/bench/echo/erlang/echo.beam: bench/echo/peers/echo.erl | $(DEPS_STAMP)
	$(call msg,ERLC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)erlc -o $(@D) $<

$(B)/bench/gpbench: bench/gpbench.c $(LIBGP_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GP_USER_CFLAGS) $(CPPFLAGS) -o $@ $< $(ALL_LDFLAGS) $(GP_USER_LIBS)

$(B)/bench/pagefault: bench/pagefault.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CSTD) -O2 $(WARN) -o $@ $<

$(B)/bench/go-gpbench: bench/peers/go/gpbench.go | $(DEPS_STAMP)
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)GOCACHE=$(abspath $(B))/.gocache GOFLAGS=-mod=mod GO111MODULE=off \
		go build -o $@ $<

$(B)/bench/erlang/gpbench.beam: bench/peers/erlang/gpbench.erl | $(DEPS_STAMP)
	$(call msg,ERLC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)erlc -o $(@D) $<

.PHONY: bench
bench: $(BENCH_BINS) $(ECHO_BINS) $(SPAWND)
	GPBENCH=$(B)/bench/gpbench GOBENCH=$(B)/bench/go-gpbench \
	ERLBENCH_DIR=$(B)/bench/erlang PAGEFAULT=$(B)/bench/pagefault bench/run.sh
	ECHO_GP=$(B)/bench/echo/echo_gp ECHO_URING=$(B)/bench/echo/echo_uring \
	ECHO_GO=$(B)/bench/echo/go-echo ECHO_ERL_DIR=$(B)/bench/echo/erlang \
	ECHO_LOADGEN=$(B)/bench/echo/loadgen bench/echo/run.sh >$(B)/bench/echo.md
	$(Q){ echo; cat $(B)/bench/echo.md; } >>bench/RESULTS.md
	$(Q)if [ "$$(id -u)" -eq 0 ]; then \
		SPAWND=$(SPAWND) bench/supervise/run.sh >$(B)/bench/supervise.md && \
		{ echo; cat $(B)/bench/supervise.md; } >>bench/RESULTS.md; \
	else \
		printf '\n## Supervisors: spawnd vs runit, s6, supervisord\n\nNot run: %s\n' \
			'bench/supervise/run.sh needs root.' >>bench/RESULTS.md; \
	fi
	$(Q)if [ "$$(id -u)" -eq 0 ]; then \
		SPAWND=$(SPAWND) GPBENCH=$(B)/bench/gpbench bench/bpf/run.sh >$(B)/bench/bpf.md && \
		{ echo; cat $(B)/bench/bpf.md; } >>bench/RESULTS.md; \
	else \
		printf '\n## eBPF probes: overhead on a fork-heavy workload\n\nNot run: %s\n' \
			'bench/bpf/run.sh needs root.' >>bench/RESULTS.md; \
	fi

# ---- install -----------------------------------------------------------------

# Where things go. PREFIX and DESTDIR as usual; each folder can be set on
# its own (make install PREFIX=/usr sysconfdir=/etc DESTDIR=pkg).
sysconfdir ?= /etc
datadir    ?= $(PREFIX)/share
# systemd and bash-completion say where their files go (on Debian
# /lib/systemd/system and /usr/share/bash-completion/completions, whatever
# PREFIX: the folders they read); without their .pc files, folders under
# PREFIX that they read too.
systemdunitdir ?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),\
			$(PREFIX)/lib/systemd/system)
bashcompdir ?= $(or $(shell $(PKG_CONFIG) --variable=completionsdir bash-completion 2>/dev/null),\
			$(datadir)/bash-completion/completions)
# What install put where (paths without DESTDIR), for uninstall.
MANIFEST := $(datadir)/spawnd/install-manifest

# Programs installed in bindir (each with its completion and man page).
BIN_PROGRAMS := $(SPAWNCTL) $(PTOP)

MAN_PAGES := $(wildcard man/*.[1-8])
COMPLETIONS := spawnd $(notdir $(BIN_PROGRAMS))

# Files whose text names the install folders, made for this install.
INST := $(B)/install
$(INST)/%: systemd/%.in FORCE
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@bindir@|$(bindir)|g' \
		-e 's|@sysconfdir@|$(sysconfdir)|g' $< >$@.tmp && mv $@.tmp $@
$(INST)/gp.pc: sched/gp.pc.in FORCE
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@prefix@|$(PREFIX)|' \
		-e 's|@libdir@|$(patsubst $(PREFIX)%,$${prefix}%,$(libdir))|' \
		-e 's|@includedir@|$(patsubst $(PREFIX)%,$${prefix}%,$(includedir))|' \
		-e 's|@version@|$(VERSION)|' $< >$@.tmp && mv $@.tmp $@
.PHONY: FORCE
FORCE:
UNITS := $(INST)/spawnd.service $(INST)/spawnd.socket

# One line per thing installed, for mk/install.sh.
define nl


endef
define install_list
file 755 $(SPAWND) $(sbindir)/spawnd
$(foreach p,$(BIN_PROGRAMS),file 755 $(p) $(bindir)/$(notdir $(p))$(nl))
file 644 sched/gp.h $(includedir)/gp.h
file 644 $(LIBGP_A) $(libdir)/libgp.a
file 755 $(LIBGP_SO) $(libdir)/libgp.so.$(VERSION)
link libgp.so.$(VERSION) $(libdir)/libgp.so.$(SOVERSION)
link libgp.so.$(SOVERSION) $(libdir)/libgp.so
file 644 $(INST)/gp.pc $(pkgconfigdir)/gp.pc
$(foreach m,$(MAN_PAGES),file 644 $(m) $(mandir)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))$(nl))
$(foreach u,$(UNITS),file 644 $(u) $(systemdunitdir)/$(notdir $(u))$(nl))
$(foreach c,$(COMPLETIONS),file 644 tools/completion/$(c) $(bashcompdir)/$(c)$(nl))
conf 644 examples/spawnd.conf $(sysconfdir)/spawnd/spawnd.conf
endef

.PHONY: install uninstall
install: libgp $(SPAWND) $(BIN_PROGRAMS) $(INST)/gp.pc $(UNITS)
	$(file >$(INST)/list,$(install_list))
	$(Q)DESTDIR="$(DESTDIR)" mk/install.sh $(MANIFEST) <$(INST)/list
	$(Q)echo "installed $$(wc -l <"$(DESTDIR)$(MANIFEST)") files and links (listed in $(DESTDIR)$(MANIFEST))"

uninstall:
	$(Q)DESTDIR="$(DESTDIR)" mk/install.sh --uninstall $(MANIFEST)

# ---- everything ----------------------------------------------------------------

.DEFAULT_GOAL := all
.PHONY: all clean
all: libgp $(SPAWND) $(SPAWNCTL) $(PTOP) $(EXAMPLES) $(TESTS) $(BENCH_C)

clean:
	rm -rf build

.SECONDARY:
.DELETE_ON_ERROR:

# (Not in build/systemd: the container's root file system has its own *.d.)
-include $(shell find build -path build/systemd -prune -o -name '*.d' -type f -print 2>/dev/null)
