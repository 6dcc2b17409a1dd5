package preflight

import (
	"strings"
	"testing"
)

// When writes with acks=all fail for min.insync.replicas: a topic's
// replicas in sync against min(min.insync.replicas, replicas) on Kafka
// 3.7 and later, against min.insync.replicas itself before. (kfake does
// not model it; on Kafka 3.9 and 4.x, TestPreflightNamesWhatRunFailsOn
// shows a topic of one replica and min.insync.replicas=2 copied.)
func TestMinInsync(t *testing.T) {
	tests := []struct {
		name      string
		minInsync string
		produce   int16 // the brokers' Produce version
		rs        replicaState
		want      Status
		says      string
	}{
		{"met", "2", 11, replicaState{replicas: 3, inSync: 3, partition: 0}, OK, "3 replicas in sync"},
		{"one replica down", "2", 11, replicaState{replicas: 3, inSync: 2, partition: 4}, OK, "2 replicas in sync"},
		{"two replicas down", "2", 11, replicaState{replicas: 3, inSync: 1, partition: 4}, Fails, "partition 4 has 1 of its 3 replicas in sync"},
		{"above the replicas, Kafka 3.7+", "2", 11, replicaState{replicas: 1, inSync: 1}, OK, "which the brokers require instead"},
		{"above the replicas, older Kafka", "2", 9, replicaState{replicas: 1, inSync: 1}, Fails, "--add-config min.insync.replicas=1"},
		{"above the replicas it would be created with, older Kafka", "3", 9, replicaState{replicas: 2, inSync: 2, partition: -1}, Fails, "raise the replication factor"},
		{"to create", "1", 11, replicaState{replicas: 1, inSync: 1, partition: -1}, OK, "in sync once created"},
		{"not a number", "two", 11, replicaState{replicas: 1, inSync: 1}, Unknown, "is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq := &requirer{}
			facts := clusterFacts{brokers: 3, produceVersion: tt.produce}
			s := settings{from: "its configs", values: map[string]string{"min.insync.replicas": tt.minInsync}}
			rq.minInsync("target", "topic:orders", "orders", s, facts, nil, tt.rs)
			if len(rq.out) != 1 {
				t.Fatalf("%d requirements, want 1", len(rq.out))
			}
			if r := rq.out[0]; r.Status != tt.want || !strings.Contains(r.Detail, tt.says) {
				t.Errorf("%s: %s, want %s saying %q", r.Status, r.Detail, tt.want, tt.says)
			}
		})
	}
}
