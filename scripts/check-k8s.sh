#!/usr/bin/env bash
# Every Kubernetes delivery check that needs no cluster, with real tools, under Helm 4 (current)
# and Helm 3 (still widely installed; its security support has ended):
#   helm lint --strict (defaults and every ci/*-values.yaml), helm-unittest suites,
#   pytest tests/k8s (helm template of every scenario; each object validated strictly against
#   the Kubernetes 1.35 schemas or the CRDs in ../shared/crds; the restricted Pod Security
#   Standard on every pod spec; skaffold.yaml against its v4beta14 schema; names shared with
#   the Python services), hadolint on every Dockerfile, actionlint on the workflows, and
#   the ShellCheck linter on the shell scripts.
# It installs its tools first, idempotently, into $CRYPTOPULSE_TOOLS_DIR
# (default ~/.cache/cryptopulse/tools), from registries only: helm 3 and 4, helm-unittest and
# actionlint from the Go module proxy (built with the local Go), the rest from PyPI into a
# virtualenv of their own (pins: tests/k8s/requirements-tools.txt).
#
#   scripts/check-k8s.sh             install what is missing, run every check
#   scripts/check-k8s.sh --install   install the tools only
#
# Needs: go, the project's .venv (make setup-dev), ../shared/crds (or CRYPTOPULSE_CRDS_DIR, or
# shared/crds beside the local repository this clone came from).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HELM_VERSION=v3.22.0
# The Kubernetes minor helm 3.22's client-go (v0.37) targets: helm's default capabilities.
HELM_KUBE_MINOR=37
# Helm 4 (helm.sh/helm/v4; the newest tag on the Go module proxy). It reads its default
# Kubernetes version from its client-go's module version at run time: no ldflags for that.
HELM4_VERSION=v4.3.2
HELM_UNITTEST_VERSION=v1.1.2
ACTIONLINT_VERSION=v1.7.12
# The Kubernetes version objects are validated against (tests/k8s/render.py says the same).
KUBE_VERSION=1.35.0

TOOLS_DIR="${CRYPTOPULSE_TOOLS_DIR:-$HOME/.cache/cryptopulse/tools}"
# The CRDs: $CRYPTOPULSE_CRDS_DIR, else shared/crds beside this repository, else beside the
# local repository this one was cloned from (a throwaway clone in /tmp of /work/main).
crds_beside_origin() {
  local origin
  origin="$(git remote get-url origin 2>/dev/null || true)"
  if [ -n "$origin" ] && [ -d "$origin/../shared/crds" ]; then
    (cd "$origin/../shared/crds" && pwd)
  fi
}
CRDS_DIR="${CRYPTOPULSE_CRDS_DIR:-$(cd .. && pwd)/shared/crds}"
if [ -z "${CRYPTOPULSE_CRDS_DIR:-}" ] && [ ! -d "$CRDS_DIR" ]; then
  CRDS_DIR="$(crds_beside_origin)"
  CRDS_DIR="${CRDS_DIR:-$(cd .. && pwd)/shared/crds}"
fi
PYTHON="${CRYPTOPULSE_PYTHON:-.venv/bin/python}"
CHART=charts/cryptopulse
BIN="$TOOLS_DIR/bin"
VENV="$TOOLS_DIR/venv"
PLUGINS="$TOOLS_DIR/helm-plugins"
export CRYPTOPULSE_TOOLS_DIR="$TOOLS_DIR" CRYPTOPULSE_CRDS_DIR="$CRDS_DIR"
export HELM_PLUGINS="$PLUGINS" HELM_CACHE_HOME="$TOOLS_DIR/helm-home/cache" \
    HELM_CONFIG_HOME="$TOOLS_DIR/helm-home/config" HELM_DATA_HOME="$TOOLS_DIR/helm-home/data"
export PATH="$BIN:$VENV/bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'check-k8s: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not installed: the Go toolchain builds helm, helm-unittest and actionlint"
[ -x "$PYTHON" ] || die "no $PYTHON: run 'make setup-dev' (scripts/setup.sh dev) first"
[ -d "$CRDS_DIR" ] || die "no CRD folder at $CRDS_DIR: shared/crds must sit beside the repository, or set CRYPTOPULSE_CRDS_DIR"

# The recorded version of an installed tool, or nothing.
installed() { cat "$BIN/.$1.version" 2>/dev/null || true; }

install_go_tool() {  # name module version ldflags
    local name=$1 module=$2 version=$3 ldflags=$4
    if [ -x "$BIN/$name" ] && [ "$(installed "$name")" = "$version" ]; then return; fi
    say "installing $name $version (go install $module@$version)"
    mkdir -p "$BIN"
    GOBIN="$BIN" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "$ldflags" "$module@$version"
    echo "$version" > "$BIN/.$name.version"
}

