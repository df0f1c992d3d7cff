{{/*
Names, labels and the values every component derives from the same settings. One helper per
thing, so a name is spelled once (house style: Bitnami / prometheus-community).
*/}}

{{- define "cryptopulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cryptopulse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>": call with (dict "root" $ "component" "api"). */}}
{{- define "cryptopulse.componentName" -}}
{{- printf "%s-%s" (include "cryptopulse.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cryptopulse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name, instance and component only (they never change after install). */}}
{{- define "cryptopulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cryptopulse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Every label: call with (dict "root" $ "component" "api"). */}}
{{- define "cryptopulse.labels" -}}
helm.sh/chart: {{ include "cryptopulse.chart" .root }}
{{ include "cryptopulse.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: cryptopulse
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels shared by every pod of this release (NetworkPolicy peers, Kafka listener peers). */}}
{{- define "cryptopulse.instanceLabels" -}}
app.kubernetes.io/name: {{ include "cryptopulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* "repository:tag@digest" of a component image: call with (dict "root" $ "image" .Values.api.image). */}}
{{- define "cryptopulse.image" -}}
{{- $registry := .root.Values.global.imageRegistry -}}
{{- $repository := .image.repository -}}
{{- if $registry }}{{ $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository }}{{ end -}}
{{- $tag := default .root.Chart.AppVersion .image.tag | toString -}}
{{- if .image.digest -}}
{{- printf "%s:%s@%s" $repository $tag .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end }}

{{- define "cryptopulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cryptopulse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cryptopulse.stream.serviceAccountName" -}}
{{- if .Values.stream.serviceAccount.create }}
{{- default (include "cryptopulse.componentName" (dict "root" . "component" "stream")) .Values.stream.serviceAccount.name }}
{{- else }}
{{- required "stream.serviceAccount.name is required when stream.serviceAccount.create is false (the Spark driver creates its executor pods with it)" .Values.stream.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- Secrets ---- */}}

{{- define "cryptopulse.secretName" -}}
{{- default (include "cryptopulse.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The /ingest token the chart's Secret holds: secrets.ingestToken, else the one already in the
release's Secret (`lookup`: kept across `helm upgrade`), else a new random one. Computed once
per render and remembered, so the Secret and the checksum/secret annotations hash the same
value. `helm template` (Argo CD, Flux's post-rendering, any GitOps tool) cannot look the
Secret up: there a generated token is new on every render, and the annotations change with it,
so the pods roll together with the new token instead of keeping a stale one. GitOps installs
should set secrets.existingSecret (or secrets.ingestToken) instead (docs/kubernetes.md).
*/}}
{{- define "cryptopulse.ingestToken" -}}
{{- $memo := .Values.secrets -}}
{{- if not (hasKey $memo "_effectiveIngestToken") -}}
{{- $token := .Values.secrets.ingestToken -}}
{{- if not $token -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "cryptopulse.fullname" .) -}}
{{- if and $existing (index ($existing.data | default dict) "ingest-token") -}}
{{- $token = index $existing.data "ingest-token" | b64dec -}}
{{- else -}}
{{- $token = randAlphaNum 40 -}}
{{- end -}}
{{- end -}}
{{- $_ := set $memo "_effectiveIngestToken" $token -}}
{{- end -}}
{{- index $memo "_effectiveIngestToken" -}}
{{- end }}

{{/*
What the pods' checksum/secret annotation hashes: the effective token and CoinGecko key of the
chart's Secret, or, with secrets.existingSecret, that Secret's name and (when the API server
can be asked: helm install/upgrade) its data; and the SCRAM password the chart writes for a
KafkaUser in another namespace. So a changed token or password rolls the pods.
*/}}
{{- define "cryptopulse.secretChecksum" -}}
{{- $hashed := dict -}}
{{- if .Values.secrets.existingSecret -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace .Values.secrets.existingSecret -}}
{{- $hashed = dict "existingSecret" .Values.secrets.existingSecret "data" (($existing | default dict).data | default dict) -}}
{{- else -}}
{{- $hashed = dict "ingest-token" (include "cryptopulse.ingestToken" .) "coingecko-api-key" .Values.secrets.coingeckoApiKey -}}
{{- end -}}
{{- /* The SCRAM password the chart writes (KafkaUser in another namespace): the clients read it at start. */ -}}
{{- if and .Values.kafka.user.create (include "cryptopulse.kafka.foreignNamespace" .) -}}
{{- $_ := set $hashed "kafka-password" (include "cryptopulse.kafka.userPassword" .) -}}
{{- end -}}
{{- $hashed | toJson | sha256sum -}}
{{- end }}

{{/* ------------------------------------------------------------------ Kafka ---- */}}

{{- define "cryptopulse.kafka.clusterName" -}}
{{- if .Values.kafka.create }}
{{- default (include "cryptopulse.fullname" .) .Values.kafka.cluster.name }}
{{- else }}
{{- .Values.kafka.existing.strimziClusterName }}
{{- end }}
{{- end }}

{{/*
The namespace the Strimzi cluster's Topic and User Operators watch, where KafkaTopic and
KafkaUser must be created: the release's for a cluster this chart creates; for an existing one
kafka.existing.namespace, else the namespace in a "<service>.<namespace>" or
"<service>.<namespace>.svc[...]" bootstrap address, else the release's. The entity operators watch only their own namespace unless the
Cluster Operator sets STRIMZI_ENTITY_OPERATOR_WATCHED_NAMESPACE_ENABLED (off by default since
Strimzi 1.0.1: strimzi/strimzi-kafka-operator CHANGELOG.md, "## 1.0.1", PR #12839).
*/}}
{{- define "cryptopulse.kafka.namespace" -}}
{{- if .Values.kafka.create -}}
{{- .Release.Namespace -}}
{{- else if .Values.kafka.existing.namespace -}}
{{- .Values.kafka.existing.namespace -}}
{{- else -}}
{{- $host := (splitList ":" (first (splitList "," .Values.kafka.existing.bootstrapServers))) | first | default "" -}}
{{- $labels := splitList "." $host -}}
{{- if or (eq (len $labels) 2) (and (ge (len $labels) 3) (eq (index $labels 2) "svc")) -}}
{{- index $labels 1 -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* True when KafkaTopic/KafkaUser live in another namespace than the release. */}}
{{- define "cryptopulse.kafka.foreignNamespace" -}}
{{- if ne (include "cryptopulse.kafka.namespace" .) .Release.Namespace }}true{{ end }}
{{- end }}

{{/* The listener clients use: 9092 plain, 9093 TLS (Strimzi's conventional ports). */}}
{{- define "cryptopulse.kafka.listenerPort" -}}
{{- if .Values.kafka.listener.tls }}9093{{ else }}9092{{ end }}
{{- end }}

{{- define "cryptopulse.kafka.bootstrapServers" -}}
{{- if .Values.kafka.create }}
{{- printf "%s-kafka-bootstrap.%s.svc:%s" (include "cryptopulse.kafka.clusterName" .) .Release.Namespace (include "cryptopulse.kafka.listenerPort" .) }}
{{- else }}
{{- required "kafka.existing.bootstrapServers is required when kafka.create is false (host:port of the existing cluster's bootstrap service)" .Values.kafka.existing.bootstrapServers }}
{{- end }}
{{- end }}

{{- define "cryptopulse.kafka.scram" -}}
{{- if eq .Values.kafka.listener.authentication "scram-sha-512" }}true{{ end }}
{{- end }}

{{/* PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, from the listener's TLS and authentication. */}}
{{- define "cryptopulse.kafka.securityProtocol" -}}
{{- $sasl := include "cryptopulse.kafka.scram" . -}}
{{- if and .Values.kafka.listener.tls $sasl }}SASL_SSL
{{- else if .Values.kafka.listener.tls }}SSL
{{- else if $sasl }}SASL_PLAINTEXT
{{- else }}PLAINTEXT
{{- end }}
{{- end }}

{{/*
The KafkaUser's name. Strimzi's User Operator writes the user's credentials to a Secret of that
very name (in the KafkaUser's namespace) and owns it: it replaces the Secret's data with its own
keys (password, sasl.jaas.config). So it must never be the name of the chart's own Secret
(default "<fullname>", holding ingest-token) nor of secrets.existingSecret: the default is
"<fullname>-kafka-user", and cryptopulse.kafka.checkUserName fails the render on a collision.
*/}}
{{- define "cryptopulse.kafka.userName" -}}
{{- if .Values.kafka.user.create }}
{{- default (include "cryptopulse.componentName" (dict "root" . "component" "kafka-user")) .Values.kafka.user.name }}
{{- else }}
{{- .Values.kafka.existing.username }}
{{- end }}
{{- end }}

{{- define "cryptopulse.kafka.checkUserName" -}}
{{- if .Values.kafka.user.create }}
{{- $user := include "cryptopulse.kafka.userName" . }}
{{- $ns := include "cryptopulse.kafka.namespace" . }}
{{- if and (eq $ns .Release.Namespace) (eq $user (include "cryptopulse.secretName" .)) }}
{{- fail (printf "kafka.user.name %q is also the name of the Secret holding ingest-token (%s): Strimzi's User Operator would take that Secret over and replace its data with the user's password. Choose another kafka.user.name (the default is \"%s\")." $user (ternary "secrets.existingSecret" "the chart's own Secret" (not (empty .Values.secrets.existingSecret))) (include "cryptopulse.componentName" (dict "root" . "component" "kafka-user"))) }}
{{- end }}
{{- if eq $user (include "cryptopulse.kafka.userPasswordSecret" .) }}
{{- fail (printf "kafka.user.name %q is also the name of the Secret the chart writes the user's password to; choose another kafka.user.name" $user) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A KafkaUser in another namespace than the release (an existing cluster's): the User Operator
writes its Secret there, out of the clients' reach (a Pod can only read Secrets of its own
namespace). The chart then sets the password itself (KafkaUser
spec.authentication.password.valueFrom.secretKeyRef, Strimzi's "custom password" for
scram-sha-512 users: 044-Crd-kafkauser.yaml) from a Secret it writes in both namespaces.
*/}}
{{- define "cryptopulse.kafka.userPasswordSecret" -}}
{{- include "cryptopulse.componentName" (dict "root" . "component" "kafka-password") }}
{{- end }}

{{/*
The SCRAM password the chart writes for a KafkaUser in another namespace: kafka.user.password,
else the one already in the release's copy (`lookup`: kept across `helm upgrade`), else a new
random one (new on every `helm template`: the pods' checksum/secret hashes it, so they roll
with it). Remembered per render like the token.
*/}}
{{- define "cryptopulse.kafka.userPassword" -}}
{{- $memo := .Values.kafka.user -}}
{{- if not (hasKey $memo "_effectivePassword") -}}
{{- $password := .Values.kafka.user.password -}}
{{- if not $password -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "cryptopulse.kafka.userPasswordSecret" .) -}}
{{- if and $existing (index ($existing.data | default dict) "password") -}}
{{- $password = index $existing.data "password" | b64dec -}}
{{- else -}}
{{- $password = randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- $_ := set $memo "_effectivePassword" $password -}}
{{- end -}}
{{- index $memo "_effectivePassword" -}}
{{- end }}

{{/* Secret (and key) with the SCRAM password: the KafkaUser's own Secret, or an existing one. */}}
{{- define "cryptopulse.kafka.passwordSecret" -}}
{{- if and .Values.kafka.user.create (include "cryptopulse.kafka.foreignNamespace" .) }}
{{- include "cryptopulse.kafka.userPasswordSecret" . }}
{{- else if .Values.kafka.user.create }}
{{- include "cryptopulse.kafka.userName" . }}
{{- else }}
{{- required "kafka.existing.passwordSecret.name is required with scram-sha-512 authentication when kafka.user.create is false" .Values.kafka.existing.passwordSecret.name }}
{{- end }}
{{- end }}

{{- define "cryptopulse.kafka.passwordKey" -}}
{{- if .Values.kafka.user.create }}password{{ else }}{{ .Values.kafka.existing.passwordSecret.key }}{{ end }}
{{- end }}

{{/* Secret (and key) with the cluster CA certificate for TLS listeners. */}}
{{- define "cryptopulse.kafka.caSecret" -}}
{{- if .Values.kafka.create }}
{{- printf "%s-cluster-ca-cert" (include "cryptopulse.kafka.clusterName" .) }}
{{- else }}
{{- required "kafka.existing.caSecret.name is required for a TLS listener when kafka.create is false" .Values.kafka.existing.caSecret.name }}
{{- end }}
{{- end }}

{{- define "cryptopulse.kafka.caKey" -}}
{{- if .Values.kafka.create }}ca.crt{{ else }}{{ .Values.kafka.existing.caSecret.key }}{{ end }}
{{- end }}

{{/* Where the CA certificate is mounted in every Kafka client container. */}}
{{- define "cryptopulse.kafka.caDir" -}}/etc/cryptopulse/kafka-ca{{- end }}

{{/*
Kafka client environment, the same for the producer, the stream job and the API (fan-out).
KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_* / KAFKA_SSL_CAFILE are the CommonSettings fields for
authenticated clusters.
*/}}
{{- define "cryptopulse.kafka.env" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "cryptopulse.kafka.bootstrapServers" . | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ include "cryptopulse.kafka.securityProtocol" . | quote }}
{{- if include "cryptopulse.kafka.scram" . }}
- name: KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: KAFKA_SASL_USERNAME
  value: {{ required "kafka.existing.username is required with scram-sha-512 authentication when kafka.user.create is false" (include "cryptopulse.kafka.userName" .) | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "cryptopulse.kafka.passwordSecret" . }}
      key: {{ include "cryptopulse.kafka.passwordKey" . }}
{{- end }}
{{- if .Values.kafka.listener.tls }}
- name: KAFKA_SSL_CAFILE
  value: {{ printf "%s/%s" (include "cryptopulse.kafka.caDir" .) (include "cryptopulse.kafka.caKey" .) | quote }}
{{- end }}
{{- end }}

{{- define "cryptopulse.kafka.caVolume" -}}
{{- if .Values.kafka.listener.tls }}
- name: kafka-ca
  secret:
    secretName: {{ include "cryptopulse.kafka.caSecret" . }}
    items:
      - key: {{ include "cryptopulse.kafka.caKey" . }}
        path: {{ include "cryptopulse.kafka.caKey" . }}
{{- end }}
{{- end }}

{{- define "cryptopulse.kafka.caVolumeMount" -}}
{{- if .Values.kafka.listener.tls }}
- name: kafka-ca
  mountPath: {{ include "cryptopulse.kafka.caDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* ------------------------------------------------------------- API server ---- */}}

{{/* The API fans out through Kafka as soon as more than one replica may serve /ingest. */}}
{{- define "cryptopulse.api.fanoutFromKafka" -}}
{{- if or .Values.api.fanoutFromKafka (gt (int .Values.api.replicaCount) 1) .Values.api.autoscaling.enabled }}true{{ end }}
{{- end }}

{{- define "cryptopulse.api.url" -}}
{{- printf "http://%s.%s.svc:%d" (include "cryptopulse.componentName" (dict "root" . "component" "api")) .Release.Namespace (int .Values.api.service.port) }}
{{- end }}

{{/* ---------------------------------------------------------- Pod defaults ---- */}}

{{/* Volumes every hardened container needs: a writable /tmp on a read-only root filesystem. */}}
{{- define "cryptopulse.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/* checksum/* pod annotations: a config or secret change rolls the pods. */}}
{{- define "cryptopulse.checksums" -}}
checksum/config: {{ include (print .root.Template.BasePath "/" .component "/configmap.yaml") .root | sha256sum }}
checksum/secret: {{ include "cryptopulse.secretChecksum" .root }}
{{- end }}

{{/* ------------------------------------------------------------- Stream job ---- */}}

{{- define "cryptopulse.stream.claimName" -}}
{{- default (include "cryptopulse.componentName" (dict "root" . "component" "stream-checkpoints")) .Values.stream.checkpoints.existingClaim }}
{{- end }}

{{/* Pod security context of the Spark pods: the image's spark uid, fsGroup for the checkpoint claim. */}}
{{- define "cryptopulse.stream.podSecurityContext" -}}
{{- $ctx := deepCopy .Values.podSecurityContext }}
{{- $_ := set $ctx "runAsUser" (int .Values.stream.runAsUser) }}
{{- $_ := set $ctx "runAsGroup" (int .Values.stream.runAsUser) }}
{{- $_ := set $ctx "fsGroup" (int .Values.stream.runAsUser) }}
{{- toYaml $ctx }}
{{- end }}

{{/* Mounts shared by the driver and the executors. */}}
{{- define "cryptopulse.stream.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
# spark-submit and the Python workers write here (the image's WORKDIR).
- name: work-dir
  mountPath: /opt/spark/work-dir
# State store files are written by the executors, the commit log and offsets by the driver.
- name: checkpoints
  mountPath: {{ .Values.stream.checkpoints.mountPath }}
{{- if .Values.kafka.listener.tls }}
{{- include "cryptopulse.kafka.caVolumeMount" . }}
{{- end }}
{{- end }}

{{/* Pipeline topics (cryptopulse_common.contract; tests/k8s checks they stay equal). */}}
{{- define "cryptopulse.kafka.topics" -}}
crypto_market_data
crypto_market_aggregates
crypto_market_dead_letter
{{- end }}

{{/*
Container security context of the Strimzi-run containers: what Strimzi's restricted Pod
Security Provider sets (RestrictedPodSecurityProvider: drop ALL, no privilege escalation,
runAsNonRoot, seccomp RuntimeDefault), written out so the restricted Pod Security Standard holds
whichever provider the Cluster Operator runs (k8s/install-prerequisites.sh sets
STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted).
No *pod* security context is ever written for Strimzi pods: a user-supplied one replaces the
provider's, and the provider's is what gives broker pods on persistent storage `fsGroup: 0`
(BaselinePodSecurityProvider.DEFAULT_FS_GROUP_ID, used when the storage is persistent-claim or
a JBOD with one), without which uid 1001 cannot create its log dirs on a fresh block volume.
*/}}
{{- define "cryptopulse.kafka.containerSecurityContext" -}}
allowPrivilegeEscalation: false
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}
