{{- define "floe-runtime.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "floe-runtime.commonLabels" . }}
{{- end -}}

{{/* The standard labels that are not selector labels (see floe-cube.commonLabels). */}}
{{- define "floe-runtime.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe-runtime
{{- end -}}

{{- define "floe-runtime.postgresSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: demo-postgres
{{- end -}}

{{- define "floe-runtime.image" -}}
{{- $registry := .root.Values.global.imageRegistry | default "" -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) .image.repository (toString .image.tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{- /* preflightTest: is floe-dagster's Dagster (webserver and its PostgreSQL) part of the release? */ -}}
{{- define "floe-runtime.preflight.dagsterOn" -}}
{{- $fd := index .Values "floe-dagster" -}}
{{- if and $fd.enabled (($fd.dagster | default dict).enabled) -}}true{{- end -}}
{{- end -}}

{{- /* The ServiceAccount of the preflight test pod (values.yaml, preflightTest.serviceAccountName). */ -}}
{{- define "floe-runtime.preflight.serviceAccountName" -}}
{{- $global := .Values.global | default dict -}}
{{- if .Values.preflightTest.serviceAccountName -}}
{{- .Values.preflightTest.serviceAccountName -}}
{{- else if $global.serviceAccountName -}}
{{- $global.serviceAccountName -}}
{{- else if include "floe-runtime.preflight.dagsterOn" . -}}
{{- /* the Dagster chart's own ServiceAccount, named as its dagster.serviceAccountName helper
     does: serviceAccount.name, else its fullname (fullnameOverride, else <release>-dagster
     unless the release name holds the chart name) */ -}}
{{- $d := (index .Values "floe-dagster").dagster -}}
{{- $name := $d.nameOverride | default "dagster" -}}
{{- if ($d.serviceAccount | default dict).name -}}
{{- $d.serviceAccount.name -}}
{{- else if $d.fullnameOverride -}}
{{- $d.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{- /* The floe.yaml `floe preflight` reads in the test pod: every endpoint at the Service name
     the subcharts give it (their own name helpers, so the names are defined once), every secret
     a ${VAR} fed from the Secret the workloads read (floe-runtime.preflight.env). */ -}}
{{- define "floe-runtime.preflight.config" -}}
{{- $t := .Values.preflightTest -}}
{{- $suffix := printf "%s.svc.%s" .Release.Namespace $t.clusterDomain -}}
{{- $env := dict -}}
{{- if include "floe-runtime.preflight.dagsterOn" . -}}
{{- $fd := index .Values "floe-dagster" -}}
{{- $pg := $fd.dagster.postgresql -}}
{{- $_ := set $env "postgres" (dict "host" $pg.postgresqlHost "port" (int $pg.service.port) "user" $pg.postgresqlUsername "password" "${DAGSTER_PG_PASSWORD}" "database" $pg.postgresqlDatabase) -}}
{{- $webserver := include "floe-dagster.webserverName" (dict "Values" $fd "Release" .Release) -}}
{{- $_ := set $env "dagster" (dict "url" (printf "http://%s.%s:%d" $webserver $suffix (int $fd.dagster.dagsterWebserver.service.port))) -}}
{{- end -}}
{{- $fc := index .Values "floe-cube" -}}
{{- if $fc.enabled -}}
{{- $cube := include "floe-cube.fullname" (dict "Values" $fc "Release" .Release) -}}
{{- $_ := set $env "cube" (dict "url" (printf "http://%s.%s:%d" $cube $suffix (int $fc.api.service.port)) "api_secret" "${CUBEJS_API_SECRET}") -}}
{{- end -}}
{{- range $key, $section := $t.extraSections -}}
{{- $_ := set $env $key $section -}}
{{- end -}}
{{- /* nothing to check (Dagster and Cube off, no extraSections): empty, and no hook is rendered */ -}}
{{- if $env -}}
{{- toYaml (dict "environments" (dict $t.environment $env)) -}}
{{- end -}}
{{- end -}}

{{- /* The test pod's environment: the secrets floe-runtime.preflight.config names, from the same
     Secrets (and keys) the workloads read, then preflightTest.extraEnv. */ -}}
{{- define "floe-runtime.preflight.env" -}}
{{- if include "floe-runtime.preflight.dagsterOn" . }}
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.global.postgresqlSecretName }}
      key: postgresql-password
{{- end }}
{{- $fc := index .Values "floe-cube" -}}
{{- if $fc.enabled }}
- name: CUBEJS_API_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $fc.apiSecret.existingSecret }}
      key: {{ $fc.apiSecret.key }}
{{- end }}
{{- with .Values.preflightTest.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- /* The preflight pod's image (values.yaml, preflightTest.image): set, else the Dagster
     webserver's (already under the registry: the registry overlay rewrites it), else ours. */ -}}
{{- define "floe-runtime.preflight.image" -}}
{{- $i := .Values.preflightTest.image -}}
{{- $tag := $i.tag | default .Chart.AppVersion -}}
{{- if $i.repository -}}
{{- include "floe-runtime.image" (dict "root" . "image" (dict "repository" $i.repository "tag" $tag)) -}}
{{- else if include "floe-runtime.preflight.dagsterOn" . -}}
{{- $w := (index .Values "floe-dagster").dagster.dagsterWebserver.image -}}
{{- if and $w.digest (not $i.tag) -}}
{{- printf "%s@%s" $w.repository $w.digest -}}
{{- else -}}
{{- printf "%s:%s" $w.repository (toString ($i.tag | default $w.tag)) -}}
{{- end -}}
{{- else -}}
{{- include "floe-runtime.image" (dict "root" . "image" (dict "repository" "floe/floe-dagster" "tag" $tag)) -}}
{{- end -}}
{{- end -}}
