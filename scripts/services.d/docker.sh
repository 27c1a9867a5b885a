#!/usr/bin/env bash
# A real Docker engine for the tests, private to this checkout and reachable only through a unix
# socket under $MLOPSTUI_SERVICES_DIR/docker/:
#   up              install docker.io + busybox-static if missing, start dockerd if it is not
#                   answering, build the stand-in model server image if it is missing or stale,
#                   write $MLOPSTUI_SERVICES_DIR/docker.env (DOCKER_HOST, MLOPSTUI_TEST_IMAGE)
#   down [--purge]  stop dockerd, remove docker.env; keep the data root (images) unless --purge
#   status          one line
#
# The daemon never touches the host's network: no iptables rules (--iptables=false,
# --ip6tables=false), no docker0 bridge (--bridge=none), no ip_forward sysctl (--ip-forward=false),
# no TCP listener. Containers therefore run with network_mode "host" (servers bind 127.0.0.1) or
# "none". No registry is reachable, so the image is built locally: a busybox rootfs imported as a
# base image, then `docker build` FROM it adding busybox httpd + CGI scripts that answer like a
# model server (GET /ping, POST /invocations) on 127.0.0.1:$PORT (env PORT, default 8080).
set -euo pipefail

export MLOPSTUI_SERVICES_DIR="${MLOPSTUI_SERVICES_DIR:-${XDG_RUNTIME_DIR:-/tmp}/mlopstui-services-$(id -u)}"
STATE="$MLOPSTUI_SERVICES_DIR"
D="$STATE/docker"
SOCK="$D/docker.sock"
HOST_URL="unix://$SOCK"
PIDFILE="$D/dockerd.pid"
LOG="$D/dockerd.log"
DATA="$D/data"
EXEC="$D/exec"
ENV_FILE="$STATE/docker.env"
BASE_IMAGE="mlopstui/busybox:local"
IMAGE="mlopstui/model-server:test"
BUILD_LABEL="ai.mlopstui.build"
PACKAGES=(docker.io busybox-static)
# Every docker call names its daemon with -H; a context from the caller would conflict.
unset DOCKER_HOST DOCKER_CONTEXT

say() { echo "    docker: $*"; }
die() {
    echo "    docker: ERROR: $*" >&2
    exit 1
}

# The Debian CLI matches the Debian daemon (API 1.41); a newer docker in /usr/local/bin would
# default to BuildKit, which needs the buildx plugin.
docker_cli() {
    if [[ -x /usr/bin/docker ]]; then
        echo /usr/bin/docker
    else
        command -v docker || true
    fi
}

dockerd_bin() {
    if [[ -x /usr/sbin/dockerd ]]; then echo /usr/sbin/dockerd; else command -v dockerd || true; fi
}

dk() { DOCKER_BUILDKIT=0 "$(docker_cli)" -H "$HOST_URL" "$@"; }

# A live (not zombie) process: what kill -0 cannot tell once dockerd is reparented.
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ -n "$stat" && "${stat:0:1}" != Z ]]
}

daemon_pid() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" \
        && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]]; then
        echo "$pid"
    fi
}

