package policy

import "testing"

func TestReplicationNames(t *testing.T) {
	tests := []struct {
		class, sep            string
		topic, remote, source string
	}{
		{DefaultClass, ".", "orders", "src.orders", "src"},
		{DefaultName, "_", "orders", "src_orders", "src"},
		{IdentityClass, ".", "orders", "orders", ""},
		{IdentityName, ".", "heartbeats", "src.heartbeats", "src"},
		{StrimziIdentityClass, ".", "orders", "orders", ""},
		{StrimziIdentityClass, ".", "heartbeats", "heartbeats", ""},
	}
	for _, tt := range tests {
		r, err := NewReplication(tt.class, tt.sep, true)
		if err != nil {
			t.Fatalf("NewReplication(%q): %v", tt.class, err)
		}
		remote := r.RemoteTopic("src", tt.topic)
		if remote != tt.remote {
			t.Errorf("%s: RemoteTopic(%q) = %q, want %q", tt.class, tt.topic, remote, tt.remote)
		}
		if got := r.TopicSource(remote); got != tt.source {
			t.Errorf("%s: TopicSource(%q) = %q, want %q", tt.class, remote, got, tt.source)
		}
	}
}

func TestReplicationRejectsUnknownClass(t *testing.T) {
	if _, err := NewReplication("com.example.MyPolicy", ".", true); err == nil {
		t.Fatal("unknown class accepted")
	}
	if _, err := NewReplication(DefaultClass, "", true); err == nil {
		t.Fatal("empty separator accepted")
	}
}

func TestInternalTopics(t *testing.T) {
	for topic, want := range map[string]bool{
		"__consumer_offsets":       true,
		".hidden":                  true,
		"src.checkpoints.internal": true,
		"connect-offsets-internal": true,
		"heartbeats":               false,
		"orders":                   false,
	} {
		if got := IsInternal(topic); got != want {
			t.Errorf("IsInternal(%q) = %v, want %v", topic, got, want)
		}
	}
}

func TestInternalTopicNames(t *testing.T) {
	tests := []struct {
		sep               string
		internal          bool
		checkpoints, sync string
	}{
		{".", true, "src.checkpoints.internal", "mm2-offset-syncs.src.internal"},
		{"_", true, "src_checkpoints_internal", "mm2-offset-syncs_src_internal"},
		{"_", false, "src.checkpoints.internal", "mm2-offset-syncs.src.internal"},
	}
	for _, tt := range tests {
		r, err := NewReplication(DefaultName, tt.sep, tt.internal)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.CheckpointsTopic("src"); got != tt.checkpoints {
			t.Errorf("CheckpointsTopic = %q, want %q", got, tt.checkpoints)
		}
		if got := r.OffsetSyncsTopic("src"); got != tt.sync {
			t.Errorf("OffsetSyncsTopic = %q, want %q", got, tt.sync)
		}
	}
}
