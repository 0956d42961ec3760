# quanta: build, test, demo.
#
#   make            build ./quanta and libquanta.a (the internal archive the CLI
#                   and the tests link; headers in src/include/quanta/)
#   make libs       the embeddable libraries in build/pic/lib/: libquanta and
#                   libquanta-rt (runtime only), .a and .so, exporting only the
#                   quanta_ API of include/quanta/ (man 3 quanta)
#   make test       install missing packages, build, run every test
#   make demo       install missing packages, build, run the main job
#   make demo-text  the same for the bundled BERT-style text encoder
#   make demo-recsys  the same for the bundled click-through-rate model
#   make test-asan  the test suite under AddressSanitizer + UBSan
#   make install PREFIX=/usr/local [DESTDIR=...]   the CLI, both libraries,
#                   the public headers, man pages 1/3/5, quanta.pc, quanta-rt.pc
#   make ARCH=aarch64   cross-build into build-aarch64/ (Debian's gcc-aarch64-linux-gnu)
#   make test-arm64     install missing packages, cross-build, run every test under qemu
#
# ISA-specific flags are set per source file (by name suffix), never globally.

# Cross builds: ARCH other than this machine's uses the Debian cross
# compiler $(ARCH)-linux-gnu-gcc, the multiarch libraries of that
# architecture, and a build directory of its own, so objects of two
# architectures never mix. QEMU runs its programs in check-unit.
# Only ARCH given to make counts: an ARCH exported by the shell (some set
# it to "amd64") must not turn a native build into a cross build.
HOST_ARCH := $(shell uname -m)
ifneq ($(origin ARCH),command line)
ARCH     := $(HOST_ARCH)
endif
ifneq ($(ARCH),$(HOST_ARCH))
CROSS    ?= $(ARCH)-linux-gnu-
ifeq ($(origin CC),default)
CC       := $(CROSS)gcc
endif
BUILD    ?= build-$(ARCH)
BIN      ?= $(BUILD)/quanta
LIB      ?= $(BUILD)/libquanta.a
PKG_CONFIG ?= PKG_CONFIG_LIBDIR=/usr/lib/$(ARCH)-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
# Programs run with the multiarch loader and libc (libc6:$(ARCH), which the
# $(ARCH) -dev packages bring): the cross toolchain's own loader under
# /usr/$(ARCH)-linux-gnu is another glibc build (2.36-8 vs Debian 12's
# 2.36-9+deb12uN), and that loader with the multiarch libc.so.6 loops
# forever in pthread_create (its stack-cache list), which looked like a
# qemu hang.
# AArch64 under -cpu max (qemu-user's default, named so it stays): every
# extension qemu emulates, dotprod and i8mm among them, so every kernel
# level runs; e.g. QEMU="qemu-aarch64 -cpu cortex-a76 -L /" runs a CPU
# without i8mm (its level is then skipped as missing hardware).
QEMU_CPU_aarch64 := -cpu max
QEMU     ?= qemu-$(ARCH) $(QEMU_CPU_$(ARCH)) -L /
endif

CC       ?= cc
PREFIX   ?= /usr/local
BUILD    ?= build
WERROR   ?= 1
OPT      ?= -O2
PKG_CONFIG ?= pkg-config
BIN      ?= quanta
LIB      ?= libquanta.a

PKGS        := libcjson zlib
PKG_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS:= $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS  := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN     += -Werror
endif
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -Isrc/include -Iinclude -Isrc $(PKG_CFLAGS) -pthread
LDLIBS   := $(PKG_LIBS) -lm -pthread

# Each architecture's kernels: src/kernels/<dir>/ and, anywhere, files named
# *_<isa>.c build only for their architecture.
ISAS_x86_64  := avx2 avx512 vnni amx
ISAS_aarch64 := neon dotprod i8mm
KDIR_x86_64  := x86
KDIR_aarch64 := arm64
FOREIGN  := $(foreach d,$(filter-out $(KDIR_$(ARCH)),x86 arm64),src/kernels/$(d)/%) \
            $(foreach i,$(filter-out $(ISAS_$(ARCH)),$(ISAS_x86_64) $(ISAS_aarch64)),%_$(i).c)

