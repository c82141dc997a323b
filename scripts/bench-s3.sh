#!/usr/bin/env bash
# Imports one corpus twice with the release binary: into a fresh data
# directory (archive-fs), then into s3s-fs on loopback (archive-s3). It
# prints the import summaries, the time and memory of each run and the S3
# request counts. Last, it times a restart with and without the footer
# cache.
#
# Usage: scripts/bench-s3.sh CORPUS [WORK_DIR]
#   CORPUS    an mbox file, such as the one tools/gen_corpus.py writes
#   WORK_DIR  where the data directories go (default /tmp); s3s-fs keeps
#             its objects in a temporary directory of the system's
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: scripts/bench-s3.sh CORPUS [WORK_DIR]" >&2
  exit 2
fi
corpus="$1"
work="${2:-/tmp}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/s3s.sh
. "$root/scripts/s3s.sh"

fs_data="$work/bench-fs"
s3_data="$work/bench-s3"
cleanup() {
  stop_s3s
  rm -rf "$fs_data" "$s3_data"
}
trap cleanup EXIT

cargo build --release --locked -p sentmail
sentmail="$root/target/release/sentmail"
timed() { /usr/bin/time -f 'wall %e s, user %U s, system %S s, peak RSS %M KiB' "$@"; }

echo "== archive-fs: import into $fs_data"
rm -rf "$fs_data"
timed "$sentmail" --data "$fs_data" import "$corpus"
pack_sizes() { find "$1" -type f -name '*.pack' -printf '%s\n' | awk '{ n++; s += $1 } END { print n " packs, " s " bytes" }'; }
echo "stored: $(pack_sizes "$fs_data/packs")"
rm -rf "$fs_data"

start_s3s
export AWS_ACCESS_KEY_ID="$SENTMAIL_TEST_S3_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$SENTMAIL_TEST_S3_SECRET_KEY"
s3=(--data "$s3_data" --storage "s3://$SENTMAIL_TEST_S3_BUCKET/bench"
  --s3-endpoint "$SENTMAIL_TEST_S3_ENDPOINT" --s3-path-style --s3-allow-http)
export RUST_LOG=warn,sentmail::storage=info
export NO_COLOR=1

echo "== archive-s3: import into s3s-fs ($SENTMAIL_TEST_S3_ENDPOINT)"
rm -rf "$s3_data"
timed "$sentmail" "${s3[@]}" import "$corpus"
echo "stored: $(pack_sizes "$S3S_DIR/root/$SENTMAIL_TEST_S3_BUCKET/bench/packs")"

echo "== archive-s3: restart with the footer cache (list --limit 1)"
timed "$sentmail" "${s3[@]}" list --limit 1 >/dev/null
echo "== archive-s3: restart without the footer cache (list --limit 1)"
rm -rf "$s3_data/s3-cache"
timed "$sentmail" "${s3[@]}" list --limit 1 >/dev/null
