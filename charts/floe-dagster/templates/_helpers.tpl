{{/* Name used in the app.kubernetes.io/name label of floe's own objects. */}}
{{- define "floe-dagster.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Base name of floe's own objects: <release>-dagster. */}}
{{- define "floe-dagster.fullname" -}}
{{- printf "%s-dagster" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Standard labels (app.kubernetes.io/*) on every object floe-dagster renders itself. */}}
{{- define "floe-dagster.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
app.kubernetes.io/name: {{ include "floe-dagster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe-runtime
{{- end -}}

{{/* The Dagster webserver's Service and Deployment name, as the Dagster chart names them. */}}
{{- define "floe-dagster.webserverName" -}}
{{- $name := .Values.dagster.dagsterWebserver.nameOverride | default "dagster-webserver" -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Pod labels the Dagster chart puts on webserver pods (its selectorLabels + component). */}}
{{- define "floe-dagster.webserverSelector" -}}
app.kubernetes.io/name: dagster
app.kubernetes.io/instance: {{ .Release.Name }}
component: dagster-webserver
{{- end -}}
