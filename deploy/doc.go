// Package deploy holds the checks of genwatch's deployment files: the
// compose file (deploy/compose), the Kubernetes kustomize base, components
// and overlay (deploy/kubernetes), the Prometheus alerting rules
// (deploy/prometheus) and the Dockerfile.
//
// It is a Go module of its own, so that the heavy libraries the checks use
// (the compose-spec loader, kustomize, the Kubernetes API types and
// Prometheus's rule and PromQL parsers) stay out of genwatch's own
// dependencies. The tests run offline: they load and build the files with
// those libraries, decode every Kubernetes object strictly into its Go type,
// and hold the files to what a real worker serves and exports, by starting
// one.
package deploy
