# medcrm — top-level entry points.
#
#   make            build the extension (pgxs.mk) and the report worker (workers/)
#   make install    install both into the PostgreSQL found by pg_config
#   make check      the whole test suite on a throwaway cluster (installs what is missing)
#   make demo       demo data on a throwaway cluster, every capability run, results in ./out
#   make bench      the benchmarks of BENCHMARKS.md
#
# The PGXS part lives in pgxs.mk so that these targets keep their own recipes.

PG_CONFIG ?= pg_config
PGXS_MAKE  = $(MAKE) --no-print-directory -f pgxs.mk PG_CONFIG=$(PG_CONFIG)
WORKER_MAKE = $(MAKE) --no-print-directory -C workers PG_CONFIG=$(PG_CONFIG)

.PHONY: all extension worker install uninstall clean check demo bench deps tmp-install

all: extension worker

extension:
	$(PGXS_MAKE) all

worker:
	$(WORKER_MAKE) all

install: all
	$(PGXS_MAKE) install
	$(WORKER_MAKE) install

uninstall:
	$(PGXS_MAKE) uninstall
	$(WORKER_MAKE) uninstall

clean:
	$(PGXS_MAKE) clean
	$(WORKER_MAKE) clean
	rm -rf tmp_install test/results test/isolation/results test/log out

# Debian packages the build, the tests and the demo need; quiet when present.
deps:
	@tools/install-deps.sh

# A private copy of the server with medcrm installed into it (as PostgreSQL's
# own "make check" does): tests never touch the system installation.
tmp-install: deps
	@$(MAKE) --no-print-directory all WERROR=1
	@tools/tmp-install.sh

check: tmp-install
	@test/run-all.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@tools/tmp-install.sh
	@demo/run.sh

bench: tmp-install
	@test/bench/run-all.sh
