{{- define "standin.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name }}{{- end -}}
{{- end -}}
{{- define "standin.secretName" -}}
{{- .Values.global.postgresqlSecretName | default (printf "%s-postgresql-secret" (include "standin.fullname" .)) -}}
{{- end -}}
{{- define "standin.image" -}}
{{- printf "%s:%s" .image.repository (toString (.image.tag | default .root.Chart.Version)) -}}
{{- end -}}
{{/* The init containers the official chart puts before webserver and daemon. */}}
{{- define "standin.initContainers" -}}
{{- $ud := index .root.Values "dagster-user-deployments" -}}
- name: check-db-ready
  image: {{ printf "%s:%s" .root.Values.postgresql.image.repository .root.Values.postgresql.image.tag | quote }}
  command: ['sh', '-c', 'until pg_isready -h {{ .root.Values.postgresql.postgresqlHost }} -p {{ .root.Values.postgresql.service.port }}; do sleep 2; done']
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
