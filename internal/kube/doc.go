// Package kube renders the Kubernetes manifests that run kmirror where
// Strimzi ran MirrorMaker 2: a Deployment of kmirror workers reading the
// KafkaMirrorMaker2 resource from a ConfigMap, with the secrets the
// resource names mounted where --secrets-dir finds them, probes, a
// disruption budget, a Service and a PodMonitor for the metrics.
//
// The manifests are text, from one template: an operator reads and edits
// them, and kmirror does not link the Kubernetes API types for them. The
// tests decode them strictly into those types instead.
package kube
