// Kubernetes' YAML reader at the versions Kubernetes v1.36.3 requires (its go.mod).
module slinky-pr.invalid/kubeyaml

go 1.24

require (
	go.yaml.in/yaml/v2 v2.4.3
	sigs.k8s.io/yaml v1.6.0
)