LIB_SRC  := $(filter-out $(FOREIGN),$(sort $(shell find src -name '*.c' ! -path 'src/cli/*')))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(filter-out $(FOREIGN),$(sort $(shell find tests -name 'test_*.c' ! -path 'tests/support/*')))
TEST_SUPPORT := $(filter-out $(FOREIGN),$(sort $(wildcard tests/support/*.c)))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o) $(TEST_SUPPORT:%.c=$(BUILD)/%.o) $(BUILD)/tests/main.o

# Per-file ISA flags: src/kernels/x86/*_avx2.c, *_avx512.c, *_vnni.c, *_amx.c
ISA_avx2   := -mavx2 -mfma -mf16c
ISA_avx512 := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c
ISA_vnni   := $(ISA_avx512) -mavx512vnni
ISA_amx    := $(ISA_vnni) -mamx-tile -mamx-int8
# AArch64: *_neon.c need nothing beyond the baseline (Advanced SIMD is
# part of every ARMv8-A Linux target); *_dotprod.c use SDOT, *_i8mm.c
# USMMLA (ARMv8.6's int8 matrix multiply, an option from ARMv8.2).
ISA_neon   :=
ISA_dotprod := -march=armv8.2-a+dotprod
ISA_i8mm   := -march=armv8.2-a+i8mm
isa_flags   = $(foreach i,$(ISAS_$(ARCH)),$(if $(filter %_$(i),$(basename $(notdir $1))),$(ISA_$(i))))

.PHONY: all deps test test-asan test-arm64 demo demo-text demo-recsys install clean check-unit FORCE
all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call isa_flags,$<) -MMD -MP -c $< -o $@

# GCC 12.2's aarch64 vectorizer crashes (internal compiler error in
# vect_transform_reduction) on the double fmax reduction of test_calib.c.
FILE_CFLAGS_aarch64_tests/unit/test_calib.c := -fno-tree-loop-vectorize

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) $(call isa_flags,$<) $(FILE_CFLAGS_$(ARCH)_$<) -Itests -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

# One Check runner for every suite: tests/**/test_<name>.c defines
# `Suite *suite_<name>(void)`; the list is generated from the file names.
$(BUILD)/tests/suites.inc: $(TEST_SRC) Makefile
	@mkdir -p $(dir $@)
	@for f in $(TEST_SRC); do n=$$(basename $$f .c); echo "QUANTA_SUITE(suite_$${n#test_})"; done > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(BUILD)/tests/main.o: tests/main.c $(BUILD)/tests/suites.inc
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -I$(BUILD)/tests -MMD -MP -c $< -o $@

$(BUILD)/quanta-tests: $(TEST_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(CHECK_LIBS) $(LDLIBS)

deps:
	@scripts/deps.sh

FORCE:

# SUITE=name runs one suite; QUANTA_BIN tells CLI tests which binary to run;
# QUANTA_BUILD is where reports go (onnx_backend writes onnx-backend.txt).
# A cross build runs both programs through scripts that start them under
# QEMU (no binfmt_misc needed); QUANTA_TESTS_EXE is the one the tests exec
# for a fresh process instead of /proc/self/exe. The scripts are written
# on every run (FORCE), so a QEMU given on the command line takes effect.
ifdef QEMU
RUN_BIN   := $(BUILD)/run-quanta
RUN_TESTS := $(BUILD)/run-quanta-tests
$(BUILD)/run-%: $(BUILD)/% FORCE
	printf '#!/bin/sh\nexec %s %s "$$@"\n' '$(QEMU)' '$(abspath $<)' > $@
	chmod +x $@
else
RUN_BIN   := $(BIN)
RUN_TESTS := $(BUILD)/quanta-tests
endif

# Under qemu the tests run in one process (CK_FORK=no, as test-asan does):
# Check's per-test timeouts, which fork mode enforces, are set for native
# speed.
# The library suites (lib_install) run `make install` with QUANTA_MAKE_VARS
# (everything is built by then: check-unit depends on libs), compile
# examples/classify.c with QUANTA_CC and run it with QUANTA_EXEC (QEMU).
check-unit: $(BIN) $(BUILD)/quanta-tests $(RUN_BIN) $(RUN_TESTS) libs
	QUANTA_BIN=$(abspath $(RUN_BIN)) QUANTA_SRC=$(CURDIR) QUANTA_BUILD=$(abspath $(BUILD)) \
	  QUANTA_MAKE_VARS="ARCH=$(ARCH) BUILD=$(BUILD) BIN=$(BIN) LIB=$(LIB)" QUANTA_CC="$(CC)" \
	  QUANTA_NM="$(NM)" QUANTA_EXEC="$(QEMU)" \
	  $(if $(QEMU),QUANTA_TESTS_EXE=$(abspath $(RUN_TESTS)) CK_FORK=no) $(TEST_ENV) $(RUN_TESTS) $(SUITE)

test: deps
	@$(MAKE) --no-print-directory check-unit

# The whole suite cross-built for AArch64 and run under qemu-aarch64;
# SUITES="a b" runs only those suites, one after another.
test-arm64:
	@scripts/deps.sh arm64
	@if [ -z "$(SUITES)" ]; then $(MAKE) --no-print-directory ARCH=aarch64 check-unit; \
	else for s in $(SUITES); do \
	  $(MAKE) --no-print-directory ARCH=aarch64 check-unit SUITE=$$s || exit 1; done; fi

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/quanta LIB=build-asan/libquanta.a \
	  OPT=-O1 SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  TEST_ENV="CK_FORK=no ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
	  check-unit

demo: deps
	@$(MAKE) --no-print-directory quanta
	@scripts/demo.sh

demo-text: deps
	@$(MAKE) --no-print-directory quanta
	@scripts/demo_text.sh

demo-recsys: deps
	@$(MAKE) --no-print-directory quanta
	@scripts/demo_recsys.sh

# ---- the embeddable libraries: make libs, make install (man quanta(3)) ----
# libquanta: the whole library; libquanta-rt: load a model and run it (no
# import, calibration, quantization, report or data-file code). Each is a
# shared library (soname libquanta[-rt].so.0) and a static one holding a
# single relocatable object (ld -r). Both export exactly the functions the
# public headers declare (the list is read from them): the shared library
# through a version script, the static one by objcopy making every other
# global local. Internal functions that happen to be named quanta_*
# (quanta_fail, ...) stay local. Their -fPIC objects are built once, without
# sanitizers, in $(PIC) (shared by the build, build-asan and build-fuzz runs).
ifneq ($(ARCH),$(HOST_ARCH))
PIC      ?= build-$(ARCH)/pic
else
PIC      ?= build/pic
endif
DIST     := $(PIC)/lib
SOVERSION := 0
SONAME_VERSION := 0.1.0
OBJCOPY  ?= $(CROSS)objcopy
NM       ?= $(CROSS)nm
LIBDIR   ?= $(PREFIX)/lib
API_RT_HDRS := include/quanta/quanta_types.h include/quanta/quanta.h
API_HDRS := $(API_RT_HDRS) include/quanta/quanta_offline.h
# libquanta-rt: model file (safetensors, graph JSON), graph, runner (with the
# int8 parameters it prepares when it plans a quantized model), kernels.
RT_SRC   := $(filter src/base/% src/graph/% src/kernels/% src/runtime/%,$(LIB_SRC)) \
            src/io/safetensors_read.c src/io/safetensors_write.c src/io/safe_file.c \
            src/io/text_check.c src/api/quanta_runtime.c
RT_SRC   := $(filter-out src/runtime/feed.c,$(RT_SRC))
PIC_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -fvisibility=default \
             -Isrc/include -Iinclude -Isrc $(PKG_CFLAGS) -pthread
LIBS_OUT := $(DIST)/libquanta.a $(DIST)/libquanta.so.$(SONAME_VERSION) \
            $(DIST)/libquanta-rt.a $(DIST)/libquanta-rt.so.$(SONAME_VERSION) \
            $(DIST)/quanta.pc $(DIST)/quanta-rt.pc

.PHONY: libs
libs: $(LIBS_OUT)

$(PIC)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PIC_CFLAGS) $(call isa_flags,$<) -MMD -MP -c $< -o $@

# The exported names: every function declared at the start of a line of
# the public headers ("type quanta_name(").
$(PIC)/libquanta.syms: $(API_HDRS) Makefile
	@mkdir -p $(dir $@)
	sed -n 's/^[a-z].*[ *]\(quanta_[a-z0-9_]*\)(.*/\1/p' $(API_HDRS) | sort -u > $@
$(PIC)/libquanta-rt.syms: $(API_RT_HDRS) Makefile
	@mkdir -p $(dir $@)
	sed -n 's/^[a-z].*[ *]\(quanta_[a-z0-9_]*\)(.*/\1/p' $(API_RT_HDRS) | sort -u > $@
$(PIC)/%.map: $(PIC)/%.syms
	{ echo '{ global:'; sed 's/$$/;/' $<; echo 'local: *; };'; } > $@

# $(call lib_rules,name,objects,description,libraries): the libraries are
# what the shared library links and what the .pc gives for static linking.
define lib_rules
$(DIST)/$(1).so.$(SONAME_VERSION): $(2) $(PIC)/$(1).map Makefile
	@mkdir -p $$(dir $$@)
	$$(CC) -shared -o $$@ -Wl,-soname,$(1).so.$(SOVERSION) -Wl,--version-script=$(PIC)/$(1).map \
	  -Wl,--no-undefined $(2) $(4)
	ln -sf $(1).so.$(SONAME_VERSION) $(DIST)/$(1).so.$(SOVERSION)
	ln -sf $(1).so.$(SOVERSION) $(DIST)/$(1).so
$(DIST)/$(1).a: $(2) $(PIC)/$(1).syms
	@mkdir -p $$(dir $$@)
	$$(CC) -nostdlib -r -o $(PIC)/$(1).o $(2)
	$$(OBJCOPY) --keep-global-symbols=$(PIC)/$(1).syms $(PIC)/$(1).o
	rm -f $$@
	ar rcs $$@ $(PIC)/$(1).o
$(DIST)/$(1:lib%=%).pc: Makefile
	@mkdir -p $$(dir $$@)
	printf '%s\n' 'prefix=$$(PREFIX)' 'libdir=$$(LIBDIR)' 'includedir=$$$${prefix}/include' '' \
	  'Name: $(1:lib%=%)' 'Description: $(3)' 'Version: $(SONAME_VERSION)' \
	  'Libs: -L$$$${libdir} -l$(1:lib%=%)' 'Libs.private: $(4)' \
	  'Cflags: -I$$$${includedir}' > $$@
endef
# libquanta-rt reads the model's JSON with src/base/json_read.c: no cJSON.
$(eval $(call lib_rules,libquanta,$(LIB_SRC:%.c=$(PIC)/%.o),quanta model quantization and runtime,-lcjson -lz -lm -pthread))
$(eval $(call lib_rules,libquanta-rt,$(RT_SRC:%.c=$(PIC)/%.o),quanta model runtime,-lm -pthread))
# (the .pc files depend on PREFIX: install rewrites them)

install: $(BIN) $(LIBS_OUT)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/quanta $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/quanta
	for l in libquanta libquanta-rt; do \
	  install -m 644 $(DIST)/$$l.a $(DESTDIR)$(LIBDIR)/$$l.a && \
	  install -m 755 $(DIST)/$$l.so.$(SONAME_VERSION) $(DESTDIR)$(LIBDIR)/ && \
	  ln -sf $$l.so.$(SONAME_VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) && \
	  ln -sf $$l.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$$l.so || exit 1; \
	  sed -e 's|^prefix=.*|prefix=$(PREFIX)|' -e 's|^libdir=.*|libdir=$(LIBDIR)|' \
	    $(DIST)/$${l#lib}.pc > $(DESTDIR)$(LIBDIR)/pkgconfig/$${l#lib}.pc || exit 1; \
	done
	install -m 644 $(API_HDRS) $(DESTDIR)$(PREFIX)/include/quanta/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build build-asan build-fuzz build-aarch64 quanta libquanta.a

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing (libFuzzer, clang): make fuzz [FUZZ_SECONDS=60], make fuzz-regress ----
# Each target in tests/fuzz/fuzz_<t>.c is built with
# -fsanitize=fuzzer,address,undefined against the library sources compiled
# by clang into $(FUZZ_BUILD)/. `fuzz` runs the targets one after another,
# each for FUZZ_SECONDS over a copy of tests/fuzz/corpus/<t>/ (grown corpus,
# logs and crash/timeout/leak artifacts stay in $(FUZZ_BUILD)/), and fails
# if any target found something. `fuzz-regress` only replays the stored
# reproducers of tests/fuzz/regress/<t>/.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= safetensors graph idx npy calib_table $(if $(wildcard tests/fuzz/fuzz_onnx.c),onnx)
FUZZ_LIB_DIRS := src/base src/io src/graph src/calib $(wildcard src/import)
FUZZ_LIB_SRC := $(sort $(shell find $(FUZZ_LIB_DIRS) -name '*.c'))
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -O1 -g $(FUZZ_SAN) -Isrc/include -Iinclude -Isrc -Itests \
                $(PKG_CFLAGS) -pthread
FUZZ_MAXLEN_safetensors := 16384
FUZZ_MAXLEN_graph       := 16384
FUZZ_MAXLEN_idx         := 4096
FUZZ_MAXLEN_npy         := 4096
FUZZ_MAXLEN_calib_table := 8192
FUZZ_MAXLEN_onnx        := 16384
FUZZ_ENV := ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_OPTS = -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz fuzz-build fuzz-regress
fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(call isa_flags,$<) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libquanta-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_targets.h $(FUZZ_BUILD)/libquanta-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libquanta-fuzz.a \
	  $(PKG_LIBS) -lm -pthread

fuzz: fuzz-build
	@fail=0; mkdir -p $(FUZZ_BUILD)/logs; : > $(FUZZ_BUILD)/fuzz-summary.txt; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/findings/$$t; \
	  cp -n tests/fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/ 2>/dev/null; \
	  dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	  maxlen=$$(case $$t in \
	    safetensors) echo $(FUZZ_MAXLEN_safetensors);; graph) echo $(FUZZ_MAXLEN_graph);; \
	    idx) echo $(FUZZ_MAXLEN_idx);; npy) echo $(FUZZ_MAXLEN_npy);; \
	    calib_table) echo $(FUZZ_MAXLEN_calib_table);; *) echo $(FUZZ_MAXLEN_onnx);; esac); \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s, -max_len=$$maxlen"; \
	  before=$$(ls $(FUZZ_BUILD)/findings/$$t | wc -l); \
	  $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_OPTS) $$dict -max_len=$$maxlen \
	    -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_BUILD)/findings/$$t/ \
	    $(FUZZ_BUILD)/corpus/$$t > $(FUZZ_BUILD)/logs/$$t.log 2>&1; rc=$$?; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/logs/$$t.log); \
	  corpus=$$(ls $(FUZZ_BUILD)/corpus/$$t | wc -l); \
	  findings=$$(( $$(ls $(FUZZ_BUILD)/findings/$$t | wc -l) - before )); \
	  echo "$$t seconds=$(FUZZ_SECONDS) execs=$${execs:-?} corpus=$$corpus findings=$$findings rc=$$rc" \
	    | tee -a $(FUZZ_BUILD)/fuzz-summary.txt; \
	  if [ $$rc -ne 0 ]; then fail=1; \
	    echo "fuzz_$$t FAILED (exit $$rc): see $(FUZZ_BUILD)/logs/$$t.log, $(FUZZ_BUILD)/findings/$$t/"; \
	    grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' $(FUZZ_BUILD)/logs/$$t.log; fi; \
	done; exit $$fail

fuzz-regress: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  files=$$(find tests/fuzz/regress/$$t -type f 2>/dev/null | sort); \
	  [ -n "$$files" ] || continue; \
	  echo "fuzz_$$t: $$(echo "$$files" | wc -l) reproducers"; \
	  $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t -timeout=10 -rss_limit_mb=2048 $$files \
	    > $(FUZZ_BUILD)/regress-$$t.log 2>&1 || { fail=1; \
	    echo "fuzz_$$t FAILED on a reproducer: see $(FUZZ_BUILD)/regress-$$t.log"; }; \
	done; exit $$fail

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
