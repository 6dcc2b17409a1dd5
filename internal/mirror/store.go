package mirror

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/cluster"
	"github.com/kmirror/kmirror/internal/kstruct"
	"github.com/kmirror/kmirror/internal/offsetmap"
)

// ProgressTopic is the name of kmirror's progress topic on the target for
// flows from the source cluster sourceAlias.
func ProgressTopic(sourceAlias string) string { return "kmirror-progress." + sourceAlias + ".internal" }

// WorkerHeader is the header of a progress record that names the worker
// (its member id in the workers' group) that wrote it.
const WorkerHeader = "kmirror.worker"

// partitionKey names a source partition.
type partitionKey struct {
	topic     string
	partition int32
}

// progress is where one source partition has been copied up to.
//
//	key:   INT16 1 (version), topic STRING, partition INT32
//	value: INT16 1 (version), source cluster id STRING, topic id 16 bytes,
//	       start INT64, end source offset INT64, end target offset INT64
//
// start is the first source offset copied (or still covered by the offset
// map), end the next source offset to copy and the next target offset.
type progress struct {
	clusterID string
	topicID   [16]byte
	start     int64
	end       offsetmap.Segment
}

func encodeProgress(k partitionKey, p progress) (key, value []byte) {
	kw := kstruct.Writer{B: make([]byte, 0, 8+len(k.topic))}
	kw.Int16(1)
	kw.String(k.topic)
	kw.Int32(k.partition)
	vw := kstruct.Writer{B: make([]byte, 0, 44+len(p.clusterID))}
	vw.Int16(1)
	vw.String(p.clusterID)
	vw.Bytes(p.topicID[:])
	vw.Int64(p.start)
	vw.Int64(p.end.Source)
	vw.Int64(p.end.Target)
	return kw.B, vw.B
}

func decodeProgress(key, value []byte) (partitionKey, progress, error) {
	kr := kstruct.Reader{B: key}
	if v := kr.Int16(); kr.Err == nil && v != 1 {
		return partitionKey{}, progress{}, fmt.Errorf("progress key: unknown version %d", v)
	}
	k := partitionKey{topic: kr.String(), partition: kr.Int32()}
	if err := kr.Done(); err != nil {
		return partitionKey{}, progress{}, fmt.Errorf("progress key: %w", err)
	}
	vr := kstruct.Reader{B: value}
	if v := vr.Int16(); vr.Err == nil && v != 1 {
		return partitionKey{}, progress{}, fmt.Errorf("progress value: unknown version %d", v)
	}
	var p progress
	p.clusterID = vr.String()
	copy(p.topicID[:], vr.Fixed(16))
	p.start, p.end.Source, p.end.Target = vr.Int64(), vr.Int64(), vr.Int64()
	if err := vr.Done(); err != nil {
		return partitionKey{}, progress{}, fmt.Errorf("progress value: %w", err)
	}
	if p.start < 0 || p.end.Source < p.start || p.end.Target < 0 {
		return partitionKey{}, progress{}, fmt.Errorf("progress value: invalid range %d..%d→%d", p.start, p.end.Source, p.end.Target)
	}
	return k, p, nil
}

// readTopic reads a whole (compacted) topic and returns the latest value of
// each key; a tombstone removes the key. A topic that does not exist holds
// nothing.
func readTopic(ctx context.Context, opts []kgo.Opt, topic string) (map[string][]byte, error) {
	latest := map[string][]byte{}
	err := cluster.ScanTopic(ctx, opts, topic, func(r *kgo.Record) {
		if r.Value == nil {
			delete(latest, string(r.Key))
		} else {
			latest[string(r.Key)] = r.Value
		}
	})
	return latest, err
}
