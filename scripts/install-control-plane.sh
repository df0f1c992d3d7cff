#!/usr/bin/env bash
# Builds the two processes of a Kubernetes control plane that the `kube` tests run (the way
# controller-runtime's envtest runs them: plain processes, no kubelet, no containers):
#   kube-apiserver  from the Go module k8s.io/kubernetes (KUBE_VERSION)
#   etcd            from the Go module go.etcd.io/etcd/server/v3 (ETCD_VERSION)
# Both come from the Go module proxy as source and are compiled here with the local Go; each
# binary lands in $CRYPTOPULSE_CACHE_DIR/control-plane/<name>-<version>/ (default cache
# ~/.cache/cryptopulse) with a stamp of what built it, so a second run does nothing.
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.35.x` is refused: that module's go.mod
# requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and replaces them
# with ./staging paths. So the build runs in a small wrapper module that requires
# k8s.io/kubernetes and replaces each staging module with its published v0.<minor>.<patch>
# (the list is read from k8s.io/kubernetes' own go.mod). The version is stamped through
# k8s.io/component-base/version's link flags, as hack/lib/version.sh does; without them the
# server reports v0.0.0 and Helm refuses a chart's kubeVersion. etcd's server module carries
# replace directives too (../api, ...), which a wrapper module ignores.
#
# A cold build (empty GOMODCACHE and GOCACHE) downloads about 1 GB of module source and takes
# tens of minutes on two cores: docs/kubernetes.md has the measured figures.
#
#   scripts/install-control-plane.sh            build what is missing, print the binaries' folder
#   scripts/install-control-plane.sh --bin-dir  print the folder only (build nothing)
#
# Needs: go (1.25 or newer, as k8s.io/kubernetes 1.35 requires; etcd 3.6.16 requires 1.26).
#
# A binary counts as built when its stamp matches and it runs and reports its version, so a
# damaged one is rebuilt. A run whose binaries are built takes no lock and writes nothing (a
# read-only cache works); an interrupted build leaves no partial output behind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The one place these versions are written: the newest 1.35 patch and 3.6 patch the Go module
# proxy served when they were chosen (`go list -m -versions`; etcd 3.6 is what Kubernetes 1.35
# is tested with, Debian's etcd-server 3.4 is too old for it).
KUBE_VERSION=v1.35.8
ETCD_VERSION=v3.6.16

CACHE_DIR="${CRYPTOPULSE_CACHE_DIR:-$HOME/.cache/cryptopulse}"
ROOT="$CACHE_DIR/control-plane"
KUBE_DIR="$ROOT/kube-apiserver-$KUBE_VERSION"
ETCD_DIR="$ROOT/etcd-$ETCD_VERSION"

if [ "${1:-}" = "--bin-dir" ]; then
    printf 'kube-apiserver=%s\netcd=%s\n' "$KUBE_DIR/kube-apiserver" "$ETCD_DIR/etcd"
    exit 0
fi

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install-control-plane: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null || die "go is not installed: the Go toolchain builds kube-apiserver and etcd"

# Never fetch another Go toolchain: build with the one installed (the machine's Go).
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

# What a binary was built from; a different recipe rebuilds it.
stamp_of() { printf '%s %s %s\n' "$1" "$2" "$(go env GOVERSION)"; }
KUBE_STAMP=$(stamp_of kube-apiserver "$KUBE_VERSION")
ETCD_STAMP=$(stamp_of etcd "$ETCD_VERSION")
# The first line each binary's --version prints when it is the version asked for.
KUBE_VERSION_LINE="Kubernetes $KUBE_VERSION"
ETCD_VERSION_LINE="etcd Version: ${ETCD_VERSION#v}"
is_built() {  # binary stamp version-line: stamped, and runs and says so (a damaged file does not)
    [ -x "$1" ] && [ "$(cat "$(dirname "$1")/.stamp" 2>/dev/null || true)" = "$2" ] \
        && [ "$("$1" --version 2>/dev/null | head -n 1 || true)" = "$3" ]
}
ready() {  # both built: print where they are
    is_built "$ETCD_DIR/etcd" "$ETCD_STAMP" "$ETCD_VERSION_LINE" \
        && is_built "$KUBE_DIR/kube-apiserver" "$KUBE_STAMP" "$KUBE_VERSION_LINE" \
        && printf 'kube-apiserver=%s\netcd=%s\n' "$KUBE_DIR/kube-apiserver" "$ETCD_DIR/etcd"
}
# Nothing to build: no lock, no write (another caller may be building; this one need not wait).
if ready; then exit 0; fi

# What a build leaves behind when interrupted: its wrapper module and its partial binary.
CLEANUP=()
cleanup() { if [ ${#CLEANUP[@]} -gt 0 ]; then rm -rf "${CLEANUP[@]}"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Builds package $3 at module version $4 into $1/$2, in a fresh wrapper module;
# $6... are `go mod edit` arguments applied before the module is required.
build_in_wrapper() {
    local out_dir=$1 name=$2 package=$3 version=$4 ldflags=$5
    shift 5
    local work status=0 partial="$out_dir/$name.partial.$$"
    work=$(mktemp -d)
    CLEANUP+=("$work" "$partial")
    (
        cd "$work"
        go mod init "cryptopulse.local/control-plane/$name" 2>/dev/null
        if [ $# -gt 0 ]; then go mod edit "$@"; fi
        go get "$package@$version"
        mkdir -p "$out_dir"
        # nice: a first build takes both cores for tens of minutes.
        nice -n 10 go build -trimpath -ldflags "-s -w $ldflags" -o "$partial" "$package"
        mv "$partial" "$out_dir/$name"
    ) || status=$?
    rm -rf "$work"
    return "$status"
}

build_kube_apiserver() {
    if is_built "$KUBE_DIR/kube-apiserver" "$KUBE_STAMP" "$KUBE_VERSION_LINE"; then return; fi
    say "building kube-apiserver $KUBE_VERSION from k8s.io/kubernetes (Go module proxy; a first build takes tens of minutes)"
    local gomod staging_version replaces=() module
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" \
        | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    [ -f "$gomod" ] || die "go mod download k8s.io/kubernetes@$KUBE_VERSION gave no go.mod"
    # v1.35.8 -> v0.35.8: the tag every staging module is published at for this release.
    staging_version="v0.${KUBE_VERSION#v1.}"
    while read -r module; do
        replaces+=("-replace=$module=$module@$staging_version")
    done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$gomod")
    [ ${#replaces[@]} -gt 0 ] || die "found no staging replace directives in $gomod"
    local major minor
    major=1
    minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
    local ldflags="" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    build_in_wrapper "$KUBE_DIR" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver \
        "$KUBE_VERSION" "$ldflags" "${replaces[@]}"
    echo "$KUBE_STAMP" > "$KUBE_DIR/.stamp"
}

build_etcd() {
    if is_built "$ETCD_DIR/etcd" "$ETCD_STAMP" "$ETCD_VERSION_LINE"; then return; fi
    say "building etcd $ETCD_VERSION from go.etcd.io/etcd/server/v3 (Go module proxy)"
    build_in_wrapper "$ETCD_DIR" etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" ""
    echo "$ETCD_STAMP" > "$ETCD_DIR/.stamp"
}

# One build at a time per cache (engineers and CI share ~/.cache/cryptopulse); a second
# caller waits, then finds the binaries stamped.
if ! { mkdir -p "$ROOT" && exec 9>"$ROOT/.lock"; } 2>/dev/null; then
    die "cannot write $ROOT, and the binaries there are missing or do not run: make it writable or point CRYPTOPULSE_CACHE_DIR elsewhere"
fi
flock 9
# Under the lock no other build runs: any partial binary is a killed build's.
rm -f "$ETCD_DIR"/etcd.partial.* "$KUBE_DIR"/kube-apiserver.partial.*
started=$SECONDS
build_etcd
build_kube_apiserver
for binary in "$ETCD_DIR/etcd" "$KUBE_DIR/kube-apiserver"; do
    line=$("$binary" --version 2>&1 | head -n 1 || true)
    case "$binary" in
        */etcd) expected=$ETCD_VERSION_LINE ;;
        *) expected=$KUBE_VERSION_LINE ;;
    esac
    [ "$line" = "$expected" ] || die "$binary reports '$line', not '$expected'"
done
say "control plane ready in $((SECONDS - started)) s: $KUBE_VERSION_LINE, $ETCD_VERSION_LINE"
ready
