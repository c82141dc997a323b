#!/usr/bin/env bash
# Runs a private Postfix instance for tests and benchmarks: its own
# configuration, queue and data directories under DIR, listening on a free
# loopback port only, never delivering beyond 127.0.0.1 and never looking
# up DNS.
#
# Usage:
#   scripts/postfix-instance.sh start DIR bcc RECEIVER_PORT BCC_ADDRESS
#       Copies every message to BCC_ADDRESS (always_bcc) and delivers that
#       copy to the SMTP receiver on 127.0.0.1:RECEIVER_PORT. Mail to every
#       other recipient is discarded.
#   scripts/postfix-instance.sh start DIR maildir DOMAIN
#       Delivers mail for any address in DOMAIN to the Maildir DIR/maildir/.
#   scripts/postfix-instance.sh stop DIR
#
# "start" prints the port of the instance's SMTP server. It needs root
# (Postfix's master runs as root and drops to the postfix user).
set -euo pipefail

usage() {
  sed -n '2,17p' "$0" >&2
  exit 2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_main_cf() {
  local dir="$1"
  cat >"$dir/conf/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/postfix.log
maillog_file_prefixes = $dir
myhostname = postfix.test
mydomain = postfix.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_bind_address = 127.0.0.1
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = yes
message_size_limit = 104857600
biff = no
CONF
}

write_master_cf() {
  local dir="$1" port="$2"
  cat >"$dir/conf/master.cf" <<CONF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CONF
}

start() {
  local dir="$1" mode="$2"
  shift 2
  mkdir -p "$dir/conf" "$dir/queue" "$dir/data"
  chmod 755 "$dir"
  chown postfix "$dir/data"
  if ! runuser -u postfix -- test -w "$dir/data"; then
    echo "error: the postfix user cannot reach $dir; make each parent directory searchable (chmod o+x)" >&2
    exit 1
  fi
  local port
  port="$(free_port)"
  write_main_cf "$dir"
  write_master_cf "$dir" "$port"
  case "$mode" in
    bcc)
      [ $# -eq 2 ] || usage
      local receiver_port="$1" bcc="$2"
      printf '%s smtp:[127.0.0.1]:%s\n' "${bcc#*@}" "$receiver_port" >"$dir/conf/transport"
      cat >>"$dir/conf/main.cf" <<CONF
always_bcc = $bcc
transport_maps = texthash:$dir/conf/transport
default_transport = discard
relay_transport = discard
CONF
      ;;
    maildir)
      [ $# -eq 1 ] || usage
      mkdir -p "$dir/maildir"
      chown nobody:nogroup "$dir/maildir"
      cat >>"$dir/conf/main.cf" <<CONF
virtual_mailbox_domains = $1
virtual_mailbox_base = $dir
virtual_mailbox_maps = static:maildir/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
default_transport = discard
relay_transport = discard
CONF
      ;;
    *) usage ;;
  esac
  postfix -c "$dir/conf" check >/dev/null 2>&1 || true
  if ! postfix -c "$dir/conf" start >"$dir/start.log" 2>&1; then
    echo "error: starting Postfix in $dir failed:" >&2
    cat "$dir/start.log" >&2
    tail -n 5 "$dir/postfix.log" >&2 || true
    exit 1
  fi
  # Wait until the SMTP server accepts connections, at most 10 seconds.
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
      echo "$port"
      return 0
    fi
    sleep 0.1
  done
  echo "error: Postfix in $dir did not open port $port; see $dir/postfix.log" >&2
  exit 1
}

stop() {
  local dir="$1"
  [ -f "$dir/conf/main.cf" ] || return 0
  postfix -c "$dir/conf" stop >/dev/null 2>&1 || true
  # Wait for the master to exit, at most 10 seconds.
  for _ in $(seq 1 100); do
    if ! postfix -c "$dir/conf" status >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  postfix -c "$dir/conf" abort >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) [ $# -ge 3 ] || usage; start "${@:2}" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
