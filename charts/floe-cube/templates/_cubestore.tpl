{{/* Environment shared by the Cube Store router and workers. */}}
{{- define "floe-cube.cubestoreEnv" -}}
- name: CUBESTORE_TELEMETRY
  value: "false"
- name: CUBESTORE_DATA_DIR
  value: /cube/data
- name: CUBESTORE_WORKERS
  value: {{ include "floe-cube.workerList" . | quote }}
{{- if .Values.cubestore.s3.bucket }}
- name: CUBESTORE_S3_BUCKET
  value: {{ .Values.cubestore.s3.bucket | quote }}
- name: CUBESTORE_S3_REGION
  value: {{ .Values.cubestore.s3.region | quote }}
{{- else }}
- name: CUBESTORE_REMOTE_DIR
  value: /cube/remote
{{- end }}
{{- end -}}

{{- define "floe-cube.cubestoreEnvFrom" -}}
{{- if .Values.cubestore.s3.existingSecret }}
envFrom:
  - secretRef:
      name: {{ .Values.cubestore.s3.existingSecret }}
{{- end }}
{{- end -}}

{{- define "floe-cube.remoteClaim" -}}
{{- .Values.cubestore.remoteDir.existingClaim | default (printf "%s-cubestore-remote" (include "floe-cube.fullname" .)) -}}
{{- end -}}

{{/* Pod-level pieces both Cube Store StatefulSets share. */}}
{{- define "floe-cube.cubestoreVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if not .Values.cubestore.s3.bucket }}
- name: remote
  persistentVolumeClaim:
    claimName: {{ include "floe-cube.remoteClaim" . }}
{{- end }}
{{- end -}}

{{- define "floe-cube.cubestoreMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /cube/data
{{- if not .Values.cubestore.s3.bucket }}
- name: remote
  mountPath: /cube/remote
{{- end }}
{{- end -}}

{{- define "floe-cube.dataClaim" -}}
- metadata:
    name: data
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .root.Values.cubestore.storageClassName }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end -}}
