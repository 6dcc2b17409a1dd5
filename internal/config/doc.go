// Package config loads kmirror's one configuration model from the three
// formats operators already have: the Strimzi KafkaMirrorMaker2 resource
// (v1beta2 and v1), the same spec as plain YAML with file and environment
// references ("native"), and MM2's connect-mirror-maker.properties.
//
// Loading resolves every reference (Kubernetes secrets mounted under a
// directory, PEM/JKS/PKCS12 files, environment variables), applies MM2's key
// semantics with kmirror's defaults, and reports every problem at once, each
// naming the key as the user wrote it. Unknown keys become warnings with a
// suggestion; keys that only mean something to Kafka Connect become notes.
// Secrets are held in [Secret] and never print.
package config
