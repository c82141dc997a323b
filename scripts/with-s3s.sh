#!/usr/bin/env bash
# Runs a command with s3s-fs serving on loopback and the SENTMAIL_TEST_S3_*
# variables set (see scripts/s3s.sh), then stops the server.
#
# Usage: scripts/with-s3s.sh cargo test -p archive-s3 --features server-tests
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: scripts/with-s3s.sh COMMAND [ARGS...]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/s3s.sh
. "$root/scripts/s3s.sh"

trap stop_s3s EXIT
start_s3s
"$@"
