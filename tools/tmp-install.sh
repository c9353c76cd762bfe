#!/usr/bin/env bash
# tmp-install.sh — a private copy of the PostgreSQL server with medcrm installed.
#
# PostgreSQL finds its share and library directories relative to its own binary,
# so a copy of the Debian server tree under ./tmp_install is a complete server.
# medcrm is installed into it with DESTDIR; the system installation is never
# touched, and several checkouts can test side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-pg_config}
dest=$PWD/tmp_install
bindir=$($PG_CONFIG --bindir)
sharedir=$($PG_CONFIG --sharedir)
pkglibdir=$($PG_CONFIG --pkglibdir)
# Inside a test cluster's environment PATH leads to the copy's own pg_config:
# take the system paths it was copied from.
case "$bindir" in
  "$dest"/*)
    bindir=${bindir#"$dest"}; sharedir=${sharedir#"$dest"}; pkglibdir=${pkglibdir#"$dest"}
    PG_CONFIG=$bindir/pg_config ;;
esac
stamp=$dest/.server-copy

# The copy is redone when the server package changes (or pgTAP & co. appear).
want="$($PG_CONFIG --version) $(ls "$sharedir/extension" | md5sum | cut -c1-12)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  rm -rf "$dest"
  for dir in "$(dirname "$bindir")" "$sharedir" "$pkglibdir"; do
    [ -d "$dest$dir" ] && continue
    mkdir -p "$dest$(dirname "$dir")"
    cp -a "$dir" "$dest$(dirname "$dir")/"
  done
  echo "$want" > "$stamp"
fi

make --no-print-directory -f pgxs.mk PG_CONFIG="$PG_CONFIG" install DESTDIR="$dest" >/dev/null
make --no-print-directory -C workers PG_CONFIG="$PG_CONFIG" install DESTDIR="$dest" >/dev/null