answering() {
    [[ -S "$SOCK" && -n "$(docker_cli)" ]] || return 1
    timeout 5 "$(docker_cli)" -H "$HOST_URL" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Mounts dockerd leaves behind under $1 (its exec root keeps a bind mount of the host's network
# namespace at exec/netns/default after shutdown; a restart would stack another one).
unmount_under() {
    local mnt
    awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r \
        | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
}

pkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    if [[ ${#missing[@]} -eq 0 && -n "$(dockerd_bin)" && -n "$(docker_cli)" ]]; then
        return 0
    fi
    [[ ${#missing[@]} -gt 0 ]] || missing=(docker.io)
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
    say "installing ${missing[*]}"
    # Package scripts must not start a system dockerd (it would create docker0 and iptables
    # rules): deny service starts unless a policy is already in place.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    local rc=0
    export DEBIAN_FRONTEND=noninteractive
    local candidate
    candidate="$(apt-cache policy "${missing[@]}" 2>/dev/null | grep -c 'Candidate: (none)' || true)"
    if [[ "$candidate" != 0 ]] || ! compgen -G '/var/lib/apt/lists/*Packages*' >/dev/null; then
        apt-get update -q || rc=$?
    fi
    if [[ $rc -eq 0 ]]; then
        apt-get install -y -q --no-install-recommends "${missing[@]}" || {
            # Stale lists (404 on a superseded version): refresh once and retry.
            apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
        } || rc=$?
    fi
    [[ $made_policy -eq 0 ]] || rm -f "$policy"
    [[ $rc -eq 0 ]] || die "apt-get install ${missing[*]} failed"
    [[ -n "$(dockerd_bin)" ]] || die "dockerd not found after installing docker.io"
}

wait_answering() { # $1: pid of the dockerd to wait for
    local i
    for ((i = 0; i < 300; i++)); do
        if answering; then
            say "dockerd answering on $SOCK ($(dk version --format '{{.Server.Version}}'))"
            return 0
        fi
        alive "$1" || break
        sleep 0.1
    done
    tail -n 30 "$LOG" >&2 || true
    if alive "$1"; then
        die "dockerd (pid $1) did not answer on $SOCK within 30 s (log $LOG)"
    fi
    die "dockerd exited (log $LOG)"
}

start_daemon() {
    if answering; then
        return 0
    fi
    local pid
    pid="$(daemon_pid)"
    if [[ -n "$pid" ]]; then
        say "dockerd (pid $pid) is running but not answering yet; waiting"
        wait_answering "$pid"
        return 0
    fi
    rm -f "$PIDFILE" "$SOCK"
    # After a crash: dockerd would wait for a containerd pidfile whose process is a zombie or
    # gone (a live one it reuses, with its containers), and a restart would stack the exec root's
    # netns bind mount again.
    local cpid
    cpid="$(cat "$EXEC/containerd/containerd.pid" 2>/dev/null || true)"
    if [[ -n "$cpid" ]] && ! alive "$cpid"; then
        rm -f "$EXEC/containerd/containerd.pid"
    fi
    unmount_under "$EXEC"
    mkdir -p "$DATA" "$EXEC"
    chmod 700 "$D"
    # Our own (empty) config, so /etc/docker/daemon.json cannot add hosts or networking.
    [[ -f "$D/daemon.json" ]] || echo '{}' >"$D/daemon.json"
    say "starting dockerd (log $LOG)"
    {
        echo
        echo "=== dockerd start $(date -u +%FT%TZ) ==="
    } >>"$LOG"
    setsid nohup "$(dockerd_bin)" \
        --config-file "$D/daemon.json" \
        --data-root "$DATA" \
        --exec-root "$EXEC" \
        --pidfile "$PIDFILE" \
        -H "$HOST_URL" \
        --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --bridge=none \
        </dev/null >>"$LOG" 2>&1 &
    wait_answering "$!"
}

# --- the stand-in model server image ------------------------------------------------------------

write_context() { # $1: directory; the build context of $IMAGE
    local ctx="$1"
    rm -rf "$ctx"
    mkdir -p "$ctx/www/cgi-bin"
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY www/ /www/
COPY serve route /bin/
ENV PORT=8080 HOST=127.0.0.1
EXPOSE 8080
STOPSIGNAL SIGTERM
LABEL ai.mlopstui.role=model-server \\
      org.opencontainers.image.title="mlopstui stand-in model server" \\
      org.opencontainers.image.description="busybox httpd CGI: GET /ping, POST /invocations"
CMD ["/bin/serve"]
EOF
    # busybox httpd only runs CGI under /cgi-bin/ (and Debian's build has no reverse proxy), so
    # `nc -ll` accepts each connection on $HOST:$PORT, /bin/route maps /ping and /invocations
    # onto the CGI scripts and `httpd -i` answers. sh is PID 1 with a TERM trap, so `docker
    # stop` is prompt.
    cat >"$ctx/serve" <<'EOF'
#!/bin/sh
PORT="${PORT:-8080}"
HOST="${HOST:-127.0.0.1}"
echo "model-server: httpd (CGI) starting on $HOST:$PORT"
nc -lllllll -p "$PORT" "$HOST" -e /bin/route &
pid=$!
trap 'echo "model-server: stopping"; kill -TERM "$pid" 2>/dev/null; exit 0' TERM INT
wait "$pid"
status=$?
echo "model-server: listener exited with status $status"
exit "$status"
EOF
    cat >"$ctx/route" <<'EOF'
#!/bin/sh
# One HTTP connection on stdin/stdout: rewrite the request line, pass headers and body on.
cr=$(printf '\r')
IFS=' ' read -r method path version || exit 0
version="${version%"$cr"}"
echo "model-server: $method $path $version" >&2
case "$path" in
    /ping | /ping\?*) path="/cgi-bin/ping${path#/ping}" ;;
    /invocations | /invocations\?*) path="/cgi-bin/invocations${path#/invocations}" ;;
esac
{
    printf '%s %s %s\r\n' "$method" "$path" "$version"
    len=0
    while IFS= read -r line; do
        line="${line%"$cr"}"
        printf '%s\r\n' "$line"
        [ -n "$line" ] || break
        case "$line" in
            [Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]:*)
                len="${line#*:}"
                len="${len# }"
                ;;
        esac
    done
    if [ "$len" -gt 0 ] 2>/dev/null; then head -c "$len"; fi
} | httpd -i -vv -h /www
EOF
    cat >"$ctx/www/cgi-bin/ping" <<'EOF'
#!/bin/sh
body='{"status":"ok"}'
printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "${#body}" "$body"
EOF
    cat >"$ctx/www/cgi-bin/invocations" <<'EOF'
#!/bin/sh
if [ "$REQUEST_METHOD" != POST ]; then
    body='{"error":"use POST"}'
    printf 'HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Type: application/json\r\n'
    printf 'Content-Length: %d\r\n\r\n%s' "${#body}" "$body"
    exit 0
fi
n=$(head -c "${CONTENT_LENGTH:-0}" | wc -c)
body=$(printf '{"predictions": [0.5], "model": "mlopstui-stand-in", "input_bytes": %d}' "$n")
printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "${#body}" "$body"
EOF
    echo "mlopstui stand-in model server: GET /ping, POST /invocations" >"$ctx/www/index.html"
    chmod 755 "$ctx/serve" "$ctx/route" "$ctx/www/cgi-bin/ping" "$ctx/www/cgi-bin/invocations"
}

context_hash() { # $1: directory
    (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
}

build_base_image() {
    local rootfs="$D/build/rootfs" busybox applet
    busybox="$(readlink -f /bin/busybox)"
    [[ -x "$busybox" ]] || die "/bin/busybox missing (busybox-static)"
    if ldd "$busybox" >/dev/null 2>&1; then
        die "$busybox is dynamically linked; the rootfs needs busybox-static"
    fi
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{bin,etc,tmp,www,root,proc,sys,dev}
    chmod 1777 "$rootfs/tmp"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in $("$busybox" --list); do
        [[ "$applet" == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
        >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    tar -C "$rootfs" -c . | dk import -c 'CMD ["/bin/sh"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
}

ensure_image() {
    local ctx="$D/build/model-server" want have began
    write_context "$ctx"
    want="$(context_hash "$ctx")"
    have="$(dk image inspect -f "{{index .Config.Labels \"$BUILD_LABEL\"}}" "$IMAGE" 2>/dev/null || true)"
    if [[ "$have" == "$want" ]]; then
        return 0
    fi
    began=$EPOCHREALTIME
    if ! dk image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "importing $BASE_IMAGE from a busybox rootfs"
        build_base_image
    fi
    say "building $IMAGE"
    dk build -q --label "$BUILD_LABEL=$want" -t "$IMAGE" "$ctx" >/dev/null \
        || die "docker build of $IMAGE failed"
    # A rebuilt image leaves the previous one dangling in our private data root.
    dk image prune -f >/dev/null 2>&1 || true
    local took
    took="$(awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
    say "built $IMAGE in $took s"
}

write_env() {
    local tmp="$ENV_FILE.tmp.$$"
    printf 'DOCKER_HOST=%s\nMLOPSTUI_TEST_IMAGE=%s\n' "$HOST_URL" "$IMAGE" >"$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

up() {
    mkdir -p "$D"
    chmod 700 "$D"
    install_packages
    start_daemon
    ensure_image
    write_env
    say "up: DOCKER_HOST=$HOST_URL image $IMAGE"
}

down() {
    local purge=0 pid i
    [[ "${1:-}" != --purge ]] || purge=1
    rm -f "$ENV_FILE"
    pid="$(daemon_pid)"
    if [[ -n "$pid" ]]; then
        say "stopping dockerd (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            say "dockerd did not stop within 30 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # The containerd that dockerd supervises, if a killed dockerd orphaned it.
    local cpid
    cpid="$(cat "$EXEC/containerd/containerd.pid" 2>/dev/null || true)"
    if [[ "$cpid" =~ ^[0-9]+$ ]] && alive "$cpid" \
        && [[ "$(cat "/proc/$cpid/comm" 2>/dev/null)" == containerd ]]; then
        kill -TERM "$cpid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$SOCK"
    if [[ -z "$pid" ]] || ! alive "$pid"; then unmount_under "$EXEC"; fi
    if [[ $purge -eq 1 && -d "$D" ]]; then
        unmount_under "$D"
        rm -rf --one-file-system "$D"
        say "purged $D"
    fi
}

status() {
    local pid
    pid="$(daemon_pid)"
    if answering; then
        local image=missing
        dk image inspect "$IMAGE" >/dev/null 2>&1 && image=present
        echo "docker: up (pid ${pid:-?}, server $(dk version --format '{{.Server.Version}}')," \
            "$HOST_URL, image $IMAGE $image)"
    elif [[ -n "$pid" ]]; then
        echo "docker: starting or stuck (pid $pid not answering on $SOCK; log $LOG)"
    else
        echo "docker: down"
    fi
}

case "${1:-status}" in
    up) up ;;
    down) down "${2:-}" ;;
    status) status ;;
    *)
        echo "usage: bash scripts/services.d/docker.sh up|down [--purge]|status" >&2
        exit 2
        ;;
esac
