#!/usr/bin/env bash
# Measures the SMTP receiver against Postfix on this machine, in one run:
#
#   1. sentmail serve, recording into a fresh archive;
#   2. Postfix delivering the same load to a Maildir (a private instance,
#      loopback only, default tuning);
#   3. Postfix's smtp-sink, which accepts mail and stores nothing.
#
# Each gets the same corpus from smtp-bench over the same number of
# connections. Needs root for Postfix; installs nothing (run
# scripts/test.sh once first). Prints the figures and the load average.
#
# Usage: scripts/bench-smtp.sh [MESSAGES] [CONNECTIONS] [CLIENT_THREADS]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
messages="${1:-100000}"
connections="${2:-50}"
threads="${3:-1}"
corpus=/tmp/mail-100k.mbox

log() { printf '\n== %s\n' "$*" >&2; }

# Prints the CPU seconds (user + system) that process $1 has used so far.
cpu_seconds() {
  awk -v tick="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / tick }' "/proc/$1/stat"
}

work="$(mktemp -d /var/tmp/smtp-bench.XXXXXX)"
chmod 755 "$work"
server_pid=""
sink_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  "$root/scripts/postfix-instance.sh" stop "$work/postfix" || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$corpus" ]; then
  log "generating $corpus"
  python3 tools/gen_corpus.py -n 100000 --seed 1 --format mbox --out "$corpus"
fi
cargo build --release --locked -p sentmail -p archive-bench
bench=(target/release/smtp-bench --corpus "$corpus" --messages "$messages"
  --connections "$connections" --threads "$threads")

log "load before the runs: $(cat /proc/loadavg)"

log "1. sentmail serve"
target/release/sentmail --data "$work/archive" serve --listen 127.0.0.1:0 \
  --max-connections 256 --max-in-flight 64 >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
address="$(sed -n 's/^listening on //p' "$work/serve.out" | head -n 1)"
"${bench[@]}" --server "$address" --label "sentmail serve"
log "sentmail serve used $(cpu_seconds "$server_pid") s of CPU"
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=""
log "archive: $(du -sh "$work/archive" | cut -f1) on disk; load $(cat /proc/loadavg)"
rm -rf "$work/archive"

log "2. Postfix to a Maildir"
port="$("$root/scripts/postfix-instance.sh" start "$work/postfix" maildir bench.test)"
"${bench[@]}" --server "127.0.0.1:$port" --label "Postfix to Maildir" \
  --wait-maildir "$work/postfix/maildir"
"$root/scripts/postfix-instance.sh" stop "$work/postfix"
log "load $(cat /proc/loadavg)"
rm -rf "$work/postfix"

log "3. smtp-sink"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
smtp-sink -u postfix "127.0.0.1:$port" 256 &
sink_pid=$!
sleep 1
"${bench[@]}" --server "127.0.0.1:$port" --label "smtp-sink"
log "smtp-sink used $(cpu_seconds "$sink_pid") s of CPU"
kill "$sink_pid"
wait "$sink_pid" 2>/dev/null || true
sink_pid=""
log "load after the runs: $(cat /proc/loadavg)"
