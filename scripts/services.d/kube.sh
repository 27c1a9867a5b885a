#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the integration tests: etcd, kube-apiserver
# and kube-controller-manager (no scheduler, no kubelet: tests/cluster_helpers.py stands in).
#   bash scripts/services.d/kube.sh up|down|status      (normally via `bash scripts/services`)
# No Kubernetes server binary is packaged for Debian, so `up` builds kube-apiserver and
# kube-controller-manager from Debian's `kubernetes` source package with Debian's Go, offline,
# once per source version, into $MLOPSTUI_BUILD_CACHE/kubernetes/<version>/ (see FACTS.md).
# Runtime state (etcd data, certificates, tokens, kubeconfigs, logs, pidfiles) lives in
# $MLOPSTUI_SERVICES_DIR/kube/; `up` publishes $MLOPSTUI_SERVICES_DIR/kube.env:
#   KUBECONFIG_ADMIN     kubeconfig of a cluster admin (static token, group system:masters)
#   KUBECONFIG_READONLY  kubeconfig of user `readonly`, bound to the built-in `view` role
#   KUBE_API_URL         https://127.0.0.1:<port> (TLS by the CA in $STATE/kube/pki/ca.crt)
# Every etcd start is a fresh, empty cluster: nothing leaks from one `up` to the next.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO="$PWD"

: "${MLOPSTUI_SERVICES_DIR:=${XDG_RUNTIME_DIR:-/tmp}/mlopstui-services-$(id -u)}"
: "${MLOPSTUI_BUILD_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/mlopstui/build}"
DIR="$MLOPSTUI_SERVICES_DIR/kube"
ENV_FILE="$MLOPSTUI_SERVICES_DIR/kube.env"
CACHE="$MLOPSTUI_BUILD_CACHE/kubernetes"
DEB_SOURCES=/etc/apt/sources.list.d/debian.sources
RUN_PACKAGES=(etcd-server openssl curl)
# golang-github-modern-go-reflect2-dev: see fix_vendor_for_new_go.
BUILD_PACKAGES=(golang-go make rsync xz-utils golang-github-modern-go-reflect2-dev)
# Bump when the build below changes, so binaries built the old way are rebuilt.
RECIPE=3
SERVICE_CIDR=10.96.0.0/16
READY_TIMEOUT=90

