#!/usr/bin/env bash
# hack/registry.sh start|stop|status — Debian's docker-registry (distribution
# v2) on 127.0.0.1:5000, plain HTTP, storage and config in a temp dir.
# CTRLAB_REGISTRY_ADDR and CTRLAB_REGISTRY_DIR override the defaults.
set -euo pipefail
ADDR=${CTRLAB_REGISTRY_ADDR:-127.0.0.1:5000}
DIR=${CTRLAB_REGISTRY_DIR:-/tmp/ctrlab-registry}
PIDFILE=$DIR/pid

start() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "registry already running (pid $(cat "$PIDFILE")) on $ADDR"; return 0
  fi
  command -v docker-registry >/dev/null || { echo "docker-registry not installed (apt-get install docker-registry)" >&2; exit 1; }
  mkdir -p "$DIR/storage"
  cat > "$DIR/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/storage
  delete:
    enabled: true
http:
  addr: $ADDR
YML
  docker-registry serve "$DIR/config.yml" >"$DIR/log" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 100); do
    if curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1 || wget -qO- "http://$ADDR/v2/" >/dev/null 2>&1; then
      echo "registry running (pid $(cat "$PIDFILE")) on $ADDR, storage $DIR/storage"; return 0
    fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.1
  done
  echo "registry did not start; log:" >&2; cat "$DIR/log" >&2; stop; exit 1
}

stop() {
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && echo running || { echo stopped; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
