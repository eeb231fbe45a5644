#!/usr/bin/env bash
# A throwaway single-node Ceph RADOS Gateway: the real S3 API that Ferry's S3 driver is tested on.
#
#   scripts/ceph-rgw.sh up     start it (installing Debian's Ceph packages if missing), print S3_* lines
#   scripts/ceph-rgw.sh down   kill it and delete everything it wrote
#
# Use:  set -a; eval "$(scripts/ceph-rgw.sh up)"; set +a
#
# Debian bookworm ships Ceph 16 (Pacific), whose radosgw cannot run without a cluster, so this is
# the smallest real one: one mon (no mgr: S3 I/O does not need it), one OSD on `memstore` (objects
# in RAM, gone when it stops), pools of size 1, auth none, and radosgw (beast) on 127.0.0.1. Every
# file it writes (config, mon store, OSD, logs, pid files, sockets) is under $FERRY_CEPH_DIR.
# `up` is idempotent: running daemons of ours are left alone, a dead OSD (its RAM objects lost)
# means the cluster is made afresh. Takes a few seconds once the packages are installed.
#
# It also makes an S3 user and a bucket for `npm start` (tests make buckets of their own).
# Environment (optional): FERRY_CEPH_DIR (default $TMPDIR/ferry-ceph), FERRY_CEPH_RGW_PORT (7490),
# FERRY_CEPH_MON_PORT (3390), FERRY_CEPH_BUCKET (ferry). Keys are fixed: it only listens on loopback.
set -euo pipefail

DIR=${FERRY_CEPH_DIR:-${TMPDIR:-/tmp}/ferry-ceph}
DIR=${DIR%/}
RGW_PORT=${FERRY_CEPH_RGW_PORT:-7490}
MON_PORT=${FERRY_CEPH_MON_PORT:-3390}
CONF=$DIR/ceph.conf
ACCESS_KEY=ferry-test
SECRET_KEY=ferry-test-secret
BUCKET=${FERRY_CEPH_BUCKET:-ferry}
DAEMONS=(client.rgw.a osd.0 mon.a)