install_helm_unittest() {
    local dir="$PLUGINS/unittest"
    if [ -x "$dir/untt" ] && [ "$(cat "$dir/.version" 2>/dev/null || true)" = "$HELM_UNITTEST_VERSION" ]; then return; fi
    say "installing helm-unittest $HELM_UNITTEST_VERSION (module source from the Go proxy, built here)"
    # `go install` refuses it (its go.mod has a replace directive), so build it as the main module.
    local src tmp
    src=$(go mod download -json "github.com/helm-unittest/helm-unittest@$HELM_UNITTEST_VERSION" \
        | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    tmp=$(mktemp -d)
    cp -R "$src/." "$tmp"
    chmod -R u+w "$tmp"
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$tmp" && GOFLAGS=-buildvcs=false go build -trimpath \
        -ldflags "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${KUBE_VERSION#1.}" \
        -o "$dir/untt" ./cmd/helm-unittest)
    rm -rf "$tmp"
    cat > "$dir/plugin.yaml" <<PLUGIN
name: "unittest"
version: "${HELM_UNITTEST_VERSION#v}"
usage: "unittest for helm charts"
description: "helm-unittest ${HELM_UNITTEST_VERSION}, built from its Go module by scripts/check-k8s.sh"
ignoreFlags: false
command: "\$HELM_PLUGIN_DIR/untt"
PLUGIN
    echo "$HELM_UNITTEST_VERSION" > "$dir/.version"
}

install_python_tools() {
    local stamp
    stamp="$(sha256sum tests/k8s/requirements-tools.txt | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version)' | head -1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.stamp" 2>/dev/null || true)" = "$stamp" ]; then return; fi
    say "installing the Python tools (tests/k8s/requirements-tools.txt) into $VENV"
    rm -rf "$VENV"
    # The project's interpreter: tests/k8s imports kubernetes_validate and jsonschema from here.
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: --no-deps \
        -r tests/k8s/requirements-tools.txt
    "$VENV/bin/pip" check --disable-pip-version-check
    echo "$stamp" > "$VENV/.stamp"
}

# Helm 4 in a folder of its own version (its binary is also called helm).
HELM4="$TOOLS_DIR/helm-$HELM4_VERSION/helm"
install_helm4() {
    if [ -x "$HELM4" ] && [ "$("$HELM4" version --template '{{.Version}}' 2>/dev/null)" = "$HELM4_VERSION" ]; then return; fi
    say "installing helm $HELM4_VERSION (go install helm.sh/helm/v4/cmd/helm@$HELM4_VERSION)"
    mkdir -p "$(dirname "$HELM4")"
    GOBIN="$(dirname "$HELM4")" GOFLAGS=-buildvcs=false go install -trimpath \
        -ldflags "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION" \
        "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION"
}

install_go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_KUBE_MINOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_KUBE_MINOR"
install_go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" \
    "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
install_helm4
install_helm_unittest
install_python_tools
[ "${1:-}" = "--install" ] && exit 0

failed=()
run() {  # name command...
    local name=$1 started=$SECONDS
    shift
    say "$name"
    if "$@"; then
        printf '    ok: %s (%d s)\n' "$name" $((SECONDS - started))
    else
        printf '    FAILED: %s (%d s)\n' "$name" $((SECONDS - started))
        failed+=("$name")
    fi
}

lint_chart() {  # helm binary
    local helm=$1 values
    "$helm" lint --strict --kube-version "$KUBE_VERSION" "$CHART"
    for values in "$CHART"/ci/*-values.yaml; do
        "$helm" lint --strict --kube-version "$KUBE_VERSION" "$CHART" --values "$values"
    done
}

dockerfiles() { find services -name Dockerfile -not -path '*/node_modules/*' | sort; }
shell_scripts() {
    { ls scripts/*.sh k8s/*.sh k8s/ci/*.sh; find services -path '*/node_modules' -prune -o -name '*.sh' -print; } | sort -u
}

# helm-unittest is a classic plugin (plugin.yaml + its own binary, which renders with the Helm 3
# engine it embeds), read from $HELM_PLUGINS by both CLIs: Helm 4 still loads such plugins and
# verifies signatures only on `helm plugin install`, which is not used here
# (helm-unittest/helm-unittest#777).
for helm_name in "helm4:$HELM4" "helm3:$BIN/helm"; do
    label=${helm_name%%:*}
    helm_bin=${helm_name#*:}
    run "$label: helm lint --strict" lint_chart "$helm_bin"
    run "$label: helm unittest" "$helm_bin" unittest --strict "$CHART"
    run "$label: pytest tests/k8s (render, schemas, pod security, skaffold, workflows)" \
        env CRYPTOPULSE_HELM="$helm_bin" "$PYTHON" -m pytest tests/k8s -q
done
# shellcheck disable=SC2046  # one argument per file name; names have no spaces
run "hadolint" hadolint --failure-threshold info $(dockerfiles)
run "actionlint" actionlint -no-color
# shellcheck disable=SC2046
run "shellcheck" shellcheck --severity=style $(shell_scripts)

if [ ${#failed[@]} -gt 0 ]; then
    printf '\ncheck-k8s: %d check(s) failed: %s\n' "${#failed[@]}" "${failed[*]}" >&2
    exit 1
fi
printf '\ncheck-k8s: every check passed\n'
