# PGXS build for pg_migrate.
#   make && make install        build and install into the server found by $(PG_CONFIG)
#   make installcheck           regression + isolation + TAP suites against a running server
#                               (test/run-tests.sh starts a throwaway one for you)
EXTENSION = pg_migrate
MODULE_big = pg_migrate
# src/ has one folder per layer (src/README.md)
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*/*.c)))
DATA = $(wildcard sql/pg_migrate--*.sql)

TESTS = $(sort $(wildcard sql/[0-9]*_*.sql))
REGRESS = $(patsubst sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --encoding=UTF8

ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --load-extension=pg_migrate

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
