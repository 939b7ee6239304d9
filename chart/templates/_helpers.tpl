{{/* Names, labels and the small decisions several templates share. */}}

{{- define "cortex.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: at most 50 characters, so "-voter", "-agent",
"-peers", "-metrics", "-admin-token" suffixes stay within 63. */}}
{{- define "cortex.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cortex.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "cortex.labels" -}}
helm.sh/chart: {{ include "cortex.chart" . }}
{{ include "cortex.selectorLabels" . }}
app.kubernetes.io/version: {{ include "cortex.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cortex
{{- end }}

{{/* What selects the release's daemons (voters and agents). */}}
{{- define "cortex.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cortex.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cortex.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "cortex.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "cortex.imageTag" .) }}
{{- end }}

{{- define "cortex.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cortex.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret and key holding the admin token. */}}
{{- define "cortex.adminTokenSecret" -}}
{{- default (printf "%s-admin-token" (include "cortex.fullname" .)) .Values.adminToken.existingSecret }}
{{- end }}

{{- define "cortex.adminTokenKey" -}}
{{- if .Values.adminToken.existingSecret }}{{ .Values.adminToken.existingSecretKey }}{{ else }}admin-token{{ end }}
{{- end }}

{{/* Redis: "external" (a URL from a Secret), "deployed" (the chart's), or
"none" (daemons fan out in-process only). */}}
{{- define "cortex.redisMode" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret }}external
{{- else if .Values.redis.deploy }}deployed
{{- else }}none
{{- end }}
{{- end }}

{{- define "cortex.redisSecret" -}}
{{- default (printf "%s-redis" (include "cortex.fullname" .)) .Values.redis.existingSecret }}
{{- end }}

{{- define "cortex.redisKey" -}}
{{- if .Values.redis.existingSecret }}{{ .Values.redis.existingSecretKey }}{{ else }}redis-url{{ end }}
{{- end }}

{{/* The voters' node names (entries without their =HOST), checked:
the schema checks each entry and the count, this the names' uniqueness. */}}
{{- define "cortex.voterNames" -}}
{{- $names := list }}
{{- range .Values.voters.nodes }}
{{- $name := regexReplaceAll "=.*$" . "" }}
{{- if has $name $names }}
{{- fail (printf "voters.nodes: node %q is listed twice" $name) }}
{{- end }}
{{- $names = append $names $name }}
{{- end }}
{{- if not $names }}
{{- fail "voters.nodes is required: the names of the 1, 3, 5 or 7 nodes (usually the control-plane nodes) that hold the Raft group, e.g. --set 'voters.nodes={k3s-master01,k3s-master02,k3s-master03}'" }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/* Whether a Prometheus Operator object is rendered: true, false, or
"auto" (only when the cluster serves monitoring.coreos.com/v1 KIND).
Called with (list $ .Values.monitoring.X.enabled "KIND"). */}}
{{- define "cortex.monitoringEnabled" -}}
{{- $root := index . 0 }}
{{- $enabled := toString (index . 1) }}
{{- $kind := index . 2 }}
{{- if eq $enabled "true" }}true
{{- else if and (eq $enabled "auto") ($root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" $kind)) }}true
{{- end }}
{{- end }}

{{/* "k=v,..." of a map, in key order, for --labels. */}}
{{- define "cortex.labelList" -}}
{{- $pairs := list }}
{{- range $k, $v := . }}
{{- $pairs = append $pairs (printf "%s=%s" $k (toString $v)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* Env every daemon gets besides the ConfigMap: its node name, the
external Redis URL, extra env. */}}
{{- define "cortex.commonEnv" -}}
- name: CORTEX_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- if .Values.tls.enabled }}
- name: CORTEX_TLS_DIR
  value: /etc/cortex/tls
{{- else }}
- name: CORTEX_INSECURE_PLAINTEXT
  value: "true"
{{- end }}
{{- if eq (include "cortex.redisMode" .) "external" }}
- name: CORTEX_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "cortex.redisSecret" . }}
      key: {{ include "cortex.redisKey" . }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Namespace of the k8s-job executor's Jobs: the value, or the release's. */}}
{{- define "cortex.jobsNamespace" -}}
{{- default .Release.Namespace .Values.executors.k8sJob.namespace }}
{{- end }}

{{/* Pod template annotations: a ConfigMap change rolls the pods. */}}
{{- define "cortex.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The Secret with the daemons' TLS material (ca.crt, tls.crt, tls.key). */}}
{{- define "cortex.tlsSecret" -}}
{{- default (printf "%s-tls" (include "cortex.fullname" .)) .Values.tls.existingSecret }}
{{- end }}

{{/* The TLS mount of the cortex container (with tls.enabled). */}}
{{- define "cortex.tlsMount" -}}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: /etc/cortex/tls
  readOnly: true
{{- end }}
{{- end }}

{{/* The TLS volume: readable by the pod's fsGroup only. */}}
{{- define "cortex.tlsVolume" -}}
{{- if .Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ include "cortex.tlsSecret" . }}
    defaultMode: 0440
    items:
      - key: ca.crt
        path: ca.crt
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end }}
