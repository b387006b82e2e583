// Command kubeyaml reads a JSON list of YAML documents on stdin and prints, for each one,
// the JSON that Kubernetes' YAML reader (sigs.k8s.io/yaml, as kubectl and the API server
// use it) makes of it, or the error it reports. tests/e2e/test_kube_yaml.py builds and
// runs it to hold slinky-pr's reading and writing of YAML to Kubernetes' own.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type result struct {
	JSON  json.RawMessage `json:"json,omitempty"`
	Error string          `json:"error,omitempty"`
}

func main() {
	var docs []string
	if err := json.NewDecoder(os.Stdin).Decode(&docs); err != nil {
		fmt.Fprintln(os.Stderr, "kubeyaml: stdin must be a JSON list of strings:", err)
		os.Exit(2)
	}
	out := make([]result, len(docs))
	for i, doc := range docs {
		converted, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			out[i].Error = err.Error()
		} else {
			out[i].JSON = converted
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "kubeyaml:", err)
		os.Exit(1)
	}
}
