#!/usr/bin/env bash
# Copies Sockify's release products into place, or removes them (called by `make install` / `make uninstall`).
#
#   tools/install.sh install RELEASE_DIR   sockify and sockify-load → $DESTDIR$BINDIR, librebind.so →
#                                          $DESTDIR$LIBDIR/sockify/; with WEBSOCKIFY_LINK=1 also the websockify link
#   tools/install.sh check                 fails (before any build) if the websockify link would be refused
#   tools/install.sh link                  only the link $DESTDIR$BINDIR/websockify → sockify
#   tools/install.sh uninstall             removes what `install` put there
#
# Environment (the Makefile passes its variables): DESTDIR (staging root, default empty), PREFIX (/usr/local),
# BINDIR ($PREFIX/bin), LIBDIR ($PREFIX/lib), WEBSOCKIFY_LINK (1 = make the link), FORCE (1 = replace a regular
# websockify file, e.g. websockify.py installed by pip or Debian's package).
#
# The link is relative (`websockify -> sockify`), so it stays right under DESTDIR staging and when the tree moves.
# A websockify that is already a symlink is replaced; a regular file is kept unless FORCE=1, and that check runs
# before anything is copied, so a refused install changes nothing. `uninstall` removes the link only when it
# points at sockify, never a regular websockify.
set -euo pipefail

PREFIX="${PREFIX:-/usr/local}"
BINDIR="${BINDIR:-$PREFIX/bin}"
LIBDIR="${LIBDIR:-$PREFIX/lib}"
DESTDIR="${DESTDIR:-}"
WEBSOCKIFY_LINK="${WEBSOCKIFY_LINK:-0}"
FORCE="${FORCE:-0}"
bin="$DESTDIR$BINDIR"
lib="$DESTDIR$LIBDIR/sockify"
link="$bin/websockify"

say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit 1; }

# Whether `make … VAR=value` means yes: 1, yes, true, on (any case).
enabled() { case "${1,,}" in 1 | yes | true | on) return 0 ;; *) return 1 ;; esac; }

# Fails unless the websockify link may be (re)created: nothing there, or a symlink, or FORCE=1.
check_link_allowed() {
    if [ -e "$link" ] && [ ! -L "$link" ] && ! enabled "$FORCE"; then
        die "$link exists and is not a symlink (websockify.py?); not replacing it. Remove it, or run again with FORCE=1"
    fi
}

make_link() {
    [ -x "$bin/sockify" ] || die "$bin/sockify is not installed; run \`make install\` first"
    check_link_allowed
    if [ -L "$link" ]; then
        say "replacing link $link -> $(readlink "$link")"
    elif [ -e "$link" ]; then
        say "replacing $link (FORCE=1)"
    fi
    # ln -sfn replaces an existing link or file in one step (rename over it), never following it.
    ln -sfn sockify "$link"
    say "$link -> sockify"
}

install_products() {
    local release="$1"
    for product in sockify sockify-load librebind.so; do
        [ -f "$release/$product" ] ||
            die "$release/$product is missing: run \`make install\` without RELEASE_DIR, or \`make release-products\` first"
    done
    if enabled "$WEBSOCKIFY_LINK"; then check_link_allowed; fi
    install -d -m 0755 "$bin" "$lib"
    # install(1) unlinks the destination first, so a running sockify keeps its old binary (no ETXTBSY).
    install -m 0755 "$release/sockify" "$bin/sockify"
    install -m 0755 "$release/sockify-load" "$bin/sockify-load"
    install -m 0755 "$release/librebind.so" "$lib/librebind.so"
    say "$bin/sockify, $bin/sockify-load, $lib/librebind.so"
    # Wrap mode (`sockify 6080 -- COMMAND`) looks for the library in ../lib/sockify next to the executable.
    if [ "$(dirname "$BINDIR")/lib" != "$LIBDIR" ]; then
        say "warning: sockify looks for librebind.so in $(dirname "$BINDIR")/lib/sockify, so wrap mode will not find $LIBDIR/sockify/librebind.so"
    fi
    if enabled "$WEBSOCKIFY_LINK"; then make_link; fi
}

uninstall_products() {
    rm -f "$bin/sockify" "$bin/sockify-load" "$lib/librebind.so"
    if [ -d "$lib" ]; then rmdir --ignore-fail-on-non-empty "$lib"; fi
    if [ -L "$link" ] && [ "$(basename "$(readlink "$link")")" = sockify ]; then
        rm -f "$link"
        say "removed $link"
    elif [ -e "$link" ]; then
        say "left $link alone (not a link to sockify)"
    fi
    say "removed sockify, sockify-load and librebind.so from $bin and $lib"
}

case "${1:-}" in
    install) [ $# -eq 2 ] || die "usage: tools/install.sh install RELEASE_DIR"; install_products "$2" ;;
    check) if enabled "$WEBSOCKIFY_LINK"; then check_link_allowed; fi ;;
    link) make_link ;;
    uninstall) uninstall_products ;;
    *) die "usage: tools/install.sh install RELEASE_DIR | check | link | uninstall" ;;
esac
