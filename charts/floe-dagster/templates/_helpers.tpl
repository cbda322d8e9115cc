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

{{/*
floe-dagster.validate: Helm cannot template the values of a dependency, so names floe owns
(compiledArtifacts.configMapName / mountPath, demo.envConfigMapName) and the image registry are
typed again under `dagster:`. This check fails the render, naming each field, when they differ.
*/}}
{{- define "floe-dagster.validate" -}}
{{- $d := .Values.dagster -}}
{{- if $d.enabled -}}
{{- $errors := list -}}
{{- $ca := .Values.compiledArtifacts -}}
{{- $file := printf "%s/CompiledArtifacts.json" (trimSuffix "/" $ca.mountPath) -}}
{{- $ud := index $d "dagster-user-deployments" | default dict -}}
{{- $targets := list -}}
{{- range $i, $dep := $ud.deployments | default list -}}
{{- $targets = append $targets (dict "where" (printf "dagster.dagster-user-deployments.deployments[%d] (%s)" $i $dep.name) "spec" $dep "env" true) -}}
{{- end -}}
{{- if eq (($d.runLauncher | default dict).type | default "") "K8sRunLauncher" -}}
{{- $targets = append $targets (dict "where" "dagster.runLauncher.config.k8sRunLauncher" "spec" $d.runLauncher.config.k8sRunLauncher "env" false) -}}
{{- end -}}
{{- range $t := $targets -}}
{{- $spec := $t.spec -}}
{{- $volume := "" -}}
{{- range $spec.volumes | default list -}}
{{- if and .configMap (eq (.configMap.name | default "") $ca.configMapName) -}}{{- $volume = .name -}}{{- end -}}
{{- end -}}
{{- if not $volume -}}
{{- $errors = append $errors (printf "%s.volumes: no volume of ConfigMap %q (compiledArtifacts.configMapName)" $t.where $ca.configMapName) -}}
{{- else -}}
{{- $mounted := false -}}
{{- range $spec.volumeMounts | default list -}}
{{- if and (eq .name $volume) (eq (trimSuffix "/" .mountPath) (trimSuffix "/" $ca.mountPath)) -}}{{- $mounted = true -}}{{- end -}}
{{- end -}}
{{- if not $mounted -}}
{{- $errors = append $errors (printf "%s.volumeMounts: volume %q is not mounted at %s (compiledArtifacts.mountPath)" $t.where $volume $ca.mountPath) -}}
{{- end -}}
{{- end -}}
{{- if $t.env -}}
{{- $value := "" -}}
{{- range $spec.env | default list -}}{{- if eq .name "FLOE_COMPILED_ARTIFACTS" -}}{{- $value = .value -}}{{- end -}}{{- end -}}
{{- if ne $value $file -}}
{{- $errors = append $errors (printf "%s.env: FLOE_COMPILED_ARTIFACTS is %q, must be %q (compiledArtifacts.mountPath)" $t.where $value $file) -}}
{{- end -}}
{{- end -}}
{{- $maps := list -}}
{{- range $spec.envConfigMaps | default list -}}{{- $maps = append $maps .name -}}{{- end -}}
{{- if not (has $.Values.demo.envConfigMapName $maps) -}}
{{- $errors = append $errors (printf "%s.envConfigMaps: lists %v, not %q (demo.envConfigMapName)" $t.where $maps $.Values.demo.envConfigMapName) -}}
{{- end -}}
{{- end -}}
{{- $registry := trimSuffix "/" ((.Values.global | default dict).imageRegistry | default "") -}}
{{- if $registry -}}
{{- $images := list (dict "where" "dagster.dagsterWebserver.image.repository" "value" (($d.dagsterWebserver | default dict).image | default dict).repository) -}}
{{- $images = append $images (dict "where" "dagster.dagsterDaemon.image.repository" "value" (($d.dagsterDaemon | default dict).image | default dict).repository) -}}
{{- $images = append $images (dict "where" "dagster.pipelineRun.image.repository" "value" (($d.pipelineRun | default dict).image | default dict).repository) -}}
{{- range $i, $dep := $ud.deployments | default list -}}
{{- $images = append $images (dict "where" (printf "dagster.dagster-user-deployments.deployments[%d].image.repository" $i) "value" $dep.image.repository) -}}
{{- end -}}
{{- $k8s := (($d.runLauncher | default dict).config | default dict).k8sRunLauncher | default dict -}}
{{- if and (eq (($d.runLauncher | default dict).type | default "") "K8sRunLauncher") $k8s.image -}}
{{- $images = append $images (dict "where" "dagster.runLauncher.config.k8sRunLauncher.image.repository" "value" $k8s.image.repository) -}}
{{- end -}}
{{- $images = append $images (dict "where" "dagster.busybox.image.repository" "value" ((($d.busybox | default dict).image | default dict).repository | default "busybox")) -}}
{{- range $images -}}
{{- if not (hasPrefix (printf "%s/" $registry) (.value | default "")) -}}
{{- $errors = append $errors (printf "%s is %q, must start with %s/ (global.imageRegistry)" .where (.value | default "") $registry) -}}
{{- end -}}
{{- end -}}
{{- $pg := ((($d.postgresql | default dict).image | default dict).registry | default "docker.io") -}}
{{- if ne (trimSuffix "/" $pg) $registry -}}
{{- $errors = append $errors (printf "dagster.postgresql.image.registry is %q, must be %s (global.imageRegistry)" $pg $registry) -}}
{{- end -}}
{{- end -}}
{{- if $errors -}}
{{- $fix := "" -}}
{{- if $registry -}}
{{- $fix = printf "\nTo put every image under %s, pass the overlay `python -m floe_checks.charts registry-values --registry %s -f <your values files>` writes as the last -f (docs/charts.md \"One image registry\")." $registry $registry -}}
{{- end -}}
{{- fail (printf "\nfloe-dagster: the `dagster:` values disagree with floe's own settings (Helm cannot derive a dependency's values, so they are typed twice; docs/charts.md \"Names typed twice\"):\n  - %s%s" (join "\n  - " $errors) $fix) -}}
{{- end -}}
{{- end -}}
{{- end -}}
