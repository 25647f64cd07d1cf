# Helpers shared by the benchmark scripts that start servers (sourced, not run).
#   bench_workdir NAME   sets WORK (a temporary directory) and PIDS; on exit, kills the PIDS
#                        and removes WORK
#   free_port            prints a free loopback port
#   wait_ready URL       waits for URL/-/ready (Strata and Prometheus both serve it)
#   rss_kb PID / hwm_kb PID   resident / peak resident memory of a process, KiB

bench_workdir() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 300); do curl -fs "$1/-/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 never got ready" >&2; exit 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
