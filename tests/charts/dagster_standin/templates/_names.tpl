{{- define "standin.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name }}{{- end -}}
{{- end -}}
{{- define "standin.secretName" -}}
{{- .Values.global.postgresqlSecretName | default (printf "%s-postgresql-secret" (include "standin.fullname" .)) -}}
{{- end -}}
{{- define "standin.serviceAccountName" -}}
{{- .Values.global.serviceAccountName | default (include "standin.fullname" .) -}}
{{- end -}}
{{/* Dagster images: <repository>@<digest>, else <repository>:<tag or the chart version>. No registry
     is ever prepended (the published chart has no registry setting for these). */}}
{{- define "standin.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString (.image.tag | default .root.Chart.Version)) -}}
{{- end -}}
{{- end -}}
{{/* The published chart's run-launcher / container-context rule: of each envConfigMaps or
     envSecrets entry only `name` is kept (dagster-k8s then builds a required configMapRef). */}}
{{- define "standin.names" -}}
{{- $names := list -}}
{{- range . -}}{{- if hasKey . "name" -}}{{- $names = append $names .name -}}{{- end -}}{{- end -}}
{{- toJson $names -}}
{{- end -}}
{{/* The init containers the official chart puts before webserver and daemon. */}}
{{- define "standin.initContainers" -}}
{{- $ud := index .root.Values "dagster-user-deployments" -}}
{{- $pg := .root.Values.postgresql -}}
- name: check-db-ready
  image: {{ printf "%s/%s:%s" $pg.image.registry $pg.image.repository $pg.image.tag | quote }}
  imagePullPolicy: {{ $pg.image.pullPolicy }}
  command: ['sh', '-c', 'until pg_isready -h {{ $pg.postgresqlHost }} -p {{ $pg.service.port }}; do sleep 2; done']
  securityContext: {{- toYaml .component.securityContext | nindent 4 }}
  resources: {{- toYaml .component.initContainerResources | nindent 4 }}
{{- if and $ud.enabled $ud.enableSubchart }}
{{- range $ud.deployments }}
- name: init-user-deployment-{{ .name }}
  image: {{ printf "%s:%s" $.root.Values.busybox.image.repository $.root.Values.busybox.image.tag | quote }}
  command: ['sh', '-c', 'until nslookup {{ .name }}; do sleep 2; done']
  securityContext: {{- toYaml $.component.securityContext | nindent 4 }}
  resources: {{- toYaml $.component.initContainerResources | nindent 4 }}
{{- end }}
{{- end }}
{{- end -}}
