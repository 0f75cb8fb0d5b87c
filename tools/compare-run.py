#!/usr/bin/env python3
"""Side-by-side benchmark driver behind tools/compare (which builds, and kills what this starts).

Runs the same sockify-load workloads against (a) the target directly, (b) socat as a raw TCP relay,
(c) websockify 0.13 and (d) Sockify, rotating the order of the configurations every round, and prints medians
of the rounds with ratios, the proxy's CPU seconds per GiB moved, nproc and the CPU model. With --write it
replaces the results section of docs/benchmarks.md.

TLS: the opt-in configurations websockify-wss and sockify-wss (--configs ...,websockify-wss,sockify-wss) run
the same workloads over wss://, both proxies serving the same certificate: a private CA and a server
certificate for IP 127.0.0.1 made with the openssl command in the log directory; sockify-load verifies
against that CA (--cafile). Sockify gets --cert/--key (and --ktls, see --ktls below). Every process started here is registered in
--pidfile before anything else happens, so the wrapper's trap can kill it by PID whatever happens.
Loopback only.
"""
import argparse
import datetime
import json
import os
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
CONFIGS = ["direct", "socat", "websockify", "sockify"]
# Opt-in: the same proxies over wss:// with one certificate (see the module docstring).
TLS_CONFIGS = ["websockify-wss", "sockify-wss"]
# Opt-in: Sockify pinned to one I/O backend (--io-backend), to compare them side by side.
BACKEND_CONFIGS = ["sockify-epoll", "sockify-io_uring"]
ALL_CONFIGS = CONFIGS + TLS_CONFIGS + BACKEND_CONFIGS
LABELS = {"direct": "direct", "socat": "socat", "websockify": "websockify 0.13", "sockify": "Sockify",
          "websockify-wss": "websockify 0.13 wss", "sockify-wss": "Sockify wss",
          "sockify-epoll": "Sockify epoll", "sockify-io_uring": "Sockify io_uring"}
BEGIN = "<!-- compare:begin -->"
END = "<!-- compare:end -->"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short workloads and fewer connections (~2 minutes)")
    p.add_argument("--runs", type=int, default=3, help="rounds per configuration; the median is reported (>= 3)")
    p.add_argument("--configs", default=",".join(CONFIGS),
                   help="subset of " + ",".join(ALL_CONFIGS) + " (default: the four without TLS)")
    p.add_argument("--ktls", choices=["auto", "off"], default="auto",
                   help="wss: kernel TLS for Sockify (--ktls) and for sockify-load (default auto)")
    p.add_argument("--openssl", default="openssl", help="the openssl command (wss certificates)")
    p.add_argument("--workloads", default=None, help="subset of workload names (default: all)")
    p.add_argument("--conns", type=int, default=10000, help="connections held for the memory test (Sockify, direct)")
    p.add_argument("--websockify-conns", type=int, default=400,
                   help="cap for websockify (it fails past ~500: select() and fd inheritance)")
    p.add_argument("--socat-conns", type=int, default=1000, help="cap for socat (one forked process per connection)")
    p.add_argument("--placement", choices=["split", "same", "none"], default="split",
                   help="split: load tool + target on CPU 0, proxy on CPU 1; same: all on CPU 0; none: unpinned")
    p.add_argument("--load", default=os.path.join(ROOT, ".build/release/sockify-load"))
    p.add_argument("--sockify", default=os.path.join(ROOT, ".build/release/sockify"))
    p.add_argument("--sockify-args", default=None,
                   help="extra Sockify arguments (default: --workers=1 when pinned, none otherwise)")
    p.add_argument("--websockify", default=os.path.join(ROOT, ".venv/bin/websockify"))
    p.add_argument("--pidfile", required=True, help="file to append every started PID to (tools/compare kills them)")
    p.add_argument("--write", metavar="FILE", default=None, help="replace the results section of FILE (markdown)")
    p.add_argument("--raw", metavar="FILE", default=None, help="append every run's JSON (one per line) to FILE")
    args = p.parse_args()
    if args.runs < 3:
        p.error("--runs must be at least 3 (medians of fewer runs are not worth printing)")
    args.configs = [c for c in args.configs.split(",") if c]
    for c in args.configs:
        if c not in ALL_CONFIGS:
            p.error(f"unknown configuration {c}")
    return args


