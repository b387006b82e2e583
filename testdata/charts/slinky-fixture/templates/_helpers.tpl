{{/*
fullname: the release name when it already says "slurm", else "<release>-slurm".
*/}}
{{- define "slurm.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
legacy: "true" when imitating the chart 1.0.x layout (shape "1.0"), else empty.
*/}}
{{- define "slurm.legacy" -}}
{{- $shape := toString .Values.shape -}}
{{- if not (has $shape (list "1.0" "1" "1.3")) -}}
{{- fail (printf "shape must be \"1.0\" or \"1.3\", got %q" $shape) -}}
{{- end -}}
{{- if ne $shape "1.3" -}}true{{- end -}}
{{- end -}}

{{- define "slurm.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: slurm
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
confLine: one line of Slurm options from a dict {line, map}: the string if set, else the
map as space-separated Key=Value tokens in key order (list values joined with commas).
*/}}
{{- define "slurm.confLine" -}}
{{- if .line -}}
{{- .line -}}
{{- else -}}
{{- $tokens := list -}}
{{- range $key, $value := .map -}}
{{- if kindIs "slice" $value -}}{{- $value = join "," $value -}}{{- end -}}
{{- $tokens = append $tokens (printf "%s=%v" $key $value) -}}
{{- end -}}
{{- join " " $tokens -}}
{{- end -}}
{{- end -}}

{{/*
controllerExtraConf: controller.extraConf, then one PartitionName line per enabled
partition. Fails on a partition naming a NodeSet that is missing or disabled.
*/}}
{{- define "slurm.controllerExtraConf" -}}
{{- $lines := list -}}
{{- with .Values.controller.extraConf -}}
{{- $lines = splitList "\n" (trimSuffix "\n" .) -}}
{{- end -}}
{{- $known := list "ALL" -}}
{{- range $key, $nodeset := .Values.nodesets -}}
{{- if $nodeset.enabled -}}{{- $known = append $known $key -}}{{- end -}}
{{- end -}}
{{- range $name, $part := .Values.partitions -}}
{{- if $part.enabled -}}
{{- $nodes := $part.nodesets | default list | uniq | sortAlpha -}}
{{- if not $nodes -}}
{{- fail (printf "partition %q lists no nodesets" $name) -}}
{{- end -}}
{{- range $nodes -}}
{{- if not (has . $known) -}}
{{- fail (printf "partition %q names nodeset %q, which is missing or disabled" $name .) -}}
{{- end -}}
{{- end -}}
{{- $line := printf "PartitionName=%s Nodes=%s" $name (join "," $nodes) -}}
{{- with include "slurm.confLine" (dict "line" $part.config "map" $part.configMap) -}}
{{- $line = printf "%s %s" $line . -}}
{{- end -}}
{{- $lines = append $lines $line -}}
{{- end -}}
{{- end -}}
{{- join "\n" $lines -}}
{{- end -}}

{{/*
block: a value after its key, as upstream renders it: `{}` / `[]` inline when empty, else
a YAML block indented by n. Use as `key:{{ include "slurm.block" (dict "v" X "n" 6) }}`.
*/}}
{{- define "slurm.block" -}}
{{- if .v -}}
{{- toYaml .v | nindent .n -}}
{{- else -}}
{{- printf " %s" (toJson .v) -}}
{{- end -}}
{{- end -}}
