// Package deploy holds only the list of kmirror's metrics (Metrics): it is
// the home of kmirror's monitoring
// artefacts (the Grafana dashboard under grafana/, the Prometheus alert rules
// under prometheus/) and of the test that keeps them consistent with the
// metrics kmirror exports.
package deploy
