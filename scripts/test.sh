#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine.
#
# It installs what the tests need when it is missing, builds, runs the
# lints and the whole test suite, then imports the real-world corpus with the
# release binary and verifies it. Servers that later tests need are started
# here and stopped on exit.
#
# The SMTP receiver's tests drive swaks and Postfix from Debian's packages.
# This script installs them (as root) and sets SENTMAIL_TEST_SWAKS and
# SENTMAIL_TEST_POSTFIX_INSTANCE. Without those variables the tests fail
# with a message that names this script. The tests start private Postfix instances under this run's
# temporary directory, and the exit trap stops any that are left.
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
  stop_postfix_instances
  for dir in "${cleanup_dirs[@]}"; do
    rm -rf "$dir"
  done
}
trap cleanup EXIT

# Temporary files of this run, so the exit trap finds every private Postfix
# instance that a test left running.
test_tmp="$(mktemp -d)"
cleanup_dirs+=("$test_tmp")
# Postfix's daemons run as the postfix user and must reach their directories.
chmod 755 "$test_tmp"
export TMPDIR="$test_tmp"

stop_postfix_instances() {
  local main_cf
  [ -d "$test_tmp" ] || return 0
  while IFS= read -r main_cf; do
    "$root/scripts/postfix-instance.sh" stop "$(dirname "$(dirname "$main_cf")")" || true
  done < <(find "$test_tmp" -maxdepth 4 -path '*/conf/main.cf' 2>/dev/null)
}

require_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install the Rust toolchain (rustc 1.95) first" >&2
    exit 1
  fi
}

# Installs Postfix (without configuring or starting the system instance)
# and swaks with its TLS modules, when missing, and points the tests at them.
smtp_tools() {
  local missing=()
  command -v postfix >/dev/null 2>&1 || missing+=(postfix)
  command -v swaks >/dev/null 2>&1 || missing+=(swaks)
  perl -MIO::Socket::SSL -e1 >/dev/null 2>&1 || missing+=(libio-socket-ssl-perl libnet-ssleay-perl)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: the SMTP tests need ${missing[*]}; run this script as root to install them" >&2
      exit 1
    fi
    log "installing ${missing[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
      apt-get update
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
  fi
  SENTMAIL_TEST_SWAKS="$(command -v swaks)"
  export SENTMAIL_TEST_SWAKS
  export SENTMAIL_TEST_POSTFIX_INSTANCE="$root/scripts/postfix-instance.sh"
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
smtp_tools
lint
unit_and_integration_tests
corpus_check testdata/real
if [ -d "$root/../shared/corpus/real" ]; then
  corpus_check "$root/../shared/corpus/real"
fi
log "all tests passed"
