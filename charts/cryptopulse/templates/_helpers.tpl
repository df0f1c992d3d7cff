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

{{/* ------------------------------------------------------------------ Kafka ---- */}}

{{- define "cryptopulse.kafka.clusterName" -}}
{{- if .Values.kafka.create }}
{{- default (include "cryptopulse.fullname" .) .Values.kafka.cluster.name }}
{{- else }}
{{- .Values.kafka.existing.strimziClusterName }}
{{- end }}
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

{{- define "cryptopulse.kafka.userName" -}}
{{- if .Values.kafka.user.create }}
{{- default (include "cryptopulse.fullname" .) .Values.kafka.user.name }}
{{- else }}
{{- .Values.kafka.existing.username }}
{{- end }}
{{- end }}

{{/* Secret (and key) with the SCRAM password: the KafkaUser's own Secret, or an existing one. */}}
{{- define "cryptopulse.kafka.passwordSecret" -}}
{{- if .Values.kafka.user.create }}
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
checksum/secret: {{ toJson .root.Values.secrets | sha256sum }}
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

{{/* Security contexts of the Strimzi-run pods, as Strimzi's restricted provider sets them. */}}
{{- define "cryptopulse.kafka.podSecurityContext" -}}
runAsNonRoot: true
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "cryptopulse.kafka.containerSecurityContext" -}}
allowPrivilegeEscalation: false
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}
