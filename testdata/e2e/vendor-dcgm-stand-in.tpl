{{- /*
slinky-pr e2e: the slurm-operator Go module zip has no helm/slurm/templates/vendor/ (Go
module zips leave out vendor directories), so the chart taken from the module cache lacks
the NVIDIA DCGM helpers its templates include. These stand-ins give the chart's default,
DCGM off, and refuse to render anything else.
*/}}
{{- define "vendor.dcgm.enabled" -}}
{{- if dig "nvidia" "dcgm" "enabled" false (.Values.vendor | default dict) -}}
{{- fail "slinky-pr e2e: vendor.nvidia.dcgm.enabled needs the chart's vendor templates, which the Go module zip omits" -}}
{{- end -}}
{{- end }}
{{- define "vendor.dcgm.nodesetHasGPU" -}}{{- end }}
{{- define "vendor.dcgm.jobMappingDir" -}}{{- fail "slinky-pr e2e: DCGM is not supported" -}}{{- end }}
{{- define "vendor.dcgm.prologName" -}}{{- fail "slinky-pr e2e: DCGM is not supported" -}}{{- end }}
{{- define "vendor.dcgm.epilogName" -}}{{- fail "slinky-pr e2e: DCGM is not supported" -}}{{- end }}