class Processes:
    """Starts processes, records their PIDs first, and kills them (TERM, then KILL) by PID."""

    def __init__(self, pidfile, logdir):
        self.pidfile = pidfile
        self.logdir = logdir
        self.live = []

    def start(self, name, argv, cpu=None):
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        log = open(os.path.join(self.logdir, name + ".log"), "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        with open(self.pidfile, "a") as f:
            f.write(f"{proc.pid}\n")
        self.live.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        # websockify and socat fork one child per connection: reap stragglers by PID too.
        for child in descendants(proc.pid):
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc in self.live:
            self.live.remove(proc)

    def stop_all(self):
        for proc in list(self.live):
            self.stop(proc)


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        out.append(child)
        queue.extend(children.get(child, []))
    return out


def cpu_seconds(pid):
    """utime+stime of pid and its live descendants, plus what reaped children left in cutime/cstime."""
    total = 0
    for p in [pid] + descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            # fields[11..14] = utime stime cutime cstime (stat fields 14-17)
            total += sum(int(x) for x in fields[11:15])
        except (OSError, ValueError):
            pass
    return total / CLK_TCK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {seconds} s")


def base_config(config):
    """The proxy a configuration runs: websockify-wss -> websockify, sockify-epoll -> sockify."""
    if config in BACKEND_CONFIGS:
        return "sockify"
    return config[:-4] if config.endswith("-wss") else config


def make_certificates(openssl, directory):
    """A private CA and a server certificate (EC P-256) for IP 127.0.0.1 signed by it, written into directory.

    Returns (ca.pem, server.pem, key.pem). Both TLS proxies serve this pair; sockify-load verifies with ca.pem.
    """
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=compare CA",
                                 "-addext", "basicConstraints=critical,CA:TRUE",
                                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req"] + ec + ["-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
         "-days", "2", "-extfile", "server.ext", "-out", "server.pem"],
    ]
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    for step in steps:
        run = subprocess.run([openssl] + step, cwd=directory, capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            sys.exit(f"compare: openssl {' '.join(step[:2])} failed: {run.stderr.strip()[:300]}")
    return tuple(os.path.join(directory, name) for name in ("ca.pem", "server.pem", "key.pem"))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def workloads(args):
    """(name, metric key, label, unit, higher_is_better, argv builder per config)."""
    q = args.quick
    rtt_s = "1" if q else "5"
    big = {"down": "512M" if q else "4G", "up": "512M" if q else "2G"}
    slow_up = "128M" if q else "256M"
    small_up = {"fast": "64M" if q else "256M", "websockify": "2M" if q else "8M"}
    fd_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # A proxy holds two descriptors per connection; stay under the hard limit nobody here may raise.
    proxy_cap = max(100, (fd_hard - 100) // 2)
    conns = {
        "direct": min(args.conns if not q else 2000, fd_hard - 100),
        "sockify": min(args.conns if not q else 2000, proxy_cap),
        "socat": min(args.socat_conns if not q else 500, proxy_cap),
        "websockify": min(args.websockify_conns if not q else 200, args.websockify_conns),
    }
    # wss: the same caps (a TLS session costs the proxy memory per connection, not descriptors).
    conns["sockify-wss"] = conns["sockify"]
    conns["websockify-wss"] = conns["websockify"]
    for config in BACKEND_CONFIGS:
        conns[config] = conns["sockify"]
    return [
        ("rtt-1", "rtt", lambda c: ["-c", "1", "-s", "64", "-d", rtt_s]),
        ("rtt-50", "rtt", lambda c: ["-c", "50", "-s", "64", "-d", rtt_s]),
        ("down-64K", "down", lambda c: ["-s", "64K", "-b", big["down"]]),
        ("up-64K", "up", lambda c: ["-s", "64K", "-b", slow_up if base_config(c) == "websockify" else big["up"]]),
        ("up-64B", "up", lambda c: ["-s", "64", "-b",
                                    small_up["websockify" if base_config(c) == "websockify" else "fast"]]),
        ("conns", "conns", lambda c: ["-c", str(conns[c]), "-d", "0.5" if q else "2", "-t", "1"]),
    ], conns, proxy_cap, fd_hard


def metrics_of(mode, result):
    """The numbers one run contributes, by metric name."""
    r = result.get("results", {})
    out = {}
    if mode == "rtt":
        out["msgs/s"] = r.get("msgs_per_s")
        lat = r.get("latency_us") or {}
        out["p50 µs"] = lat.get("p50")
        out["p99 µs"] = lat.get("p99")
    elif mode in ("up", "down"):
        out["GB/s"] = (r.get("bytes_per_s") or 0) / 1e9
        size = result.get("parameters", {}).get("size", 0)
        if size and size < 1024:
            out["frames/s"] = (r.get("bytes_per_s") or 0) / size
    elif mode == "conns":
        out["conns/s"] = r.get("connect_rate_per_s")
        hs = r.get("handshake_us") or {}
        out["handshake p99 ms"] = (hs.get("p99") or 0) / 1000
        mem = r.get("memory")
        if mem:
            out["KiB/conn"] = mem.get("per_connection_bytes", 0) / 1024
    return out


LOWER_IS_BETTER = {"p50 µs", "p99 µs", "handshake p99 ms", "KiB/conn", "CPU s/GiB"}


def main():
    args = parse_args()
    nproc = os.cpu_count() or 1
    pin = args.placement != "none" and nproc >= 2
    load_cpu = 0 if pin else None
    proxy_cpu = (1 if args.placement == "split" else 0) if pin else None
    sockify_extra = shlex.split(args.sockify_args) if args.sockify_args is not None else (["--workers=1"] if pin else [])
    bases = {base_config(c) for c in args.configs}
    for path in [args.load] + ([args.sockify] if "sockify" in bases else []) + (
            [args.websockify] if "websockify" in bases else []):
        if not os.access(path, os.X_OK):
            sys.exit(f"compare: {path} is missing (build it, or run tools/setup-deps.sh)")
    plan, conns, proxy_cap, fd_hard = workloads(args)
    if args.workloads:
        wanted = args.workloads.split(",")
        plan = [w for w in plan if w[0] in wanted]
    logdir = tempfile.mkdtemp(prefix="sockify-compare-")
    procs = Processes(args.pidfile, logdir)
    tls_files = None
    if any(c in TLS_CONFIGS for c in args.configs):
        tls_files = make_certificates(args.openssl, logdir)
    results = {}  # (workload, config) -> list of metric dicts
    failures = []
    commands = {}
    transports = {}  # config -> the "transport" object of its last successful run (wss: TLS version, cipher)
    started = time.time()
    try:
        target_port = free_port()
        target = procs.start("target", [args.load, "--serve", "mixed", "--listen", f"127.0.0.1:{target_port}"], load_cpu)
        wait_listening(target_port, target)
        for round_index in range(args.runs):
            order = args.configs[round_index % len(args.configs):] + args.configs[:round_index % len(args.configs)]
            for config in order:
                proxy, url = None, None
                port = free_port()
                if config == "direct":
                    url = f"tcp://127.0.0.1:{target_port}"
                elif config == "socat":
                    proxy = procs.start(f"socat-{round_index}", ["socat", "-b", "262144",
                                        f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096",
                                        f"TCP:127.0.0.1:{target_port}"], proxy_cpu)
                    url = f"tcp://127.0.0.1:{port}"
                elif config == "websockify":
                    proxy = procs.start(f"websockify-{round_index}", [args.websockify, f"127.0.0.1:{port}",
                                        f"127.0.0.1:{target_port}"], proxy_cpu)
                    url = f"ws://127.0.0.1:{port}/"
                elif config == "sockify" or config in BACKEND_CONFIGS:
                    backend = ["--io-backend", config[len("sockify-"):]] if config in BACKEND_CONFIGS else []
                    proxy = procs.start(f"{config}-{round_index}", [args.sockify] + sockify_extra + backend + [
                                        f"127.0.0.1:{port}", f"127.0.0.1:{target_port}"], proxy_cpu)
                    url = f"ws://127.0.0.1:{port}/"
                else:
                    # wss: both proxies serve ws and wss on one port with the same certificate and key.
                    _, cert, key = tls_files
                    tls_args = ["--cert", cert, "--key", key]
                    if config == "websockify-wss":
                        argv = [args.websockify] + tls_args
                    else:
                        argv = [args.sockify] + sockify_extra + tls_args + ["--ktls", args.ktls]
                    proxy = procs.start(f"{config}-{round_index}", argv + [f"127.0.0.1:{port}",
                                        f"127.0.0.1:{target_port}"], proxy_cpu)
                    url = f"wss://127.0.0.1:{port}/"
                if proxy:
                    try:
                        wait_listening(port, proxy)
                    except RuntimeError as error:
                        # A proxy that does not start (an option it does not know yet) costs its column only.
                        failures.append(f"{config} round {round_index}: {error} (log: {logdir}/{config}-"
                                        f"{round_index}.log)")
                        procs.stop(proxy)
                        continue
                for name, mode, build in plan:
                    extra = build(config)
                    if config in TLS_CONFIGS:
                        extra = extra + ["--cafile", tls_files[0], "--ktls", args.ktls]
                    argv = [args.load, mode, url] + extra + ["--json", "--no-progress", "--label", f"{name}/{config}"]
                    if mode == "conns" and proxy:
                        argv += ["--pid", str(proxy.pid)]
                    shown = [a.replace(tls_files[0], "CA.pem") if tls_files else a for a in extra]
                    commands[(name, config)] = " ".join(["sockify-load", mode, url.replace(str(port), "PORT")
                                                         .replace(str(target_port), "TARGET")] + shown)
                    if load_cpu is not None:
                        argv = ["taskset", "-c", str(load_cpu)] + argv
                    cpu_before = cpu_seconds(proxy.pid) if proxy else 0
                    try:
                        run = subprocess.run(argv, capture_output=True, text=True, timeout=600)
                    except subprocess.TimeoutExpired:
                        failures.append(f"{name}/{config} round {round_index}: sockify-load timed out")
                        continue
                    cpu_used = (cpu_seconds(proxy.pid) - cpu_before) if proxy else None
                    try:
                        result = json.loads(run.stdout.strip().splitlines()[-1])
                    except (ValueError, IndexError):
                        failures.append(f"{name}/{config} round {round_index}: exit {run.returncode}: "
                                        f"{run.stderr.strip()[:300]}")
                        continue
                    if args.raw:
                        with open(args.raw, "a") as f:
                            f.write(json.dumps(result) + "\n")
                    if not result.get("ok"):
                        failures.append(f"{name}/{config} round {round_index}: " +
                                        "; ".join(result.get("errors", [])[:3]))
                        continue
                    if result.get("transport"):
                        transports[config] = result["transport"]
                    metrics = metrics_of(mode, result)
                    moved = result.get("results", {}).get("bytes")
                    if mode in ("up", "down") and cpu_used is not None and moved:
                        metrics["CPU s/GiB"] = cpu_used / (moved / 2**30)
                    results.setdefault((name, config), []).append(metrics)
                    print(f"[{time.time() - started:6.1f}s] round {round_index + 1}/{args.runs} {config:10} {name:9} "
                          + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if v is not None), flush=True)
                if proxy:
                    procs.stop(proxy)
    finally:
        procs.stop_all()

    table = render(args, plan, results, conns, proxy_cap, fd_hard, nproc, failures, commands,
                   time.time() - started, sockify_extra, load_cpu, proxy_cpu, transports)
    print()
    print(table)
    if args.write:
        write_section(args.write, table)
        print(f"\nwritten to {args.write}")
    return 1 if failures else 0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value):
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def render(args, plan, results, conns, proxy_cap, fd_hard, nproc, failures, commands, elapsed, sockify_extra,
           load_cpu, proxy_cpu, transports):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    kernel = os.uname().release
    # The four plain columns always (the table keeps its shape); the wss ones only when they were asked for.
    columns = CONFIGS + [c for c in TLS_CONFIGS + BACKEND_CONFIGS if c in args.configs]
    ratios = [("sockify", "websockify"), ("sockify", "socat")]
    if "sockify-wss" in args.configs and "websockify-wss" in args.configs:
        ratios.append(("sockify-wss", "websockify-wss"))
    if "sockify-wss" in args.configs and "sockify" in args.configs:
        ratios.append(("sockify-wss", "sockify"))
    if all(c in args.configs for c in BACKEND_CONFIGS):
        ratios.append(("sockify-io_uring", "sockify-epoll"))
    lines = [
        f"**{now}** · `tools/compare{' --quick' if args.quick else ''}` · medians of {args.runs} rounds "
        f"(configuration order rotated every round) · nproc {nproc} · {cpu_model()} · Linux {kernel} · "
        f"placement `{args.placement}` (load tool + target on CPU {load_cpu}, proxy on CPU {proxy_cpu}) · "
        f"Sockify args `{' '.join(sockify_extra) or '(none)'}` · {elapsed:.0f} s",
        "",
        "| workload | metric | " + " | ".join(LABELS[c] for c in columns) + " | "
        + " | ".join(f"{LABELS[a]} ÷ {LABELS[b].replace(' 0.13', '')}" for a, b in ratios) + " |",
        "|---|---|" + "---:|" * (len(columns) + len(ratios)),
    ]
    for name, mode, _ in plan:
        metric_names = []
        for config in columns:
            for run in results.get((name, config), []):
                for key in run:
                    if key not in metric_names:
                        metric_names.append(key)
        for metric in metric_names:
            cells = {c: median([r.get(metric) for r in results.get((name, c), [])]) for c in columns}
            better = "↓" if metric in LOWER_IS_BETTER else "↑"

            def ratio(a, b):
                if cells[a] is None or cells[b] in (None, 0):
                    return "—"
                return f"{cells[a] / cells[b]:.2f}×"
            lines.append(f"| {name} | {metric} {better} | " + " | ".join(fmt(cells[c]) for c in columns)
                         + " | " + " | ".join(ratio(a, b) for a, b in ratios) + " |")
    lines += [
        "",
        f"Connections held in `conns`: direct {conns['direct']:,}, Sockify {conns['sockify']:,}, "
        f"socat {conns['socat']:,}, websockify {conns['websockify']:,}. websockify is capped because it fails "
        f"past ~500 concurrent connections (forked children inherit every live connection's pipes and `select()` "
        f"breaks past fd 1024); socat forks one process per connection; a proxy needs two descriptors per "
        f"connection and the hard `RLIMIT_NOFILE` here is {fd_hard:,}, so a proxy holds at most {proxy_cap:,}.",
        "`KiB/conn` is the PSS growth of the proxy's whole process tree (/proc/<pid>/smaps_rollup, children "
        "included) divided by the connections held; `CPU s/GiB` is the proxy tree's utime+stime (reaped children "
        "included) per GiB moved. Direct has no proxy, so neither applies.",
    ]
    wss = [c for c in TLS_CONFIGS if c in args.configs]
    if wss:
        lines += [
            "",
            f"wss: both proxies serve one EC P-256 certificate for IP 127.0.0.1 signed by a private CA (made with "
            f"openssl for the run); sockify-load verifies it (`--cafile`). Sockify runs with `--cert --key "
            f"--ktls {args.ktls}`. Negotiated, as sockify-load saw it (its own kernel TLS, not the proxy's):",
            "",
        ]
        for config in wss:
            tls = (transports.get(config) or {}).get("tls")
            if tls:
                lines.append(f"- {LABELS[config]}: {tls.get('version')} {tls.get('cipher')}, sockify-load kernel TLS "
                             f"send {'on' if tls.get('kernel_tls_send') else 'off'}")
            else:
                lines.append(f"- {LABELS[config]}: no successful run")
    lines += [
        "",
        "Commands (TARGET = `sockify-load --serve mixed`, PORT = the proxy's port):",
        "",
    ]
    for name, mode, _ in plan:
        shown = sorted({commands.get((name, c)) for c in columns if commands.get((name, c))})
        for command in shown:
            lines.append(f"- `{command}`")
    if failures:
        lines += ["", "Failed runs (not in the medians):", ""] + [f"- {f}" for f in failures]
    return "\n".join(lines)


def write_section(path, table):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Latest results\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + table + "\n" + END + tail)


if __name__ == "__main__":
    sys.exit(main())
