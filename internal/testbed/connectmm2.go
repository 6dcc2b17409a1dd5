package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The names Strimzi gives the Kafka Connect cluster of a KafkaMirrorMaker2
// resource unless its target's config sets them (the defaults of its
// KafkaMirrorMaker2Configuration).
const (
	StrimziGroup        = "mirrormaker2-cluster"
	StrimziOffsetsTopic = "mirrormaker2-cluster-offsets"
	StrimziConfigsTopic = "mirrormaker2-cluster-configs"
	StrimziStatusTopic  = "mirrormaker2-cluster-status"
)

// ConnectMM2 is MirrorMaker 2 laid out as Strimzi runs a KafkaMirrorMaker2
// resource, rather than in dedicated mode: a Kafka Connect distributed
// worker (org.apache.kafka.connect.cli.ConnectDistributed) on the target
// cluster, with Strimzi's group and internal topics, running the flow's
// connectors that StrimziConnectors lists, which it is given over its REST
// API as Strimzi's operator gives them. Log is the worker's log; Stop,
// Kill and Exited are as for MM2.
type ConnectMM2 struct {
	process
	// REST is the base URL of the worker's REST API.
	REST string
}

// StartConnectMM2 starts a Connect worker on the job's target, puts the
// job's connectors to it and waits until they and their tasks run. Each
// start is a new worker, as a restarted pod is; the connectors' configs
// are in the configs topic already, and putting them again changes
// nothing, as the operator's reconciliation does. The worker is killed
// with the test, and its log printed (the last lines) when the test fails.
func StartConnectMM2(t testing.TB, job MM2Job) *ConnectMM2 {
	t.Helper()
	jars := KafkaJars()
	if jars == "" {
		t.Fatalf("MirrorMaker 2 needs the Apache Kafka jars: %s is not set", KafkaEnv)
	}
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "connect-distributed.properties")
	WriteFiles(t, dir, map[string][]byte{filepath.Base(conf): []byte(connectWorkerProperties(job.TargetAddr, ports[0]))})
	p, err := startProcess(filepath.Join(dir, "connect.log"), jars, MM2Heap, "org.apache.kafka.connect.cli.ConnectDistributed", conf)
	if err != nil {
		t.Fatalf("start the Kafka Connect worker: %v", err)
	}
	c := &ConnectMM2{process: p, REST: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	c.killWith(t, "the Kafka Connect worker of MirrorMaker 2")

	connectors := job.StrimziConnectors()
	names := make([]string, 0, len(connectors))
	for name := range connectors {
		names = append(names, name)
	}
	slices.Sort(names)
	// The worker answers 404 or 409 until it joined its group and read
	// its configs topic.
	for _, name := range names {
		WaitUntil(t, startTimeout, "the Connect worker to take connector "+name, func() error {
			if c.Exited() {
				t.Fatalf("the Kafka Connect worker exited; its log is %s", c.Log)
			}
			return c.put(name, connectors[name])
		})
	}
	for _, name := range names {
		WaitUntil(t, startTimeout, "connector "+name+" and its tasks to run", func() error {
			if c.Exited() {
				t.Fatalf("the Kafka Connect worker exited; its log is %s", c.Log)
			}
			st, err := c.Status(name)
			if err != nil {
				return err
			}
			if failed := st.failed(); failed != "" {
				t.Fatalf("connector %s failed: %s", name, failed)
			}
			return st.running(strings.HasSuffix(name, "."+mirrorSource))
		})
	}
	return c
}

