package cli

import "github.com/spf13/cobra"

// examples are the Examples of every command's help, by its path under
// kmirror; addExamples sets them, and a test checks that every runnable
// command has one.
var examples = map[string]string{
	"version": `  kmirror version
  kmirror --version
  kmirror version --json`,
	"validate": `  kmirror validate -c kmm2.yaml
  kmirror validate -c kmm2.yaml --secrets-dir ./secrets --strict`,
	"plan": `  kmirror plan -c kmm2.yaml --secrets-dir ./secrets`,
	"run": `  kmirror run -c kmm2.yaml --secrets-dir ./secrets
  kmirror run -c connect-mirror-maker.properties --http 127.0.0.1:9721`,
	"status": `  kmirror status -c kmm2.yaml --watch
  kmirror status -c kmm2.yaml --json --partitions`,
	"migrate ready": `  kmirror migrate ready -c kmm2.yaml --group app1-consumer
  kmirror migrate ready -c kmm2.yaml --group app1-consumer --wait 5m`,
	"migrate drain": `  kmirror migrate drain -c kmm2.yaml --topic app1-t1,app1-t2
  kmirror migrate drain -c kmm2.yaml --topic app1-t1 --quiet-window 30s --timeout 20m`,
	"migrate rollback": `  kmirror migrate rollback -c kmm2.yaml --group app1-consumer --dry-run
  kmirror migrate rollback -c kmm2.yaml --group app1-consumer`,
	"migrate hand-back": `  kmirror migrate hand-back -c connect-mirror-maker.properties --dry-run
  kmirror migrate hand-back -c connect-mirror-maker.properties --json`,
	"migrate failover": `  kmirror migrate failover -c kmm2.yaml --to B --topic orders
  kmirror migrate failover -c kmm2.yaml --to A --topic orders`,
	"migrate report": `  kmirror migrate report -c kmm2.yaml > migration.md
  kmirror migrate report -c kmm2.yaml --json`,
	"preflight": `  kmirror preflight -c kmm2.yaml --secrets-dir ./secrets
  kmirror preflight -c kmm2.yaml --kafkauser | kubectl apply -f -
  kmirror preflight -c connect-mirror-maker.properties --hand-back`,
	"verify":            `  kmirror verify -c kmm2.yaml --topic app1-t1,app1-t2`,
	"deploy kubernetes": `  kmirror deploy kubernetes -c kmm2.yaml --image registry.example.com/kmirror:v1.0.0 | kubectl apply -f -`,
	"demo": `  kmirror demo
  kmirror demo --keep-running --http 127.0.0.1:8080`,
}

// addExamples gives each command under root the examples of its path,
// where it has none of its own.
func addExamples(root *cobra.Command) {
	for _, c := range root.Commands() {
		if ex, ok := examples[commandPath(c)]; ok && c.Example == "" {
			c.Example = ex
		}
		addExamples(c)
	}
}

// commandPath is a command's path under the root: "migrate drain".
func commandPath(c *cobra.Command) string {
	if c.Parent() == nil || c.Parent().Parent() == nil {
		return c.Name()
	}
	return commandPath(c.Parent()) + " " + c.Name()
}
