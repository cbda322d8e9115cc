{{/* Name of the chart, for the app.kubernetes.io/name label. */}}
{{- define "floe-cube.name" -}}
{{- default "cube" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Base name of every object: <release>-cube unless overridden. */}}
{{- define "floe-cube.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "floe-cube.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Standard labels (app.kubernetes.io/*) on every object. */}}
{{- define "floe-cube.labels" -}}
app.kubernetes.io/name: {{ include "floe-cube.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "floe-cube.commonLabels" . }}
{{- end -}}

{{/* The standard labels that are not selector labels: pod templates take these plus
     floe-cube.selectorLabels, so no key is written twice (Flux and kustomize refuse that). */}}
{{- define "floe-cube.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe-runtime
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "api"). */}}
{{- define "floe-cube.selectorLabels" -}}
app.kubernetes.io/name: {{ include "floe-cube.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* An image reference, with global.imageRegistry prepended when set. */}}
{{- define "floe-cube.image" -}}
{{- $registry := .root.Values.global.imageRegistry | default "" -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) .image.repository (toString .image.tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "floe-cube.routerName" -}}{{ include "floe-cube.fullname" . }}-cubestore-router{{- end -}}
{{- define "floe-cube.workerName" -}}{{ include "floe-cube.fullname" . }}-cubestore-worker{{- end -}}
{{- define "floe-cube.modelName" -}}{{ include "floe-cube.fullname" . }}-model{{- end -}}

{{/* CUBESTORE_WORKERS: every worker's stable DNS name and port. */}}
{{- define "floe-cube.workerList" -}}
{{- $workers := list -}}
{{- $name := include "floe-cube.workerName" . -}}
{{- range $i, $_ := until (int .Values.cubestore.workers.replicaCount) -}}
{{- $workers = append $workers (printf "%s-%d.%s:%d" $name $i $name (int $.Values.cubestore.workers.port)) -}}
{{- end -}}
{{- join "," $workers -}}
{{- end -}}

{{/* Environment shared by the Cube API and the refresh worker. */}}
{{- define "floe-cube.env" -}}
- name: NODE_ENV
  value: production
- name: CUBEJS_DEV_MODE
  value: "false"
- name: CUBEJS_TELEMETRY
  value: "false"
- name: PORT
  value: {{ .Values.api.port | quote }}
- name: CUBEJS_SCHEMA_PATH
  value: model
- name: CUBEJS_DB_TYPE
  value: {{ .Values.database.type | quote }}
- name: CUBEJS_DB_HOST
  value: {{ .Values.database.host | quote }}
- name: CUBEJS_DB_PORT
  value: {{ .Values.database.port | quote }}
- name: CUBEJS_DB_NAME
  value: {{ .Values.database.name | quote }}
- name: CUBEJS_DB_SSL
  value: {{ .Values.database.ssl | quote }}
- name: CUBEJS_DB_USER
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.userKey }}
- name: CUBEJS_DB_PASS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.passwordKey }}
- name: CUBEJS_API_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.apiSecret.existingSecret }}
      key: {{ .Values.apiSecret.key }}
- name: CUBEJS_DEFAULT_API_SCOPES
  value: meta,data,graphql,jobs
{{- if .Values.cubestore.enabled }}
- name: CUBEJS_CUBESTORE_HOST
  value: {{ include "floe-cube.routerName" . }}
- name: CUBEJS_CUBESTORE_PORT
  value: "3030"
{{- else }}
- name: CUBEJS_CACHE_AND_QUEUE_DRIVER
  value: memory
- name: CUBEJS_EXTERNAL_DEFAULT
  value: "false"
{{- end }}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Volumes of a Cube pod: writable /tmp and, when enabled, the model ConfigMap. */}}
{{- define "floe-cube.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if .Values.model.mountConfigMap }}
- name: model
  configMap:
    name: {{ include "floe-cube.modelName" . }}
    items:
{{- range $path, $_ := .Files.Glob "model/**" }}
      - key: {{ trimPrefix "model/" $path | replace "/" "__" }}
        path: {{ trimPrefix "model/" $path }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "floe-cube.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.model.mountConfigMap }}
- name: model
  mountPath: /cube/conf/model
  readOnly: true
{{- end }}
{{- end -}}

{{/* Refuse the combinations that deploy but never serve rollups (see values.yaml, refreshWorker). */}}
{{- define "floe-cube.validate" -}}
{{- if not .Values.cubestore.enabled -}}
{{- if .Values.refreshWorker.enabled -}}
{{- fail "floe-cube: refreshWorker.enabled=true needs cubestore.enabled=true. Without Cube Store (in-memory cache and queue) a separate refresh-worker pod shares nothing with the API, which never serves the worker's rollups. Set refreshWorker.enabled=false (the API then runs the refresh worker itself) or turn Cube Store on." -}}
{{- end -}}
{{- if gt (int .Values.api.replicaCount) 1 -}}
{{- fail (printf "floe-cube: api.replicaCount=%v needs cubestore.enabled=true. Without Cube Store every API replica runs its own refresh worker and in-memory cache: each builds the same rollups, and replicas answer differently. Set api.replicaCount=1 or turn Cube Store on." .Values.api.replicaCount) -}}
{{- end -}}
{{- end -}}
{{- end -}}
