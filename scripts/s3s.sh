# Functions that install and run s3s-fs, the S3-compatible server the
# archive-s3 tests use. Sourced by scripts/test.sh and scripts/with-s3s.sh.
#
# start_s3s starts it on a free loopback port with signature checking on,
# serving a new temporary directory with one bucket, and exports the
# variables the tests read:
#   SENTMAIL_TEST_S3_ENDPOINT    http://127.0.0.1:<port>
#   SENTMAIL_TEST_S3_BUCKET      the bucket
#   SENTMAIL_TEST_S3_ACCESS_KEY  the access key the server accepts
#   SENTMAIL_TEST_S3_SECRET_KEY  its secret key
#   SENTMAIL_TEST_S3S_FS         the s3s-fs binary, for tests that start their own
# stop_s3s stops it and removes the directory.

S3S_FS_VERSION=0.14.1

# Installs s3s-fs when it is missing or another version. Newer releases
# need a newer rustc than this workspace's 1.95.
ensure_s3s_fs() {
  local bin="${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
  if [ -x "$bin" ] && [ "$("$bin" --version)" = "s3s-fs $S3S_FS_VERSION" ]; then
    S3S_FS_BIN="$bin"
    return
  fi
  echo "installing s3s-fs $S3S_FS_VERSION (cargo install)" >&2
  cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked >&2
  S3S_FS_BIN="$bin"
}

start_s3s() {
  ensure_s3s_fs
  S3S_DIR="$(mktemp -d)"
  mkdir "$S3S_DIR/root" "$S3S_DIR/root/sentmail-test"
  export SENTMAIL_TEST_S3_BUCKET=sentmail-test
  export SENTMAIL_TEST_S3_ACCESS_KEY=sentmail-test-access
  SENTMAIL_TEST_S3_SECRET_KEY="secret-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  export SENTMAIL_TEST_S3_SECRET_KEY
  export SENTMAIL_TEST_S3S_FS="$S3S_FS_BIN"

  # Port 0 lets the kernel pick a free port; the server logs the one it got.
  RUST_LOG=s3s_fs=info "$S3S_FS_BIN" --host 127.0.0.1 --port 0 \
    --access-key "$SENTMAIL_TEST_S3_ACCESS_KEY" \
    --secret-key "$SENTMAIL_TEST_S3_SECRET_KEY" \
    "$S3S_DIR/root" >"$S3S_DIR/log" 2>&1 &
  S3S_PID=$!

  local address=""
  for _ in $(seq 1 100); do
    address="$(grep -s -o 'server is running at http://127\.0\.0\.1:[0-9]*' "$S3S_DIR/log" | head -n 1 | sed 's/.* at //')" || true
    if [ -n "$address" ]; then
      break
    fi
    if ! kill -0 "$S3S_PID" 2>/dev/null; then
      echo "error: s3s-fs exited at start; its log:" >&2
      cat "$S3S_DIR/log" >&2
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$address" ]; then
    echo "error: s3s-fs did not report its address within 10 s; its log:" >&2
    cat "$S3S_DIR/log" >&2
    return 1
  fi
  export SENTMAIL_TEST_S3_ENDPOINT="$address"
  echo "s3s-fs $S3S_FS_VERSION is serving $S3S_DIR/root at $address (pid $S3S_PID)" >&2
}

stop_s3s() {
  if [ -n "${S3S_PID:-}" ]; then
    kill "$S3S_PID" 2>/dev/null || true
    wait "$S3S_PID" 2>/dev/null || true
    S3S_PID=""
  fi
  if [ -n "${S3S_DIR:-}" ]; then
    rm -rf "$S3S_DIR"
    S3S_DIR=""
  fi
}
