{{/* Chart name and release-scoped names. */}}
{{- define "onepipe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "onepipe.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: onepipe
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
onepipe.io/env: {{ .Values.environment }}
{{- end -}}

{{/* Selector labels of one component: include with (list $ "mlflow"). */}}
{{- define "onepipe.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* repository@digest when the project pins a digest (image.training_digest), else repository:tag. */}}
{{- define "onepipe.image" -}}
{{- if .Values.image.digest -}}
{{ printf "%s@%s" .Values.image.repository .Values.image.digest | quote }}
{{- else -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount the chart's own pods run as: no API token, no Role. */}}
{{- define "onepipe.workloadServiceAccount" -}}
{{ include "onepipe.fullname" . }}-services
{{- end -}}

{{/* Pod-level security: non-root with the image's ids, default seccomp. */}}
{{- define "onepipe.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security: the rules tests/cluster/test_helm_chart.py enforces. */}}
{{- define "onepipe.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Writable scratch space a read-only root filesystem needs: /tmp and HOME. */}}
{{- define "onepipe.scratchVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.podSecurity.tmpSizeLimit }}
- name: home
  emptyDir:
    sizeLimit: {{ .Values.podSecurity.tmpSizeLimit }}
{{- end -}}

{{/* onepipe's state dir next to the project file (<mountDir>/.onepipe): scratch, too. */}}
{{- define "onepipe.stateVolume" -}}
- name: state
  emptyDir:
    sizeLimit: {{ .Values.podSecurity.tmpSizeLimit }}
{{- end -}}

{{- define "onepipe.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: home
  mountPath: {{ .Values.podSecurity.home }}
{{- end -}}

{{/* The project file (onepipe.yaml) from the ConfigMap the kustomize overlay applies. */}}
{{- define "onepipe.projectVolume" -}}
{{ include "onepipe.stateVolume" . }}
- name: project
  configMap:
    name: {{ .Values.project.configMap }}
{{- end -}}

{{- define "onepipe.projectMount" -}}
- name: state
  mountPath: {{ printf "%s/.onepipe" .Values.project.mountDir }}
- name: project
  mountPath: {{ printf "%s/%s" .Values.project.mountDir .Values.project.configFile }}
  subPath: {{ .Values.project.configFile }}
  readOnly: true
{{- end -}}

{{- define "onepipe.onepipeEnv" -}}
- name: ONEPIPE_ENV
  value: {{ .Values.environment | quote }}
- name: ONEPIPE_CONFIG
  value: {{ printf "%s/%s" .Values.project.mountDir .Values.project.configFile | quote }}
- name: HOME
  value: {{ .Values.podSecurity.home | quote }}
{{- end -}}
