#!/usr/bin/env bash
# Install what the cryptopulse chart needs in a cluster, in order, waiting for each:
#   1. the Strimzi 1.2.0 cluster operator (Kafka, KafkaNodePool, KafkaTopic, KafkaUser), watching
#      the application namespace, with its restricted Pod Security Provider (every Strimzi pod
#      it runs meets the namespace's "restricted" Pod Security Standard);
#   2. the Kubeflow Spark operator 2.5.2 (SparkApplication) with that namespace as its job
#      namespace and its mutating webhook on (it applies the driver/executor security contexts,
#      volumes and env of the SparkApplication);
#   3. optionally kube-prometheus-stack (ServiceMonitor/PodMonitor/PrometheusRule CRDs,
#      Prometheus selecting them in every namespace, Grafana with the dashboard sidecar).
# The application namespace is created with the "restricted" Pod Security Standard enforced.
#
#   k8s/install-prerequisites.sh [--namespace cryptopulse] [--also-watch NS]... [--with-monitoring]
#
# --also-watch NS: Strimzi also manages Kafka clusters in NS (an "existing" cluster elsewhere).
#
# Needs helm 3 and kubectl pointing at the cluster (kubectl config current-context).
set -euo pipefail

NAMESPACE=cryptopulse
WITH_MONITORING=false
ALSO_WATCH=""
STRIMZI_VERSION=1.2.0
SPARK_OPERATOR_VERSION=2.5.2
KUBE_PROMETHEUS_STACK_VERSION="${KUBE_PROMETHEUS_STACK_VERSION:-79.5.0}"
TIMEOUT="${PREREQUISITES_TIMEOUT:-10m}"

while [ $# -gt 0 ]; do
    case "$1" in
        --namespace) NAMESPACE=$2; shift 2 ;;
        --with-monitoring) WITH_MONITORING=true; shift ;;
        --also-watch) ALSO_WATCH="$ALSO_WATCH,$2"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "install-prerequisites: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

say() { printf '\n==> %s\n' "$*"; }
for tool in helm kubectl; do
    command -v "$tool" >/dev/null || { echo "install-prerequisites: $tool is not on PATH" >&2; exit 1; }
done
say "cluster: $(kubectl config current-context)"

say "namespace $NAMESPACE (pod security: restricted)"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace "$NAMESPACE" --overwrite \
    pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest \
    pod-security.kubernetes.io/warn=restricted

# The Strimzi chart binds its roles in every watched namespace: they must exist first.
for extra in ${ALSO_WATCH//,/ }; do
    kubectl create namespace "$extra" --dry-run=client -o yaml | kubectl apply -f -
done

# STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted (the keyword for RestrictedPodSecurityProvider,
# Strimzi's ClusterOperatorConfig; default baseline): restricted container contexts for every
# operand, and the provider's pod context, fsGroup 0 on persistent storage, which the chart leaves
# to it (charts/cryptopulse/templates/_helpers.tpl, cryptopulse.kafka.containerSecurityContext).
say "Strimzi $STRIMZI_VERSION (namespace strimzi, watching $NAMESPACE, restricted pod security provider)"
helm upgrade --install strimzi oci://quay.io/strimzi-helm/strimzi-kafka-operator \
    --version "$STRIMZI_VERSION" --namespace strimzi --create-namespace \
    --set "watchNamespaces={$NAMESPACE$ALSO_WATCH}" \
    --set "extraEnvs[0].name=STRIMZI_POD_SECURITY_PROVIDER_CLASS" \
    --set "extraEnvs[0].value=restricted" \
    --wait --timeout "$TIMEOUT"
kubectl --namespace strimzi rollout status deployment/strimzi-cluster-operator --timeout "$TIMEOUT"
for crd in kafkas kafkanodepools kafkatopics kafkausers; do
    kubectl wait --for condition=established --timeout 120s "crd/$crd.kafka.strimzi.io"
done

say "Spark operator $SPARK_OPERATOR_VERSION (namespace spark-operator, job namespace $NAMESPACE)"
helm repo add spark-operator https://kubeflow.github.io/spark-operator --force-update >/dev/null
helm upgrade --install spark-operator spark-operator/spark-operator \
    --version "$SPARK_OPERATOR_VERSION" --namespace spark-operator --create-namespace \
    --set "spark.jobNamespaces={$NAMESPACE}" \
    --set webhook.enable=true \
    --wait --timeout "$TIMEOUT"
kubectl --namespace spark-operator rollout status deployment/spark-operator-controller --timeout "$TIMEOUT"
kubectl --namespace spark-operator rollout status deployment/spark-operator-webhook --timeout "$TIMEOUT"
kubectl wait --for condition=established --timeout 120s crd/sparkapplications.sparkoperator.k8s.io

if [ "$WITH_MONITORING" = true ]; then
    say "kube-prometheus-stack $KUBE_PROMETHEUS_STACK_VERSION (namespace monitoring)"
    helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
    helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
        --version "$KUBE_PROMETHEUS_STACK_VERSION" --namespace monitoring --create-namespace \
        --set grafana.sidecar.dashboards.enabled=true \
        --set grafana.sidecar.dashboards.searchNamespace=ALL \
        --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
        --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
        --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
        --wait --timeout "$TIMEOUT"
    kubectl wait --for condition=established --timeout 120s crd/servicemonitors.monitoring.coreos.com
fi

say "prerequisites ready: helm upgrade --install cryptopulse charts/cryptopulse --namespace $NAMESPACE"
