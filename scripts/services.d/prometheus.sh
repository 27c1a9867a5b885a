#!/usr/bin/env bash
# Prometheus (Debian's 2.42) with 6 h of DCGM-style GPU history and a live stand-in exporter,
# on 127.0.0.1 only.  Called by scripts/services; usage: prometheus.sh up|down|status
#
#   up      install prometheus/promtool if missing (apt, no recommends, Debian's own service
#           kept stopped), backfill history into a new TSDB, start dcgm_exporter.py and
#           prometheus (scraping the exporter every 5 s, one target per host), wait for
#           /-/ready, write $MLOPSTUI_SERVICES_DIR/prometheus.env. Idempotent: when both
#           processes run and Prometheus is ready it only (re)writes the env file.
#   down    stop both (pidfiles), remove prometheus.env; the TSDB stays for the next up
#   status  one line
#
# History (see dcgm_history.py for the patterns tests rely on) is generated relative to "now",
# so a TSDB whose newest sample (backfill end or last WAL write) is older than
# MLOPSTUI_PROMETHEUS_MAX_GAP_S (default 300 s) is replaced by a fresh one on the next up:
# a longer gap would leave holes in "the last hour". Regenerating takes a few seconds.
#
# State under $MLOPSTUI_SERVICES_DIR/prometheus/: tsdb/, prometheus.yml, *.pid, *.log, ports,
# history.start/history.end (epoch seconds of the backfilled window).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ROOT="${MLOPSTUI_SERVICES_DIR:-${XDG_RUNTIME_DIR:-/tmp}/mlopstui-services-$(id -u)}"
D="$ROOT/prometheus"
ENV_FILE="$ROOT/prometheus.env"
TSDB="$D/tsdb"
MAX_GAP_S="${MLOPSTUI_PROMETHEUS_MAX_GAP_S:-300}"
HISTORY_HOURS=6
HISTORY_STEP=30
HOSTS=(gpu-node-a gpu-node-b gpu-node-c)

