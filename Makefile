# quanta: build, test, demo.
#
#   make            build ./quanta and libquanta.a
#   make test       install missing packages, build, run every test
#   make demo       install missing packages, build, run the main job
#   make test-asan  the test suite under AddressSanitizer + UBSan
#   make install PREFIX=/usr/local
#
# ISA-specific flags are set per source file (by name suffix), never globally.

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
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -Iinclude -Isrc $(PKG_CFLAGS) -pthread
LDLIBS   := $(PKG_LIBS) -lm -pthread

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(shell find tests -name 'test_*.c' ! -path 'tests/support/*'))
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o) $(TEST_SUPPORT:%.c=$(BUILD)/%.o) $(BUILD)/tests/main.o

# Per-file ISA flags: src/kernels/x86/*_avx2.c, *_avx512.c, *_vnni.c, *_amx.c
ISA_avx2   := -mavx2 -mfma -mf16c
ISA_avx512 := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c
ISA_vnni   := $(ISA_avx512) -mavx512vnni
ISA_amx    := $(ISA_vnni) -mamx-tile -mamx-int8
isa_flags   = $(foreach i,avx2 avx512 vnni amx,$(if $(filter %_$(i),$(basename $(notdir $1))),$(ISA_$(i))))

.PHONY: all deps test test-asan demo install clean check-unit
all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call isa_flags,$<) -MMD -MP -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -MMD -MP -c $< -o $@

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
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -I$(BUILD)/tests -c $< -o $@

$(BUILD)/quanta-tests: $(TEST_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(CHECK_LIBS) $(LDLIBS)

deps:
	@scripts/deps.sh

# SUITE=name runs one suite; QUANTA_BIN tells CLI tests which binary to run.
check-unit: $(BIN) $(BUILD)/quanta-tests
	QUANTA_BIN=$(abspath $(BIN)) QUANTA_SRC=$(CURDIR) $(TEST_ENV) $(BUILD)/quanta-tests $(SUITE)

test: deps
	@$(MAKE) --no-print-directory check-unit

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/quanta LIB=build-asan/libquanta.a \
	  OPT=-O1 SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  TEST_ENV="CK_FORK=no ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
	  check-unit

demo: deps
	@$(MAKE) --no-print-directory quanta
	@scripts/demo.sh

install: quanta libquanta.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/quanta \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 quanta $(DESTDIR)$(PREFIX)/bin/quanta
	install -m 644 libquanta.a $(DESTDIR)$(PREFIX)/lib/libquanta.a
	install -m 644 include/quanta/*.h $(DESTDIR)$(PREFIX)/include/quanta/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build build-asan quanta libquanta.a

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
