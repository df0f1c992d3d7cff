#!/usr/bin/env bash
# What a charts/cryptopulse/ci/<scenario>-values.yaml install needs in the kind workflow besides
# the operators (k8s/install-prerequisites.sh), and the values files it is installed with:
#
#   k8s/ci/setup-scenario.sh SCENARIO NAMESPACE   set the cluster up for SCENARIO
#   k8s/ci/setup-scenario.sh --values SCENARIO    print its --values arguments, one per line
#
# existing-kafka: an existing Strimzi cluster in namespace kafka (k8s/ci/shared-kafka.yaml).
# full: the Secret the scenario names in secrets.existingSecret.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

die() { echo "setup-scenario: $*" >&2; exit 64; }

if [ "${1:-}" = "--values" ]; then
    scenario=${2:?scenario}
    [ -f "charts/cryptopulse/ci/$scenario-values.yaml" ] || die "no charts/cryptopulse/ci/$scenario-values.yaml"
    printf '%s\n' "charts/cryptopulse/ci/$scenario-values.yaml" k8s/kind-values.yaml
    if [ -f "k8s/ci/$scenario-kind-values.yaml" ]; then
        printf '%s\n' "k8s/ci/$scenario-kind-values.yaml"
    fi
    exit 0
fi

scenario=${1:?scenario}
namespace=${2:?namespace}
case "$scenario" in
    existing-kafka)
        kubectl create namespace kafka --dry-run=client -o yaml | kubectl apply -f -
        kubectl label namespace kafka --overwrite pod-security.kubernetes.io/enforce=restricted
        kubectl apply -f k8s/ci/shared-kafka.yaml
        kubectl --namespace kafka wait kafka/shared-kafka --for condition=Ready --timeout 15m
        ;;
    full)
        kubectl --namespace "$namespace" create secret generic cryptopulse-credentials \
            --from-literal=ingest-token="$(head -c 30 /dev/urandom | base64 | tr -d '/+=')" \
            --dry-run=client -o yaml | kubectl apply -f -
        ;;
    minimal|strimzi-auth) ;;
    *) die "unknown scenario $scenario (charts/cryptopulse/ci/<scenario>-values.yaml)" ;;
esac
echo "setup-scenario: $scenario ready in $namespace"
