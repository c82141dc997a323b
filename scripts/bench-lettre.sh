#!/usr/bin/env bash
# Measures the latency that ArchivingTransport adds to a lettre send:
# starts Postfix's smtp-sink on a free loopback port, runs lettre-bench
# against it, and stops the sink on exit. Generates the corpus on first
# use. Prints the load average before and after the run.
#
# lettre 0.11.23 leaves Nagle's algorithm on and writes the final
# "\r\n.\r\n" of DATA as a separate write, so each send waits for the
# sink's delayed ACK (about 40 ms on Linux). With --quickack (root only),
# sink and benchmark run in a new network namespace whose loopback routes
# have "quickack 1", so the sink's kernel acknowledges at once and the
# send costs what the SMTP exchange costs. The host's routes stay as they
# are, and the namespace is deleted on exit.
#
# Usage: scripts/bench-lettre.sh [--quickack] [LETTRE_BENCH_OPTIONS...]
#   for example: scripts/bench-lettre.sh --rounds 5 --per-round 200
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
corpus=/tmp/lettre-bench-corpus
sink=/usr/sbin/smtp-sink

log() { printf '== %s\n' "$*" >&2; }

if [ ! -x "$sink" ]; then
  echo "$sink not found; install Debian's postfix package (scripts/test.sh does)" >&2
  exit 1
fi
if [ ! -f "$corpus/truth.jsonl" ]; then
  log "generating $corpus"
  # One day of mail, as a live shop sends it: every message lands in the
  # same archive partition.
  python3 tools/gen_corpus.py -n 4000 --seed 1 --days 1 --format eml \
    --out "$corpus" --truth "$corpus/truth.jsonl" -q
fi
cargo build --release --locked -p archive-bench --bin lettre-bench

if [ "${1:-}" = "--quickack" ]; then
  shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "--quickack needs root to create a network namespace" >&2
    exit 1
  fi
  netns="lettre-bench-$$"
  ip netns add "$netns"
  trap 'ip netns delete "$netns"' EXIT
  ip -n "$netns" link set lo up
  for route in 127.0.0.0/8 127.0.0.1; do
    ip -n "$netns" route change local "$route" dev lo proto kernel scope host \
      src 127.0.0.1 table local quickack 1
  done
  log "network namespace $netns, loopback routes with quickack 1"
  status=0
  ip netns exec "$netns" "$0" "$@" || status=$?
  exit "$status"
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# As root, smtp-sink must drop its privileges with -u.
user_option=()
if [ "$(id -u)" -eq 0 ]; then
  user_option=(-u postfix)
fi
sink_pid=""
cleanup() {
  if [ -n "$sink_pid" ]; then
    kill "$sink_pid" 2>/dev/null || true
    wait "$sink_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
"$sink" "${user_option[@]}" "127.0.0.1:$port" 256 &
sink_pid=$!
for _ in $(seq 1 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    break
  fi
  sleep 0.1
done

log "smtp-sink on 127.0.0.1:$port; load before the run: $(cat /proc/loadavg)"
target/release/lettre-bench --sink "127.0.0.1:$port" --corpus "$corpus" "$@"
log "load after the run: $(cat /proc/loadavg)"