// connectWorkerProperties is the worker's config as Strimzi writes it for
// a KafkaMirrorMaker2 (KafkaConnectConfigurationBuilder, with its
// KafkaMirrorMaker2Configuration defaults): the target's bootstrap
// servers, Strimzi's group and topics, ByteArrayConverter for keys,
// values and headers (Strimzi sets them on the worker, dedicated mode on
// each connector), and the file config provider; then what a one-broker
// bed needs: replication factors of 1 and the REST listener on port.
func connectWorkerProperties(bootstrap string, port int) string {
	const byteArray = "org.apache.kafka.connect.converters.ByteArrayConverter"
	return fmt.Sprintf(`bootstrap.servers=%s
security.protocol=PLAINTEXT
group.id=%s
offset.storage.topic=%s
config.storage.topic=%s
status.storage.topic=%s
key.converter=%s
value.converter=%s
header.converter=%s
config.providers=file
config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
offset.storage.replication.factor=1
config.storage.replication.factor=1
status.storage.replication.factor=1
listeners=http://127.0.0.1:%d
rest.advertised.host.name=127.0.0.1
rest.advertised.port=%d
`, bootstrap, StrimziGroup, StrimziOffsetsTopic, StrimziConfigsTopic, StrimziStatusTopic, byteArray, byteArray, byteArray, port, port)
}

