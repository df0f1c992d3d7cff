#!/usr/bin/env bash
# Print what a failed kind run needs for a diagnosis: every object of the namespace, the
# operators' state, events, and the logs of every container (current and previous).
#
#   scripts/k8s-dump.sh [NAMESPACE]
set -uo pipefail
NAMESPACE=${1:-cryptopulse}

section() { printf '\n======== %s\n' "$*"; }

section "nodes"
kubectl get nodes -o wide
section "objects in $NAMESPACE"
kubectl --namespace "$NAMESPACE" get all,pvc,networkpolicy,configmap,secret -o wide
kubectl --namespace "$NAMESPACE" get kafka,kafkanodepool,kafkatopic,kafkauser,sparkapplication -o wide
section "SparkApplication status"
kubectl --namespace "$NAMESPACE" describe sparkapplication
section "Kafka status"
kubectl --namespace "$NAMESPACE" describe kafka
section "events in $NAMESPACE"
kubectl --namespace "$NAMESPACE" get events --sort-by=.lastTimestamp
section "pods described"
kubectl --namespace "$NAMESPACE" describe pods
for pod in $(kubectl --namespace "$NAMESPACE" get pods -o name); do
    for container in $(kubectl --namespace "$NAMESPACE" get "$pod" -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}'); do
        section "logs $pod/$container"
        kubectl --namespace "$NAMESPACE" logs "$pod" --container "$container" --tail=400
        kubectl --namespace "$NAMESPACE" logs "$pod" --container "$container" --previous --tail=200 2>/dev/null
    done
done
for ns in strimzi spark-operator; do
    section "operator logs ($ns)"
    kubectl --namespace "$ns" get pods -o wide
    kubectl --namespace "$ns" logs --all-containers --prefix --tail=300 -l 'app.kubernetes.io/name' 2>/dev/null \
        || kubectl --namespace "$ns" logs --all-containers --prefix --tail=300 --selector name=strimzi-cluster-operator
done
exit 0