log() { echo "kube: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

python_bin() {
    if [[ -x "$REPO/.venv/bin/python" ]]; then echo "$REPO/.venv/bin/python"
    elif [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3
    else die "no python for picking free ports (.venv/bin/python or /usr/bin/python3)"; fi
}

free_ports() {  # free_ports N: N distinct TCP ports free on 127.0.0.1 right now
    "$(python_bin)" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# --- packages and the build --------------------------------------------------------------------

apt_install() {  # apt_install PKG...: install what is missing; `apt-get update` only on need
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2; then
        log "install failed; refreshing package lists and retrying"
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >&2
    fi
}

enable_deb_src() {  # Types: deb -> Types: deb deb-src (no mirror named), then refresh lists
    if [[ -f "$DEB_SOURCES" ]] && grep -qE '^Types:.*\bdeb\b' "$DEB_SOURCES" \
        && ! grep -qE '^Types:.*deb-src' "$DEB_SOURCES"; then
        log "enabling source packages in $DEB_SOURCES"
        sed -i -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$DEB_SOURCES"
    elif [[ ! -f "$DEB_SOURCES" ]] && ! grep -rqs '^deb-src' /etc/apt/sources.list \
        /etc/apt/sources.list.d/; then
        die "no $DEB_SOURCES to enable deb-src in; add deb-src lines for your mirror"
    fi
    apt-get update -q >&2
}

source_version() {  # the candidate version of the kubernetes source package ("" if unknown)
    { apt-cache showsrc kubernetes 2>/dev/null || true; } \
        | awk '/^Version:/ {print $2}' | sort -V | tail -n1
}

build_ok() {  # build_ok DIR: DIR holds both binaries, built by the current recipe
    [[ -x "$1/kube-apiserver" && -x "$1/kube-controller-manager" ]] \
        && grep -qx "recipe=$RECIPE" "$1/BUILD-INFO" 2>/dev/null
}

cached_build() {  # a cached build dir holding both binaries ("" if none)
    local d best=""
    for d in "$CACHE"/*/; do
        if build_ok "$d"; then
            best="${d%/}"
        fi
    done
    echo "$best"
}

fix_vendor_for_new_go() {  # fix_vendor_for_new_go SRC
    # Kubernetes 1.20 vendors modern-go/reflect2 1.0.1, which compiles with Go >= 1.18 but
    # panics (nil pointer in reflect2.Type2) as soon as json-iterator decodes a map: every
    # write through the API would fail. 1.0.2 is the fix; Debian packages it.
    local vendored="$1/vendor/github.com/modern-go/reflect2"
    local debian=/usr/share/gocode/src/github.com/modern-go/reflect2
    if [[ -d "$vendored" && ! -f "$vendored/go_above_118.go" ]]; then
        [[ -f "$debian/go_above_118.go" ]] || die "no reflect2 >= 1.0.2 in $debian"
        log "replacing vendored modern-go/reflect2 1.0.1 with Debian's $(dpkg-query -W \
            -f='${Version}' golang-github-modern-go-reflect2-dev) (Go >= 1.18 support)"
        rm -rf "$vendored"
        mkdir -p "$vendored"
        cp "$debian"/*.go "$vendored/"
        rm -f "$vendored"/*_test.go
    fi
}

build_kubernetes() {  # build_kubernetes VERSION OUTDIR
    local version="$1" out="$2" work="$2.work" began=$SECONDS
    local upstream="${version#*:}"
    upstream="${upstream%-*}"
    upstream="${upstream##*really}"                 # 1.20.5+really1.20.2 -> 1.20.2
    upstream="${upstream%%[~+]*}"
    local major="${upstream%%.*}" minor="${upstream#*.}"
    minor="${minor%%.*}"
    log "building kube-apiserver and kube-controller-manager v$upstream from source $version" \
        "(a few minutes, once; work dir $work)"
    rm -rf "$work"
    mkdir -p "$work/download" "$work/gopath/src/k8s.io" "$work/gocache" "$work/tmp"
    chmod 777 "$work/download"  # apt-get source downloads as _apt
    (cd "$work/download" && apt-get source --download-only -q "kubernetes=$version" >&2)
    local orig
    orig="$(find "$work/download" -maxdepth 1 -name 'kubernetes_*.orig.tar.*' | head -n1)"
    [[ -n "$orig" ]] || die "no orig tarball in $work/download"
    mkdir -p "$work/extract"
    tar -xf "$orig" -C "$work/extract"
    local top
    top="$(find "$work/extract" -mindepth 1 -maxdepth 1 -type d | head -n1)"
    [[ -f "$top/cmd/kube-apiserver/apiserver.go" ]] || die "unexpected tarball layout: $top"
    mv "$top" "$work/gopath/src/k8s.io/kubernetes"
    rm -rf "$work/extract" "$work/download"
    local src="$work/gopath/src/k8s.io/kubernetes"
    fix_vendor_for_new_go "$src"
    # As hack/lib/version.sh does: --version reads component-base, /version reads client-go.
    local pkg ldflags="-s -w" built
    built="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    for pkg in k8s.io/kubernetes/vendor/k8s.io/{component-base/version,client-go/pkg/version}; do
        ldflags+=" -X $pkg.gitVersion=v$upstream -X $pkg.gitMajor=$major"
        ldflags+=" -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$built"
    done
    (
        cd "$src"
        export GOPATH="$work/gopath" GOCACHE="$work/gocache" TMPDIR="$work/tmp"
        export GO111MODULE=off GOPROXY=off GOFLAGS='' CGO_ENABLED=0 GOTOOLCHAIN=local
        export KUBE_GIT_VERSION="v$upstream"
        log "make gen_openapi"
        make gen_openapi >&2
        for cmd in kube-apiserver kube-controller-manager; do
            log "go build ./cmd/$cmd"
            go build -trimpath -ldflags "$ldflags" -o "$work/bin/$cmd" "./cmd/$cmd" >&2
        done
    )
    mkdir -p "$out"
    mv "$work/bin/kube-apiserver" "$work/bin/kube-controller-manager" "$out/"
    printf 'source=kubernetes %s\nversion=v%s\ngo=%s\nbuilt=%s\nseconds=%s\nrecipe=%s\n' \
        "$version" "$upstream" "$(go version)" "$(date -u +%FT%TZ)" "$((SECONDS - began))" \
        "$RECIPE" >"$out/BUILD-INFO"
    rm -rf "$work"
    log "built in $((SECONDS - began)) s -> $out"
}

ensure_binaries() {  # sets BIN_DIR to a dir with kube-apiserver and kube-controller-manager
    apt_install "${RUN_PACKAGES[@]}"
    local version cached
    version="$(source_version)"
    cached="$(cached_build)"
    if [[ -z "$version" && -n "$cached" ]]; then
        BIN_DIR="$cached"   # no deb-src lists here, but a build is cached: use it
        return
    fi
    if [[ -z "$version" ]]; then
        enable_deb_src
        version="$(source_version)"
        [[ -n "$version" ]] || die "apt knows no source package 'kubernetes'"
    fi
    BIN_DIR="$CACHE/$version"
    build_ok "$BIN_DIR" && return
    mkdir -p "$CACHE"
    exec 8>"$CACHE/.build.lock"
    flock 8  # two `up`s at once: the second waits for the first build
    if ! build_ok "$BIN_DIR"; then
        apt_install "${BUILD_PACKAGES[@]}"
        rm -rf "$BIN_DIR"
        build_kubernetes "$version" "$BIN_DIR"
    fi
    exec 8>&-
}

# --- processes ---------------------------------------------------------------------------------

pid_alive() {  # pid_alive NAME: the pidfile's process is alive and is still that program
    local pid
    pid="$(cat "$DIR/$1.pid" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    local argv0
    argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)"
    [[ "${argv0##*/}" == "$1" ]]
}

proc_gone() {  # proc_gone PID: exited (a zombie whose parent has not reaped it counts)
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 0
    [[ -z "$state" || "$state" == Z || "$state" == X ]]
}

spawn() {  # spawn NAME CMD...: detached (own session, immune to hangup), log + pidfile
    local name="$1"
    shift
    echo "=== start $(date -u +%FT%TZ): $*" >>"$DIR/$name.log"
    # 8>&- 9>&-: the daemons must not inherit (and so hold forever) this script's flocks.
    setsid nohup "$@" >>"$DIR/$name.log" 2>&1 </dev/null 8>&- 9>&- &
    echo $! >"$DIR/$name.pid"
}

stop_one() {  # stop_one NAME: SIGTERM, then SIGKILL after 10 s
    local name="$1" pid i
    if pid_alive "$name"; then
        pid="$(cat "$DIR/$name.pid")"
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            proc_gone "$pid" && break
            sleep 0.1
        done
        proc_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid"
}

stop_all() {
    stop_one kube-controller-manager
    stop_one kube-apiserver
    stop_one etcd
}

api() {  # api PATH [curl args...]: admin call to the apiserver, body on stdout
    local path="$1"
    shift
    curl -sS --max-time 5 --cacert "$DIR/pki/ca.crt" \
        -H "Authorization: Bearer $(cat "$DIR/admin.token")" "$@" "$(cat "$DIR/api.url")$path"
}

is_ready() {
    [[ -f "$DIR/api.url" && -f "$DIR/admin.token" ]] || return 1
    [[ "$(api /readyz 2>/dev/null)" == ok ]]
}

all_running() {
    pid_alive etcd && pid_alive kube-apiserver && pid_alive kube-controller-manager && is_ready
}

wait_for() {  # wait_for WHAT PROCESS CMD...: poll CMD until it succeeds or the process dies
    local what="$1" proc="$2" deadline=$((SECONDS + READY_TIMEOUT))
    shift 2
    until "$@"; do
        if ! pid_alive "$proc"; then
            log "$proc exited while waiting for $what; $DIR/$proc.log ends with:"
            tail -n 30 "$DIR/$proc.log" >&2
            return 1
        fi
        if ((SECONDS > deadline)); then
            log "timed out after $READY_TIMEOUT s waiting for $what; $DIR/$proc.log ends with:"
            tail -n 30 "$DIR/$proc.log" >&2
            return 1
        fi
        sleep 0.2
    done
}

etcd_healthy() {
    curl -sf --max-time 2 "$(cat "$DIR/etcd.url")/health" | grep -q '"health":"true"'
}
default_sa_exists() {
    api /api/v1/namespaces/default/serviceaccounts/default -f -o /dev/null 2>/dev/null
}

ensure_credentials() {  # CA + serving cert, service-account keys, static tokens (kept across ups)
    local pki="$DIR/pki"
    mkdir -p "$pki"
    if [[ ! -f "$pki/apiserver.crt" ]]; then
        log "generating CA, serving certificate and service-account keys"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mlopstui-test-ca" \
            -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
            -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
        local san="IP:127.0.0.1,DNS:localhost,IP:${SERVICE_CIDR%.0/*}.1,DNS:kubernetes"
        san+=",DNS:kubernetes.default,DNS:kubernetes.default.svc"
        printf '%s\n' "subjectAltName=$san" "extendedKeyUsage=serverAuth" >"$pki/apiserver.ext"
        openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
            -CAcreateserial -days 3650 -extfile "$pki/apiserver.ext" \
            -out "$pki/apiserver.crt" 2>/dev/null
        openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
        openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    fi
    if [[ ! -f "$DIR/tokens.csv" ]]; then
        openssl rand -hex 24 >"$DIR/admin.token"
        openssl rand -hex 24 >"$DIR/readonly.token"
        printf '%s,admin,uid-admin,"system:masters"\n%s,readonly,uid-readonly\n' \
            "$(cat "$DIR/admin.token")" "$(cat "$DIR/readonly.token")" >"$DIR/tokens.csv"
    fi
    chmod 600 "$DIR"/*.token "$DIR/tokens.csv" "$pki"/*.key
}

write_kubeconfig() {  # write_kubeconfig USER TOKENFILE OUT
    local ca
    ca="$(base64 -w0 <"$DIR/pki/ca.crt")"
    cat >"$3" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mlopstui-test
  cluster:
    server: $(cat "$DIR/api.url")
    certificate-authority-data: $ca
users:
- name: $1
  user:
    token: $(cat "$2")
contexts:
- name: $1@mlopstui-test
  context:
    cluster: mlopstui-test
    user: $1
    namespace: default
current-context: $1@mlopstui-test
EOF
    chmod 600 "$3"
}

start_etcd() {
    local ports client peer
    ports="$(free_ports 2)"
    read -r client peer <<<"$ports"
    rm -rf "$DIR/etcd-data"  # always a fresh cluster
    echo "http://127.0.0.1:$client" >"$DIR/etcd.url"
    spawn etcd etcd --name mlopstui --data-dir "$DIR/etcd-data" \
        --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "mlopstui=http://127.0.0.1:$peer" \
        --initial-cluster-state new --unsafe-no-fsync --log-level warn
    wait_for "etcd /health" etcd etcd_healthy
}

start_apiserver() {
    local port pki="$DIR/pki"
    port="$(free_ports 1)"
    echo "https://127.0.0.1:$port" >"$DIR/api.url"
    spawn kube-apiserver "$BIN_DIR/kube-apiserver" \
        --etcd-servers "$(cat "$DIR/etcd.url")" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
        --secure-port "$port" --insecure-port 0 \
        --cert-dir "$pki" --tls-cert-file "$pki/apiserver.crt" \
        --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
        --token-auth-file "$DIR/tokens.csv" \
        --authorization-mode RBAC \
        --service-account-key-file "$pki/sa.pub" \
        --service-account-signing-key-file "$pki/sa.key" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --api-audiences https://kubernetes.default.svc.cluster.local \
        --service-cluster-ip-range "$SERVICE_CIDR" \
        --endpoint-reconciler-type none \
        --profiling=false
    wait_for "kube-apiserver /readyz" kube-apiserver is_ready
}

start_controller_manager() {
    # No kubelet ever heartbeats, so the node lifecycle controller would turn every stand-in
    # node Unknown (and its pods NotReady) after 40 s: give nodes a very long grace period.
    # The serviceaccount-token controller stays on (unlike FACTS.md's '*,-serviceaccount-token'):
    # in 1.20 the ServiceAccount admission plugin refuses every pod ("No API token found for
    # service account") until the namespace's token Secret exists, so without it no Deployment
    # ever gets a pod.
    spawn kube-controller-manager "$BIN_DIR/kube-controller-manager" \
        --kubeconfig "$DIR/admin.kubeconfig" \
        --leader-elect=false \
        --controllers '*' \
        --bind-address 127.0.0.1 --port 0 --secure-port 0 \
        --service-account-private-key-file "$DIR/pki/sa.key" \
        --root-ca-file "$DIR/pki/ca.crt" \
        --node-monitor-grace-period 8760h --node-startup-grace-period 8760h \
        --profiling=false
    # The serviceaccount controller creating default/default means controllers are running.
    wait_for "kube-controller-manager (default service account)" kube-controller-manager \
        default_sa_exists
}

create_readonly_rbac() {
    local body
    body='{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",'
    body+='"metadata":{"name":"mlopstui-readonly-view"},'
    body+='"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},'
    body+='"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"readonly"}]}'
    local code
    code="$(api /apis/rbac.authorization.k8s.io/v1/clusterrolebindings -o /dev/null \
        -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data "$body")"
    [[ "$code" == 201 || "$code" == 409 ]] && return 0
    log "creating the readonly binding: HTTP $code"
    return 1
}

write_env() {
    cat >"$ENV_FILE" <<EOF
KUBECONFIG_ADMIN=$DIR/admin.kubeconfig
KUBECONFIG_READONLY=$DIR/readonly.kubeconfig
KUBE_API_URL=$(cat "$DIR/api.url")
EOF
}

start_all() {
    local attempt
    for attempt in 1 2 3; do  # a port probed free can be taken before the bind: retry
        if start_etcd && start_apiserver; then
            break
        fi
        stop_all
        if ((attempt == 3)) || ! grep -qi 'address already in use' "$DIR"/*.log; then
            return 1
        fi
        log "port taken, retrying"
        : >"$DIR/etcd.log"
        : >"$DIR/kube-apiserver.log"
    done
    write_kubeconfig admin "$DIR/admin.token" "$DIR/admin.kubeconfig" || return 1
    write_kubeconfig readonly "$DIR/readonly.token" "$DIR/readonly.kubeconfig" || return 1
    start_controller_manager || return 1
    create_readonly_rbac || return 1
}

# --- commands ----------------------------------------------------------------------------------

cmd_up() {
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    exec 9>"$DIR/.lock"
    flock 9
    if all_running; then
        write_env
        log "already running at $(cat "$DIR/api.url")"
        return 0
    fi
    ensure_binaries
    stop_all  # whatever is left of an earlier, partial start
    ensure_credentials
    local began=$SECONDS
    if ! start_all; then
        stop_all
        rm -f "$ENV_FILE"
        die "control plane failed to start (logs in $DIR)"
    fi
    write_env
    log "up at $(cat "$DIR/api.url") in $((SECONDS - began)) s ($("$BIN_DIR/kube-apiserver" \
        --version 2>/dev/null), binaries $BIN_DIR)"
}

cmd_down() {
    [[ -d "$DIR" ]] || { rm -f "$ENV_FILE"; return 0; }
    exec 9>"$DIR/.lock"
    flock 9
    stop_all
    rm -rf "$DIR/etcd-data"
    rm -f "$ENV_FILE"
    log "stopped"
}

cmd_status() {
    if all_running; then
        echo "kube: running at $(cat "$DIR/api.url") (etcd $(cat "$DIR/etcd.pid"), apiserver" \
            "$(cat "$DIR/kube-apiserver.pid"), controller-manager" \
            "$(cat "$DIR/kube-controller-manager.pid"))"
    else
        local p up=()
        for p in etcd kube-apiserver kube-controller-manager; do
            pid_alive "$p" && up+=("$p")
        done
        echo "kube: not running${up:+ (alive: ${up[*]})}"
        return 1
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
