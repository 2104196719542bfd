# PGXS build for pg_migrate.
#   make && make install        build and install into the server found by $(PG_CONFIG)
#   make installcheck           regression + isolation + TAP suites against a running server
#                               (test/run-tests.sh starts a throwaway one for you)
EXTENSION = pg_migrate
MODULE_big = pg_migrate
# src/ has one folder per layer (src/README.md)
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*/*.c)))
DATA = $(wildcard sql/pg_migrate--*.sql)

# pg_regress tests in test/sql, their expected output in test/expected; they
# run in name order, each building on the ones before
TESTS = $(sort $(wildcard test/sql/[0-9]*_*.sql))
REGRESS = $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=test --encoding=UTF8

ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --load-extension=pg_migrate

# The regress and isolation tests copy their fixtures into folders under
# $PG_MIGRATE_TEST_DIR, written @testdir@ in the tests and their expected
# output (test/launcher.sh maps the one to the other). test/run-tests.sh
# gives each run a directory of its own; a bare `make installcheck` makes
# one here, left afterwards like results/ for a look at what failed.
ifeq ($(origin PG_MIGRATE_TEST_DIR),undefined)
ifneq ($(filter installcheck,$(MAKECMDGOALS)),)
ifneq ($(strip $(REGRESS) $(ISOLATION)),)
export PG_MIGRATE_TEST_DIR := $(shell d=$$(mktemp -d /tmp/pg_migrate_testdir.XXXXXX) && chmod 755 "$$d" && echo "$$d")
endif
endif
endif
REGRESS_OPTS += --launcher=$(CURDIR)/test/launcher.sh
ISOLATION_OPTS += --launcher=$(CURDIR)/test/launcher.sh

PROVE_TESTS = $(sort $(wildcard test/t/*.pl))
ifneq ($(PROVE_TESTS),)
TAP_TESTS = 1
endif

EXTRA_CLEAN = output_iso results regression.diffs regression.out tmp_check

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers
ifdef WERROR
PG_CFLAGS += -Werror
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every source file includes some of these: rebuild all when one changes
$(OBJS): $(wildcard src/*.h src/*/*.h)

# The pg_migrate command (client/, a libpq program with its own PGXS
# Makefile) is built, installed and cleaned with the extension
all: client-all
install: client-install
uninstall: client-uninstall
clean: client-clean

client-all client-install client-uninstall client-clean: client-%:
	$(MAKE) -C client PG_CONFIG=$(PG_CONFIG) $*

.PHONY: client-all client-install client-uninstall client-clean
