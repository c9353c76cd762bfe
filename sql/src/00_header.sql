-- medcrm install script, assembled by the build from sql/src/*.sql in file-name
-- order (see pgxs.mk). Edit the files under sql/src/, never the assembled script.

\echo Use "CREATE EXTENSION medcrm" to load this file. \quit
