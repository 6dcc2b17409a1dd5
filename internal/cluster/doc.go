// Package cluster turns a configured cluster into franz-go client options
// (bootstrap, TLS, mutual TLS, SASL PLAIN, SCRAM and OAUTHBEARER, whose
// tokens one source per cluster asks of the OAuth token endpoint and
// keeps until 80% of their lifetime), maps MM2's producer
// and consumer settings onto franz-go, and checks that a cluster can be
// reached and authenticated against, explaining failures in one sentence
// that names the cluster. Tail and ScanTopic read the compacted topics that
// hold state.
package cluster
