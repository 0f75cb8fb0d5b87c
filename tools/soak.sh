#!/usr/bin/env bash
# Soak: sockify-load's mixed workload (rtt, up, down with reconnects, every byte verified) through a release
# sockify for SECONDS (default 120, as CI runs it), in two halves; each half runs ws:// then wss:// (the proxy
# serves both on its one port with a certificate made here by openssl). Fails on any integrity failure or connection
# error, on a descriptor leak (open fds after the run must equal those before), or when the proxy's RSS after the
# second half exceeds the first half's by more than 16 MiB (the pool keeps freed slots cached, so growth levels
# off after the first half; a leak keeps growing).
#
# Usage: tools/soak.sh [seconds]        (builds release first; loopback only; kills what it starts by PID)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
half=$(( seconds / 2 ))
quarter=$(( seconds / 4 ))

# One product per call: SwiftPM builds only the last of several --product flags.
swift build -c release --product sockify >/dev/null
swift build -c release --product sockify-load >/dev/null
bin=.build/release
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

target_log=$(mktemp)
"$bin/sockify-load" --serve mixed --listen 127.0.0.1:0 >"$target_log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$target_log" && break; sleep 0.05; done
target=$(grep -o 'listening on [0-9.:]*' "$target_log" | awk '{print $3}')
[ -n "$target" ] || { echo "soak: target did not start" >&2; cat "$target_log" >&2; exit 1; }

certs=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$certs/key.pem" -out "$certs/cert.pem" 2>/dev/null
proxy_log=$(mktemp)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/sockify" --cert "$certs/cert.pem" --key "$certs/key.pem" "127.0.0.1:$port" "$target" 2>"$proxy_log" &
proxy=$!
pids+=("$proxy")
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
if ! kill -0 "$proxy" 2>/dev/null; then
    echo "soak: sockify did not start" >&2
    cat "$proxy_log" >&2
    exit 1
fi

fds() { ls "/proc/$proxy/fd" | wc -l; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$proxy/status"; }
fds_before=$(fds)

half_run() {
    "$bin/sockify-load" soak "ws://127.0.0.1:$port/" -c 8 -d "${quarter}s" --no-progress
    "$bin/sockify-load" soak "wss://127.0.0.1:$port/" -c 8 -d "${quarter}s" --no-progress --cafile "$certs/cert.pem"
}
half_run
rss_first=$(rss)
half_run
rss_second=$(rss)
sleep 1
fds_after=$(fds)

echo "soak: proxy fds before ${fds_before} after ${fds_after}; RSS after first half ${rss_first} KiB, after second ${rss_second} KiB"
if [ "$fds_after" -ne "$fds_before" ]; then
    echo "soak: descriptor leak" >&2
    exit 1
fi
if [ "$rss_second" -gt $(( rss_first + 16384 )) ]; then
    echo "soak: RSS kept growing" >&2
    exit 1
fi
grep -q "session closed" "$proxy_log" || { echo "soak: no session reached the proxy" >&2; exit 1; }
grep -q "session closed: .*, tls TLSv1" "$proxy_log" || { echo "soak: no wss session reached the proxy" >&2; exit 1; }
rm -rf "$certs"
echo "soak: 1 passed, 0 failed"
