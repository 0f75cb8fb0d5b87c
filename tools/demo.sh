#!/usr/bin/env bash
# `make demo`: a TigerVNC desktop (Xvnc, plus xterm and twm when installed) served to a browser by Sockify and
# Debian's noVNC. The script runs until Ctrl-C or SIGTERM, then stops Sockify, the X clients and Xvnc by PID.
#
# Environment:
#   PORT=6080            port Sockify listens on (all interfaces, like websockify)
#   GEOMETRY=1024x768    Xvnc screen size
#   VNC_PORT=5901        preferred RFB port on 127.0.0.1 (the next free one is used if it is taken)
#   SOCKIFY=.build/release/sockify   the proxy binary (any websockify-compatible command works)
#   NOVNC=/usr/share/novnc           the noVNC web root (Debian package novnc)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-6080}
GEOMETRY=${GEOMETRY:-1024x768}
VNC_PORT=${VNC_PORT:-5901}
SOCKIFY=${SOCKIFY:-.build/release/sockify}
NOVNC=${NOVNC:-/usr/share/novnc}

die() { echo "demo: $*" >&2; exit 1; }

[ -x "$SOCKIFY" ] || die "$SOCKIFY is missing: build it with 'swift build -c release' (or run 'make demo')"
command -v Xvnc >/dev/null || die "Xvnc is missing: run tools/setup-deps.sh (Debian tigervnc-standalone-server)"
command -v ss >/dev/null || die "ss is missing: run tools/setup-deps.sh (Debian iproute2)"
[ -f "$NOVNC/vnc.html" ] || die "$NOVNC/vnc.html is missing: run tools/setup-deps.sh (Debian novnc)"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number, not '$PORT'"
[[ "$GEOMETRY" =~ ^[0-9]+x[0-9]+$ ]] || die "GEOMETRY must look like 1024x768, not '$GEOMETRY'"

listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

listening "$PORT" && die "port $PORT is already in use: choose another with PORT=..."

# The first X display with neither a lock file nor a socket (display 0 is left to a real X server).
display=""
for d in $(seq 1 99); do
    if [ ! -e "/tmp/.X$d-lock" ] && [ ! -e "/tmp/.X11-unix/X$d" ]; then display=$d; break; fi
done
[ -n "$display" ] || die "no free X display number in 1..99"

vnc_port=$VNC_PORT
for _ in $(seq 1 100); do
    listening "$vnc_port" || break
    vnc_port=$((vnc_port + 1))
done
listening "$vnc_port" && die "no free RFB port from $VNC_PORT"

pids=()
cleanup() {
    # Clients first, then the server; each by the PID we started it with.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [ -z "${work:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

work=$(mktemp -d -t sockify-demo.XXXXXX)
xvnc_log="$work/xvnc.log"
Xvnc ":$display" -rfbport "$vnc_port" -SecurityTypes None -geometry "$GEOMETRY" -depth 24 \
    -interface 127.0.0.1 -nolisten tcp -desktop "Sockify demo" >"$xvnc_log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do   # up to 10 s for Xvnc to listen
    listening "$vnc_port" && break
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$xvnc_log" >&2; die "Xvnc exited (log above)"; }
    sleep 0.1
done
listening "$vnc_port" || { cat "$xvnc_log" >&2; die "Xvnc did not listen on $vnc_port within 10 s"; }

# Something to look at. Missing programs only cost the picture, not the demo.
if command -v twm >/dev/null; then
    # twm's default fonts (adobe-helvetica) need xfonts-75dpi; "fixed" is built into every X server.
    printf '%s "fixed"\n' TitleFont ResizeFont MenuFont IconFont IconManagerFont >"$work/twmrc"
    echo RandomPlacement >>"$work/twmrc"
    DISPLAY=":$display" twm -f "$work/twmrc" >/dev/null 2>&1 &
    pids+=($!)
else
    echo "demo: twm not installed (Debian package twm): windows will have no decorations" >&2
fi
if command -v xterm >/dev/null; then
    DISPLAY=":$display" xterm -geometry 100x30+40+40 -title "Sockify demo" \
        -e bash -c 'echo "Hello from Xvnc through Sockify."; echo; exec bash -i' >/dev/null 2>&1 &
    pids+=($!)
else
    echo "demo: xterm not installed (Debian package xterm): the desktop will be empty" >&2
fi

host=$(hostname -f 2>/dev/null || hostname)
echo "Xvnc :$display (RFB on 127.0.0.1:$vnc_port, $GEOMETRY)"
echo "Open http://$host:$PORT/vnc.html?autoconnect=1&host=$host&port=$PORT"
echo "(Ctrl-C stops the demo)"

# In the background so that a SIGTERM to this script is handled at once (bash defers traps while a foreground
# child runs); the traps above stop Sockify by PID on Ctrl-C, SIGTERM or exit.
"$SOCKIFY" --web "$NOVNC" "$PORT" "localhost:$vnc_port" &
pids+=($!)
status=0
wait "${pids[-1]}" || status=$?
exit "$status"
