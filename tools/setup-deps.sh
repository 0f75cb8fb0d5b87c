#!/usr/bin/env bash
# Installs everything Sockify needs to build, test and demo on a fresh Debian 12 machine (run as root, or with sudo).
# Idempotent: packages already present are left alone. Python peers go into ./.venv, never into the system Python.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
    build-essential pkg-config
    liburing-dev libssl-dev        # the C shim: io_uring, and OpenSSL 3 for TLS (wss://, --ssl-target)
    openssl                        # test certificates (TLS tests make their own CA and certificates)
    tigervnc-standalone-server tigervnc-tools xauth x11-utils   # a real VNC server for the demo and the tests
    xterm twm                      # something to look at on the demo desktop
    novnc                          # the web client served by --web in the demo
    chromium chromium-driver x11-xserver-utils   # the noVNC-in-a-real-browser test (selenium, xsetroot)
    socat                          # the raw TCP relay used in side-by-side measurements
    redis-server                   # TokenRedis tests (each test starts its own instance on a free port)
    haproxy nginx-light            # load balancers in front of Sockify (PROXY protocol, X-Forwarded-For tests)
    python3 python3-venv           # independent WebSocket peers (websockets) and websockify.py itself
    procps iproute2
)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
    echo "setup-deps: no 'swift' on PATH; install Swift 6.1 or newer from swift.org first" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    'websockets>=12' 'websockify==0.13.0' numpy selenium matplotlib \
    redis requests jwcrypto prometheus_client   # websockify's own TokenRedis/JSONTokenApi/JWTTokenApi, for differential tests
