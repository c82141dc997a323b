#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine.
#
# It installs what the tests need when it is missing, builds, runs the
# lints and the whole test suite, then imports the real-world corpus with the
# release binary and verifies it. Servers that later tests need are started
# here and stopped on exit.
#
# Usage: scripts/test.sh            (from the repository root or anywhere)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/s3s.sh
. "$root/scripts/s3s.sh"

log() { printf '\n== %s\n' "$*" >&2; }

cleanup_dirs=()
cleanup() {
  stop_s3s
  for dir in "${cleanup_dirs[@]}"; do
    rm -rf "$dir"
  done
}
trap cleanup EXIT

require_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install the Rust toolchain (rustc 1.95) first" >&2
    exit 1
  fi
}

lint() {
  log "formatting and lints"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
}

# --all-features turns on the archive-s3 tests that need an S3 server, so
# s3s-fs runs on loopback while they run.
unit_and_integration_tests() {
  log "tests"
  cargo build --release --locked -p sentmail
  start_s3s
  cargo test --workspace --all-features --locked
  stop_s3s
}

# Imports the real-world corpus copied into testdata/, and, when the shared
# corpus sits beside this checkout, that one too; then verifies the archive.
corpus_check() {
  local corpus="$1"
  local data
  data="$(mktemp -d)"
  cleanup_dirs+=("$data")
  log "import and verify $corpus"
  target/release/sentmail --data "$data" import "$corpus"
  target/release/sentmail --data "$data" verify
}

require_cargo
lint
unit_and_integration_tests
corpus_check testdata/real
if [ -d "$root/../shared/corpus/real" ]; then
  corpus_check "$root/../shared/corpus/real"
fi
log "all tests passed"