say() { printf 'ceph-rgw: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# A pid file counts only while its process is alive and was started with our config (pids recycle).
pid_of() {
  local file=$DIR/run/$1.pid pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF" || return 1
  echo "$pid"
}
running() { pid_of "$1" >/dev/null; }

ceph_cmd() { ceph -c "$CONF" --connect-timeout 10 "$@"; }
# An anonymous ListBuckets answers 200 with an empty list once radosgw serves S3.
s3_answers() { curl -fsS --max-time 2 "http://127.0.0.1:$RGW_PORT/" 2>/dev/null | grep -q ListAllMyBucketsResult; }
osd_up() { ceph_cmd osd dump 2>/dev/null | grep -q '^osd\.0 up'; }
mon_up() { ceph_cmd mon stat >/dev/null 2>&1; }

# until SECONDS DAEMON CHECK: poll CHECK, failing early (with its log) once DAEMON has died.
until_ready() {
  local deadline=$((SECONDS + $1)) daemon=$2 started=$SECONDS
  shift 2
  until "$@"; do
    if ! running "$daemon" && ((SECONDS - started > 5)); then
      tail -n 5 "$DIR/log/$daemon.log" >&2 2>/dev/null || true
      die "$daemon died (logs in $DIR/log)"
    fi
    ((SECONDS < deadline)) || die "timed out waiting for $daemon (logs in $DIR/log)"
    sleep 0.2
  done
}

# Daemons read their config from the mon, then fork; `timeout` keeps a broken cluster from hanging
# us, and fd 9 (our lock) must not be inherited or the daemon would hold it forever.
launch() {
  timeout 60 "$@" >>"$DIR/log/launch.log" 2>&1 9>&- || { tail -n 20 "$DIR/log/launch.log" >&2; die "could not start: $*"; }
}

install_packages() {
  local bin missing=()
  for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool curl; do
    command -v "$bin" >/dev/null || missing+=("$bin")
  done
  ((${#missing[@]} == 0)) && return
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run as root to apt-get install them"
  say "installing ceph-mon ceph-osd radosgw ceph-common"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd radosgw ceph-common curl >/dev/null
}

write_config() {
  [[ -s $CONF ]] && return
  cat >"$CONF.new" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks the mon for 'secure' mode by default, which auth none cannot give (it retries forever).
ms mon client mode = crc
keyring = $DIR/keyring
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/crash
log to stderr = false
err to stderr = false
# One OSD: every pool keeps one copy, and there is no mgr to autoscale placement groups.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
# radosgw creates its pools one at a time; each is an osdmap commit, ~1 s apart by default.
paxos propose interval = 0.05

[client]
admin socket =

[mon]
mon data = $DIR/\$name
admin socket = $DIR/run/\$name.asok
mon cluster log file = default=$DIR/log/cluster.\$channel.log cluster=$DIR/log/cluster.log

[osd]
osd data = $DIR/\$name
admin socket = $DIR/run/\$name.asok
osd objectstore = memstore
# What statfs reports; memstore enforces nothing, RAM is the real limit.
memstore device bytes = 8589934592

[client.rgw.a]
# endpoint= binds loopback only (port= would bind every interface); without tcp_nodelay small
# XML answers wait ~40 ms for Nagle.
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $DIR/rgw.a
admin socket = $DIR/run/\$name.asok
# Aborted multipart uploads leave data for the garbage collector, which waits 2 h by default.
rgw gc obj min wait = 60
rgw gc processor period = 60
EOF
  mv "$CONF.new" "$CONF"
}

up() {
  # One run at a time (test files start it in parallel), apt-get included: dpkg has one lock too.
  mkdir -p "$(dirname "$DIR")"
  exec 9>"$DIR.lock"
  flock -w 600 9 || die "$DIR.lock is held by another run"
  install_packages
  if running mon.a && running osd.0 && running client.rgw.a && s3_answers; then
    print_env
    return
  fi
  # memstore loses every object when the OSD dies, so the gateway's records would point at nothing.
  if [[ -e $DIR/osd.0/ready ]] && ! running osd.0; then
    say "the OSD is gone with its objects: making a new cluster"
    kill_all
    rm -rf "$DIR"
  fi
  mkdir -p "$DIR"/{run,log,crash,rgw.a}
  write_config
  grep -qF "endpoint=127.0.0.1:$RGW_PORT " "$CONF" || die "$DIR was set up for another port: run '$0 down' first"

  if [[ ! -e $DIR/mon.a/ready ]]; then
    rm -rf "$DIR/mon.a"
    monmaptool --create --fsid "$(ceph-conf -c "$CONF" --lookup fsid)" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" >>"$DIR/log/launch.log" 2>&1 9>&- || die "ceph-mon --mkfs failed"
    touch "$DIR/mon.a/ready"
  fi
  running mon.a || launch ceph-mon -c "$CONF" -i a
  until_ready 60 mon.a mon_up

  if [[ ! -e $DIR/osd.0/ready ]]; then
    [[ -s $DIR/osd.0.uuid ]] || cat /proc/sys/kernel/random/uuid >"$DIR/osd.0.uuid"
    rm -rf "$DIR/osd.0" && mkdir -p "$DIR/osd.0"
    # The same uuid and id again is a no-op for the mon, so a rerun after a failure is harmless.
    ceph_cmd osd new "$(<"$DIR/osd.0.uuid")" 0 >/dev/null
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$(<"$DIR/osd.0.uuid")" >>"$DIR/log/launch.log" 2>&1 9>&- || die "ceph-osd --mkfs failed"
    touch "$DIR/osd.0/ready"
  fi
  running osd.0 || launch ceph-osd -c "$CONF" -i 0
  until_ready 60 osd.0 osd_up

  running client.rgw.a || launch radosgw -c "$CONF" -n client.rgw.a
  until_ready 120 client.rgw.a s3_answers

  if ! radosgw-admin -c "$CONF" user info --uid ferry >/dev/null 2>&1; then
    radosgw-admin -c "$CONF" user create --uid ferry --display-name "Ferry tests" \
      --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >/dev/null
  fi
  # curl signs with SigV4 itself; RGW also wants the payload hash (of the empty body) as a header.
  curl -fsS -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    "http://127.0.0.1:$RGW_PORT/$BUCKET" || die "could not create bucket $BUCKET"
  say "S3 ready on http://127.0.0.1:$RGW_PORT ($DIR)"
  print_env
}

print_env() {
  cat <<EOF
S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
S3_BUCKET=$BUCKET
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_REGION=us-east-1
S3_FORCE_PATH_STYLE=true
EOF
}

# Everything under $DIR is deleted right after, so there is nothing to flush: SIGKILL and wait.
kill_all() {
  local name pid pids=()
  for name in "${DAEMONS[@]}"; do
    if pid=$(pid_of "$name"); then pids+=("$pid"); fi
  done
  ((${#pids[@]} == 0)) && return
  kill -KILL "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while [[ -e /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.1; done
  done
}

down() {
  [[ -d $DIR ]] || return 0
  exec 9>"$DIR.lock"
  flock -w 120 9 || say "warning: $DIR.lock still held; stopping anyway"
  kill_all
  # Only ever delete a tree this script made.
  if [[ -f $CONF && -d $DIR/run && -d $DIR/log ]]; then rm -rf "$DIR"; fi
  rm -f "$DIR.lock"
  say "stopped"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
