#!/usr/bin/env bash
# Kernel TLS check in a VM: boots Debian's 6.1 kernel (CONFIG_TLS=m) under QEMU with this machine's root file
# system mounted read-only over 9p, loads the `tls` module, and runs the release sockify with `--ktls auto` and
# `--ktls off` in front of `sockify-load --serve mixed`: wss down/up/rtt/soak (every byte verified by sockify-load)
# and an https static file (sendfile through kernel TLS, checked by SHA-256). Passes when every run is OK, the
# `auto` proxy's sessions say `tls TLSv1.3 kernel` and the `off` proxy's `tls TLSv1.3 user`.
#
# For kernels without CONFIG_TLS (the development VM's), where `--ktls auto` can only fall back. TCG emulation is
# used (nested KVM does not boot here), so the guest's throughput numbers mean nothing; this is a functional check.
#
# Usage: tools/ktls-vm-check.sh   (root; installs qemu-system-x86, linux-image-amd64, busybox-static; builds release)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

export DEBIAN_FRONTEND=noninteractive
need=()
for p in qemu-system-x86 linux-image-amd64 busybox-static openssl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
    apt-get update
    apt-get install -y --no-install-recommends "${need[@]}"
fi
swift build -c release --product sockify >/dev/null
swift build -c release --product sockify-load >/dev/null

kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
version=${kernel#/boot/vmlinuz-}
grep -q '^CONFIG_TLS=[my]' "/boot/config-$version" || { echo "ktls-vm-check: $version has no CONFIG_TLS" >&2; exit 1; }

# Outside /tmp: the guest mounts a tmpfs there.
work=$(mktemp -d /var/tmp/sockify-ktls.XXXXXX)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
head -c 3000000 /dev/urandom >"$work/blob.bin"

cat >"$work/guest.sh" <<EOF
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
ip link set lo up
/usr/bin/busybox insmod /lib/modules/\$(uname -r)/kernel/net/tls/tls.ko
echo "GUEST kernel \$(uname -r), ULPs: \$(cat /proc/sys/net/ipv4/tcp_available_ulp)"
B=$repo/.build/release
C=$work
\$B/sockify-load --serve mixed --listen 127.0.0.1:17001 --duration 300 > /tmp/target.log 2>&1 &
\$B/sockify-load --serve echo --listen 127.0.0.1:17002 --duration 300 > /tmp/echo.log 2>&1 &
for mode in auto off; do
  port=\$([ \$mode = auto ] && echo 17080 || echo 17081)
  \$B/sockify --ktls \$mode --workers 1 --web \$C --cert \$C/cert.pem --key \$C/key.pem 127.0.0.1:\$port 127.0.0.1:17001 > /tmp/proxy-\$mode.log 2>&1 &
  \$B/sockify --ktls \$mode --workers 1 --cert \$C/cert.pem --key \$C/key.pem 127.0.0.1:\$((port + 10)) 127.0.0.1:17002 > /tmp/proxy12-\$mode.log 2>&1 &
  sleep 4   # start-up under emulation, from a cold 9p page cache
  for run in "down -b 64M" "up -b 32M" "rtt -c 4 -d 2" "soak -c 4 -d 5"; do
    echo "== ktls \$mode: \$run"
    \$B/sockify-load \$run wss://127.0.0.1:\$port/ --cafile \$C/cert.pem --no-progress 2>&1 | grep -E "tls |moved|messages|result|rror"
  done
  echo "== ktls \$mode: https static file"
  $repo/.venv/bin/python -c "
import ssl, urllib.request, hashlib
ctx = ssl.create_default_context(cafile='\$C/cert.pem')
data = urllib.request.urlopen('https://127.0.0.1:\$port/blob.bin', context=ctx).read()
print('https file', len(data), 'bytes, sha256 match', hashlib.sha256(data).digest() == hashlib.sha256(open('\$C/blob.bin','rb').read()).digest())
" 2>&1 | tail -1
  echo "== ktls \$mode: TLS 1.2 echo (kernel receive offload, where OpenSSL 3.0 has it)"
  $repo/.venv/bin/python -c "
import asyncio, ssl, os, websockets
async def main():
    ctx = ssl.create_default_context(cafile='\$C/cert.pem')
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    data = os.urandom(1 << 20)
    async with websockets.connect('wss://127.0.0.1:\$((port + 10))/', ssl=ctx, max_size=None, compression=None) as ws:
        got = b''
        for i in range(0, len(data), 65536):
            await ws.send(data[i:i + 65536])
        while len(got) < len(data):
            got += await ws.recv()
        print('tls1.2 echo', len(got), 'bytes, match', got == data)
asyncio.run(asyncio.wait_for(main(), 60))
" 2>&1 | tail -1
  echo "== ktls \$mode: sessions by record path"
  grep -o "tls TLSv1.[23] [a-z]*" /tmp/proxy-\$mode.log /tmp/proxy12-\$mode.log | sort | uniq -c
done
echo "GUEST DONE"
/usr/bin/busybox poweroff -f
EOF
chmod +x "$work/guest.sh"

# initramfs: busybox, the virtio + 9p modules, and an init that mounts the host root and runs guest.sh.
initramfs="$work/initramfs"
mkdir -p "$initramfs"/{bin,dev,proc,sys,newroot,mods}
cp /usr/bin/busybox "$initramfs/bin/"
for applet in sh mount insmod switch_root poweroff sleep; do ln -s busybox "$initramfs/bin/$applet"; done
modules="netfs fscache 9pnet 9p virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci 9pnet_virtio"
for m in $modules; do
    file=$(modinfo -k "$version" -n "$m" 2>/dev/null) || { echo "ktls-vm-check: module $m missing" >&2; exit 1; }
    case "$file" in (builtin) continue ;; esac
    cp "$file" "$initramfs/mods/$m.ko"
done
cat >"$initramfs/init" <<EOF
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $modules; do [ -f /mods/\$m.ko ] && insmod /mods/\$m.ko; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /newroot || { echo "9p mount failed"; poweroff -f; }
mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys; mount -t devtmpfs dev /newroot/dev
mount -t tmpfs tmp /newroot/tmp
exec switch_root /newroot /bin/sh $work/guest.sh
EOF
chmod +x "$initramfs/init"
(cd "$initramfs" && find . | cpio -o -H newc 2>/dev/null | gzip >"$work/initrd.gz")

log="$work/guest.log"
timeout 600 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3072 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 panic=-1 quiet" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on" >"$log" 2>&1 || true
grep -E "^(GUEST|==|  |https|tls1)|tls TLSv1" "$log" | tr -d '\r'

ok=1
grep -q "GUEST DONE" "$log" || { echo "ktls-vm-check: the guest did not finish" >&2; ok=0; }
[ "$(grep -c 'result        OK' "$log")" -eq 8 ] || { echo "ktls-vm-check: not every run is OK" >&2; ok=0; }
[ "$(grep -c 'sha256 match True' "$log")" -eq 2 ] || { echo "ktls-vm-check: an https file differs" >&2; ok=0; }
[ "$(grep -c 'tls1.2 echo 1048576 bytes, match True' "$log")" -eq 2 ] || { echo "ktls-vm-check: a TLS 1.2 echo failed" >&2; ok=0; }
grep -A4 "ktls auto: sessions" "$log" | grep -q "tls TLSv1.3 kernel" || { echo "ktls-vm-check: no kernel TLS session with --ktls auto" >&2; ok=0; }
grep -A4 "ktls off: sessions" "$log" | grep -q "tls TLSv1.3 user" || { echo "ktls-vm-check: --ktls off did not use OpenSSL's record layer" >&2; ok=0; }
if ((ok)); then echo "ktls-vm-check: passed"; else exit 1; fi