// put creates a connector, or updates one whose config differs (PUT
// /connectors/NAME/config), as Strimzi's operator reconciles them: Connect
// before 4.0 restarts a connector on every put, its config changed or not.
func (c *ConnectMM2) put(name string, config map[string]string) error {
	path := c.REST + "/connectors/" + url.PathEscape(name) + "/config"
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if body, err := c.do(req); err == nil {
		var current map[string]string
		if err := json.Unmarshal(body, &current); err != nil {
			return fmt.Errorf("config of %s: %w: %s", name, err, body)
		}
		delete(current, "name")
		if maps.Equal(current, config) {
			return nil
		}
	}
	body, err := json.Marshal(config)
	if err != nil {
		return err
	}
	req, err = http.NewRequest(http.MethodPut, path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = c.do(req)
	return err
}

// ConnectorStatus is a connector's state and its tasks', as Connect's
// REST API reports them (GET /connectors/NAME/status).
type ConnectorStatus struct {
	Connector struct {
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"tasks"`
}

// Status returns a connector's status.
func (c *ConnectMM2) Status(name string) (ConnectorStatus, error) {
	var st ConnectorStatus
	req, err := http.NewRequest(http.MethodGet, c.REST+"/connectors/"+url.PathEscape(name)+"/status", nil)
	if err != nil {
		return st, err
	}
	body, err := c.do(req)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("status of %s: %w: %s", name, err, body)
	}
	return st, nil
}

// failed is the first failure the status reports, "" when none.
func (s ConnectorStatus) failed() string {
	if s.Connector.State == "FAILED" {
		return s.Connector.Trace
	}
	for _, task := range s.Tasks {
		if task.State == "FAILED" {
			return fmt.Sprintf("task %d: %s", task.ID, task.Trace)
		}
	}
	return ""
}

// running says what does not run yet: the connector, a task, or, when
// tasks are wanted, any task at all (a connector with nothing to do,
// such as a checkpoint connector that finds no group, starts none).
func (s ConnectorStatus) running(tasks bool) error {
	if s.Connector.State != "RUNNING" {
		return fmt.Errorf("the connector is %q", s.Connector.State)
	}
	if tasks && len(s.Tasks) == 0 {
		return fmt.Errorf("no task yet")
	}
	for _, task := range s.Tasks {
		if task.State != "RUNNING" {
			return fmt.Errorf("task %d is %q", task.ID, task.State)
		}
	}
	return nil
}

// do sends a request to the REST API and returns the body of a 2xx answer.
func (c *ConnectMM2) do(req *http.Request) ([]byte, error) {
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, body)
	}
	return body, nil
}

// The connector classes of a KafkaMirrorMaker2 mirror, which Strimzi also
// names its connectors after: <source>-><target>.<class>.
const (
	mirrorSource     = "MirrorSourceConnector"
	mirrorCheckpoint = "MirrorCheckpointConnector"
	mirrorHeartbeat  = "MirrorHeartbeatConnector"
)

// mirrorConnector is one connector of the mirror of a KafkaMirrorMaker2
// resource: its field (sourceConnector...), class and config.
type mirrorConnector struct {
	field, class string
	tasksMax     int
	config       map[string]string
}

// strimziMirror is the mirror of the KafkaMirrorMaker2 resource that asks
// for what Properties asks of a dedicated-mode MM2: the identity policy
// and offset syncs on the target for each connector that reads them,
// group offsets checkpointed and synced every second, and replication
// factors one broker can hold. Topics and groups are its topicsPattern
// and groupsPattern.
func (j MM2Job) strimziMirror() []mirrorConnector {
	const policy = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
	source := map[string]string{
		"replication.policy.class":              policy,
		"offset-syncs.topic.location":           "target",
		"replication.factor":                    "1",
		"offset-syncs.topic.replication.factor": "1",
	}
	if j.RefreshTopics {
		source["refresh.topics.interval.seconds"] = "1"
	}
	return []mirrorConnector{
		{field: "sourceConnector", class: mirrorSource, tasksMax: j.TasksMax, config: source},
		{field: "checkpointConnector", class: mirrorCheckpoint, config: map[string]string{
			"replication.policy.class":             policy,
			"offset-syncs.topic.location":          "target",
			"checkpoints.topic.replication.factor": "1",
			"sync.group.offsets.enabled":           "true",
			"sync.group.offsets.interval.seconds":  "1",
			"emit.checkpoints.interval.seconds":    "1",
			"refresh.groups.interval.seconds":      "1",
		}},
		{field: "heartbeatConnector", class: mirrorHeartbeat, config: map[string]string{
			"replication.policy.class":            policy,
			"heartbeats.topic.replication.factor": "1",
		}},
	}
}

// StrimziConnectors are the connectors Strimzi's operator makes of the
// job's mirror (KafkaMirrorMaker2Connectors), by name
// <source>-><target>.<class>, each with the config it puts to Connect:
// connector.class and tasks.max, each cluster's alias, bootstrap servers
// and security protocol under target.cluster. and source.cluster., the
// mirror's config for the connector, then topics and groups from the
// mirror's patterns.
func (j MM2Job) StrimziConnectors() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, mc := range j.strimziMirror() {
		config := map[string]string{
			"connector.class":                  "org.apache.kafka.connect.mirror." + mc.class,
			"target.cluster.alias":             j.Target,
			"target.cluster.bootstrap.servers": j.TargetAddr,
			"target.cluster.security.protocol": "PLAINTEXT",
			"source.cluster.alias":             j.Source,
			"source.cluster.bootstrap.servers": j.SourceAddr,
			"source.cluster.security.protocol": "PLAINTEXT",
			"topics":                           j.Topics,
			"groups":                           j.Groups,
		}
		maps.Copy(config, mc.config)
		if mc.tasksMax > 0 {
			config["tasks.max"] = fmt.Sprint(mc.tasksMax)
		}
		out[j.Source+"->"+j.Target+"."+mc.class] = config
	}
	return out
}

// StrimziMirror is the mirror of the KafkaMirrorMaker2 resource whose
// connectors StrimziConnectors lists, as lines of a native kmirror
// configuration (the resource's spec), indented by four spaces as
// NativeConfig's mirror lines are: the same resource, read by kmirror.
func (j MM2Job) StrimziMirror() string {
	var b strings.Builder
	fmt.Fprintf(&b, "    topicsPattern: %q\n    groupsPattern: %q\n", j.Topics, j.Groups)
	for _, mc := range j.strimziMirror() {
		fmt.Fprintf(&b, "    %s:\n", mc.field)
		if mc.tasksMax > 0 {
			fmt.Fprintf(&b, "      tasksMax: %d\n", mc.tasksMax)
		}
		b.WriteString("      config:\n")
		keys := make([]string, 0, len(mc.config))
		for k := range mc.config {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "        %s: %q\n", k, mc.config[k])
		}
	}
	return b.String()
}