if [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi

log() { echo "prometheus: $*" >&2; }

# pid_of FILE PATTERN: print the pid in FILE if that process is alive and its command line
# contains PATTERN (guards against a recycled pid).
pid_of() {
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(<"$1")"
    [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
    echo "$pid"
}

# alive PID: running, not a zombie waiting for init to reap it.
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

stop_pid() {  # stop_pid FILE PATTERN NAME
    local pid i
    if pid="$(pid_of "$1" "$2")"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.05
        done
        if alive "$pid"; then
            log "$3 (pid $pid) ignored SIGTERM for 5 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$1"
}

# free_port: a port free on 127.0.0.1 now. Every start takes a new one, as kube.sh does: a
# port kept from an earlier run can still be the target of whoever cleans up after that run
# (seen in CI: a Prometheus restarted on its previous ports was killed minutes later, while
# the kube services, on new ports, lived on).
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

http_ok() { curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null; }

prom_pid() { pid_of "$D/prometheus.pid" "--storage.tsdb.path=$TSDB"; }
exporter_pid() { pid_of "$D/exporter.pid" "dcgm_exporter.py"; }
prom_port() { cat "$D/port" 2>/dev/null || true; }
exporter_port() { cat "$D/exporter_port" 2>/dev/null || true; }

write_env() {
    local tmp="$ENV_FILE.tmp.$$"
    {
        echo "PROMETHEUS_URL=http://127.0.0.1:$(prom_port)"
        echo "DCGM_EXPORTER_URL=http://127.0.0.1:$(exporter_port)/metrics"
        echo "DCGM_HISTORY_START=$(cat "$D/history.start")"
        echo "DCGM_HISTORY_END=$(cat "$D/history.end")"
    } >"$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

# Debian's package may start its own service on :9090 (systemd, or sysvinit via invoke-rc.d
# where policy-rc.d allows it): stop and disable it, we run our own instance.
stop_debian_service() {
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/prometheus ]]; then
        if /etc/init.d/prometheus status >/dev/null 2>&1; then
            log "stopping the Debian prometheus service it started"
            /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        fi
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
}

install() {
    if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
        return 0
    fi
    if [[ $EUID -ne 0 ]]; then
        log "prometheus/promtool missing; run as root to apt-get install prometheus"
        return 1
    fi
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
    if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        log "apt-get update (no candidate for prometheus)"
        "${apt[@]}" update -q
    fi
    log "apt-get install prometheus"
    if ! "${apt[@]}" install -y -q --no-install-recommends prometheus; then
        log "install failed; apt-get update and retry"
        "${apt[@]}" update -q
        "${apt[@]}" install -y -q --no-install-recommends prometheus
    fi
    stop_debian_service
    command -v prometheus >/dev/null && command -v promtool >/dev/null
}

# Newest sample time we know of: end of the backfill, or the last WAL write of a previous run.
newest_sample() {
    local end wal
    end="$(cat "$D/history.end" 2>/dev/null || echo 0)"
    wal="$(find "$TSDB/wal" -type f -printf '%T@\n' 2>/dev/null | sort -n | tail -1)"
    wal="${wal%.*}"
    echo $((${wal:-0} > end ? ${wal:-0} : end))
}

backfill() {
    local om="$D/history.om" tmp="$D/tsdb.new" end start t0=$SECONDS
    rm -rf "$TSDB" "$tmp" "$D/history.start" "$D/history.end"
    mkdir -p "$tmp"
    end="$("$PY" "$HERE/dcgm_history.py" --out "$om" --hours "$HISTORY_HOURS" \
        --step "$HISTORY_STEP")"
    start=$((end - HISTORY_HOURS * 3600))
    if ! promtool tsdb create-blocks-from openmetrics "$om" "$tmp" >"$D/backfill.log" 2>&1; then
        log "promtool backfill failed:"
        tail -20 "$D/backfill.log" >&2
        return 1
    fi
    mv "$tmp" "$TSDB"
    rm -f "$om"
    echo "$start" >"$D/history.start"
    echo "$end" >"$D/history.end"
    log "backfilled ${HISTORY_HOURS} h of DCGM history ($(date -u -d "@$start" +%H:%M)-$(date \
        -u -d "@$end" +%H:%MZ)) in $((SECONDS - t0)) s"
}

write_config() {
    local eport="$1" h
    {
        echo "# generated by scripts/services.d/prometheus.sh"
        echo "global:"
        echo "  scrape_interval: 5s"
        echo "  evaluation_interval: 5s"
        echo "scrape_configs:"
        echo "  - job_name: dcgm-exporter"
        echo "    scrape_interval: 5s"
        echo "    scrape_timeout: 4s"
        echo "    metrics_path: /metrics"
        echo "    static_configs:"
        for h in "${HOSTS[@]}"; do
            echo "      - targets: ['127.0.0.1:$eport']"
            echo "        labels: {__param_host: '$h', instance: '$h:9400'}"
        done
    } >"$D/prometheus.yml"
}

start_exporter() {
    local port i
    port="$(free_port)"
    echo "$port" >"$D/exporter_port"
    echo "=== start $(date -u +%FT%TZ) port $port ===" >>"$D/exporter.log"
    setsid nohup "$PY" "$HERE/dcgm_exporter.py" --port "$port" \
        >>"$D/exporter.log" 2>&1 </dev/null &
    echo $! >"$D/exporter.pid"
    for ((i = 0; i < 100; i++)); do
        http_ok "http://127.0.0.1:$port/health" && return 0
        exporter_pid >/dev/null || break
        sleep 0.1
    done
    log "dcgm exporter did not come up on 127.0.0.1:$port; $D/exporter.log ends with:"
    tail -20 "$D/exporter.log" >&2
    return 1
}

start_prometheus() {
    local port attempt i
    for attempt in 1 2 3; do
        port="$(free_port)"
        echo "$port" >"$D/port"
        echo "=== start $(date -u +%FT%TZ) port $port ===" >>"$D/prometheus.log"
        setsid nohup prometheus --config.file="$D/prometheus.yml" \
            --storage.tsdb.path="$TSDB" --storage.tsdb.retention.time=30d \
            --web.listen-address="127.0.0.1:$port" \
            >>"$D/prometheus.log" 2>&1 </dev/null &
        echo $! >"$D/prometheus.pid"
        for ((i = 0; i < 600; i++)); do
            http_ok "http://127.0.0.1:$port/-/ready" && return 0
            prom_pid >/dev/null || break
            sleep 0.1
        done
        if prom_pid >/dev/null; then
            log "not ready within 60 s; $D/prometheus.log ends with:"
            tail -20 "$D/prometheus.log" >&2
            stop_pid "$D/prometheus.pid" "--storage.tsdb.path=$TSDB" prometheus
            return 1
        fi
        if ! tail -5 "$D/prometheus.log" | grep -qi "address already in use"; then
            break
        fi
    done
    log "prometheus exited; $D/prometheus.log ends with:"
    tail -20 "$D/prometheus.log" >&2
    return 1
}

up() {
    mkdir -p "$D"
    if prom_pid >/dev/null && exporter_pid >/dev/null \
        && http_ok "http://127.0.0.1:$(prom_port)/-/ready" \
        && http_ok "http://127.0.0.1:$(exporter_port)/health"; then
        write_env
        log "already running on 127.0.0.1:$(prom_port)"
        return 0
    fi
    # Half up (one process dead, or not ready): restart both from a clean state.
    stop_pid "$D/prometheus.pid" "--storage.tsdb.path=$TSDB" prometheus
    stop_pid "$D/exporter.pid" "dcgm_exporter.py" "dcgm exporter"
    install
    if [[ -d "$TSDB" && -s "$D/history.end" ]]; then
        local age=$(($(date +%s) - $(newest_sample)))
        if ((age > MAX_GAP_S)); then
            log "history is stale (newest sample ${age} s old > ${MAX_GAP_S} s): regenerating"
            rm -rf "$TSDB"
        fi
    else
        rm -rf "$TSDB"
    fi
    [[ -d "$TSDB" ]] || backfill
    start_exporter
    write_config "$(exporter_port)"
    if ! start_prometheus; then
        stop_pid "$D/exporter.pid" "dcgm_exporter.py" "dcgm exporter"
        return 1
    fi
    write_env
    log "ready on http://127.0.0.1:$(prom_port) (exporter 127.0.0.1:$(exporter_port))"
}

down() {
    stop_pid "$D/prometheus.pid" "--storage.tsdb.path=$TSDB" prometheus
    stop_pid "$D/exporter.pid" "dcgm_exporter.py" "dcgm exporter"
    rm -f "$ENV_FILE"
}

status() {
    local ppid epid
    if ppid="$(prom_pid)"; then
        local ready=ready
        http_ok "http://127.0.0.1:$(prom_port)/-/ready" || ready="NOT ready"
        if epid="$(exporter_pid)"; then
            epid="exporter pid $epid on 127.0.0.1:$(exporter_port)"
        else
            epid="exporter DOWN"
        fi
        echo "prometheus: up, $ready, http://127.0.0.1:$(prom_port) (pid $ppid), $epid," \
            "history since $(date -u -d "@$(cat "$D/history.start" 2>/dev/null || echo 0)" +%FT%TZ)"
    elif epid="$(exporter_pid)"; then
        echo "prometheus: DOWN (exporter pid $epid still running)"
    else
        echo "prometheus: down"
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *)
        echo "usage: $0 up|down|status" >&2
        exit 2
        ;;
esac
