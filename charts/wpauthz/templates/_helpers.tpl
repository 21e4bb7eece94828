{{/* The chart name, or nameOverride. */}}
{{- define "wpauthz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name every object is named from: the release name when it already
contains the chart name (release "wpauthz" gives "wpauthz"), else
"<release>-<chart>".
*/}}
{{- define "wpauthz.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "wpauthz.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wpauthz.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object of the release. */}}
{{- define "wpauthz.baseLabels" -}}
helm.sh/chart: {{ include "wpauthz.chart" . }}
app.kubernetes.io/name: {{ include "wpauthz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wpauthz
{{- end }}

{{/* Labels of wpauthz's own objects. */}}
{{- define "wpauthz.labels" -}}
{{ include "wpauthz.baseLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* Labels of the CRDs. */}}
{{- define "wpauthz.crdLabels" -}}
{{ include "wpauthz.baseLabels" . }}
app.kubernetes.io/component: crds
{{- end }}

{{/* Labels of the deployed Redis's objects. */}}
{{- define "wpauthz.redisLabels" -}}
{{ include "wpauthz.baseLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{/* Labels selecting the wpauthz pods. */}}
{{- define "wpauthz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wpauthz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/* Labels selecting the deployed Redis (redis.deploy). */}}
{{- define "wpauthz.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "wpauthz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "wpauthz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wpauthz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: the digest wins over the tag; the tag defaults to appVersion. */}}
{{- define "wpauthz.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret holding the Redis URL and password. */}}
{{- define "wpauthz.redisSecretName" -}}
{{- default (printf "%s-redis" (include "wpauthz.fullname" .)) .Values.redis.existingSecret }}
{{- end }}

{{/* The chart creates the Redis Secret itself (from redis.url, or for the deployed Redis). */}}
{{- define "wpauthz.redisSecretManaged" -}}
{{- if and .Values.redis.enabled (not .Values.redis.existingSecret) (or .Values.redis.deploy .Values.redis.url) }}true{{ end }}
{{- end }}

{{/* The Service in front of wpauthz's gRPC and HTTP listeners, as an in-cluster DNS name. */}}
{{- define "wpauthz.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "wpauthz.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
Rules every RBAC mode grants where policies live: read the three kinds and
the Secrets they name, write their status, record Events. Derived from
config/rbac/role.yaml (the controller's kubebuilder markers), with Secrets
read-only unless rbac.generatedKeySecrets.
*/}}
{{- define "wpauthz.policyRules" -}}
- apiGroups: ["policy.wpauthz.io"]
  resources: ["wpapipolicies", "apikeys", "oauthclients"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["policy.wpauthz.io"]
  resources: ["wpapipolicies/status", "apikeys/status", "oauthclients/status"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
{{- if .Values.rbac.generatedKeySecrets }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "update"]
{{- end }}
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* The namespace an integration object lives in: its own value, else the release namespace. */}}
{{- define "wpauthz.objectNamespace" -}}
{{- default .root.Release.Namespace .namespace }}
{{- end }}
