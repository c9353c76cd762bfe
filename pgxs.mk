# pgxs.mk — the PostgreSQL extension build of medcrm (PGXS).
#
# The top-level Makefile drives this file (make -f pgxs.mk) so that medcrm's own
# "check", "demo" and "bench" targets never collide with the targets PGXS defines.
#
# The install script sql/medcrm--$(EXTVERSION).sql is assembled from the object
# families in sql/src/*.sql, concatenated in file-name order.

EXTENSION  = medcrm
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" medcrm.control)

MODULE_big = medcrm
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard extension/*.c)))

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA       = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

PG_CPPFLAGS = -I$(srcdir)/extension
PG_CFLAGS   = -Wall -Wmissing-prototypes $(if $(WERROR),-Werror)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(sort $(wildcard sql/src/*.sql)) medcrm.control
	cat $(sort $(wildcard sql/src/*.sql)) > $@

# Every object is rebuilt when a header of the extension changes (PGXS tracks
# header dependencies only in a server built with --enable-depend).
$(OBJS): $(wildcard extension/*.h)
