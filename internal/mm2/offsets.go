package mm2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sourceConnector is the class name MM2's copying connector is named
// after: the whole name in dedicated mode, its suffix under Strimzi.
const sourceConnector = "MirrorSourceConnector"

// OffsetsTopics are the Connect offsets topics, on the target, where an MM2
// replicating from source may have stored its positions: dedicated mode's,
// then Strimzi's default.
func OffsetsTopics(source string) []string {
	return []string{"mm2-offsets." + source + ".internal", "mirrormaker2-cluster-offsets"}
}

// WorkerGroups are the groups, on the target, of the Kafka Connect workers
// an MM2 replicating from source runs: dedicated mode's, then Strimzi's
// default. A group with members means MM2 still runs.
func WorkerGroups(source string) []string {
	return []string{source + "-mm2", "mirrormaker2-cluster"}
}

// Look lists where to look, on the target, for what an MM2 replicating
// from source left: its Connect offsets topics and its worker groups, those
// the target's Connect config names (offsetsTopic, group, when set) first,
// then MM2's defaults.
func Look(source, offsetsTopic, group string) (topics, groups []string) {
	return withFirst(offsetsTopic, OffsetsTopics(source)), withFirst(group, WorkerGroups(source))
}

// withFirst puts name, when set, before defaults.
func withFirst(name string, defaults []string) []string {
	if name == "" || slices.Contains(defaults, name) {
		return defaults
	}
	return append([]string{name}, defaults...)
}

// Partition names a source partition, as MM2's records do; it is every
// package's partition key (progress.Partition).
type Partition struct {
	Topic     string
	Partition int32
}

// Decode decodes one record of a Connect offsets topic: the source
// partition and next, where MM2 resumes it (the offset after the last one it
// committed). ok is false for a record of another connector or another
// source cluster; reset is true for a null value, which forgets the
// partition's position.
func Decode(key, value []byte, source string) (p Partition, next int64, reset, ok bool, err error) {
	var k []json.RawMessage
	if err := json.Unmarshal(key, &k); err != nil || len(k) != 2 {
		return p, 0, false, false, fmt.Errorf("key %q is not [connector, partition]", key)
	}
	var connector string
	if err := json.Unmarshal(k[0], &connector); err != nil {
		return p, 0, false, false, fmt.Errorf("key %q: connector name: %w", key, err)
	}
	if connector != sourceConnector && !strings.HasSuffix(connector, "."+sourceConnector) {
		return p, 0, false, false, nil
	}
	var part struct {
		Cluster   *string `json:"cluster"`
		Topic     *string `json:"topic"`
		Partition *int32  `json:"partition"`
	}
	if err := json.Unmarshal(k[1], &part); err != nil || part.Cluster == nil || part.Topic == nil || part.Partition == nil || *part.Partition < 0 {
		return p, 0, false, false, fmt.Errorf("key %q: source partition is not {cluster, topic, partition}", key)
	}
	if *part.Cluster != source {
		return p, 0, false, false, nil
	}
	p = Partition{*part.Topic, *part.Partition}
	if value == nil {
		return p, 0, true, true, nil
	}
	var v struct {
		Offset *int64 `json:"offset"`
	}
	if err := json.Unmarshal(value, &v); err != nil || v.Offset == nil || *v.Offset < 0 || *v.Offset == math.MaxInt64 {
		return p, 0, false, false, fmt.Errorf("value %q of %s[%d] is not {offset}", value, p.Topic, p.Partition)
	}
	return p, *v.Offset + 1, false, true, nil
}

// Positions folds the records of a Connect offsets topic into where MM2
// resumes each partition it copied from source. recs must keep the order of
// each topic partition (a key always lands in the same one). A record it
// cannot read is returned as an error and skipped.
func Positions(recs []*kgo.Record, source string) (map[Partition]int64, error) {
	out := map[Partition]int64{}
	var errs []error
	for _, r := range recs {
		p, next, reset, ok, err := Decode(r.Key, r.Value, source)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s[%d] at offset %d: %w", r.Topic, r.Partition, r.Offset, err))
		case !ok:
		case reset:
			delete(out, p)
		default:
			out[p] = next
		}
	}
	return out, errors.Join(errs...)
}

// OffsetsTopicPartitions is Connect's default offset.storage.partitions:
// a worker that finds its offsets topic missing creates it compacted with
// this many partitions.
const OffsetsTopicPartitions = 25

// Layout is where an MM2 started on a configuration keeps its source
// positions: its Connect offsets topic on the target, and the name of
// its copying connector, which the topic's keys begin with.
type Layout struct {
	OffsetsTopic string
	Connector    string
}

// LayoutOf is the layout of an MM2 replicating from source to target:
// dedicated mode's (connect-mirror-maker.sh on a properties file) or
// Strimzi's (a KafkaMirrorMaker2 resource, a Connect cluster with one
// connector per flow named source->target.MirrorSourceConnector).
// offsetsTopic, the target's offset.storage.topic, wins when set.
func LayoutOf(source, target, offsetsTopic string, strimzi bool) Layout {
	topics := OffsetsTopics(source)
	l := Layout{OffsetsTopic: topics[0], Connector: sourceConnector}
	if strimzi {
		l = Layout{OffsetsTopic: topics[1], Connector: source + "->" + target + "." + sourceConnector}
	}
	if offsetsTopic != "" {
		l.OffsetsTopic = offsetsTopic
	}
	return l
}

// Encode returns the record of a Connect offsets topic that makes the
// connector resume source partition p at next: Connect's JSON converter's
// bytes (no schema, no spaces), key
// ["<connector>",{"cluster":"<source>","partition":N,"topic":"T"}] and
// value {"offset":next-1}, the last offset copied. The bytes must be
// Connect's own: the worker looks positions up by the key's bytes, and
// partitions the topic by their hash (Kafka's murmur2, as
// kgo.StickyKeyPartitioner(nil) does), so a key spelt otherwise would be
// another key beside MM2's. The fields are in the order Java's HashMap
// gives MirrorUtils.wrapPartition's, which is also sorted order.
func (l Layout) Encode(source string, p Partition, next int64) (key, value []byte, err error) {
	type partition struct {
		Cluster   string `json:"cluster"`
		Partition int32  `json:"partition"`
		Topic     string `json:"topic"`
	}
	key, err = compactJSON([]any{l.Connector, partition{source, p.Partition, p.Topic}})
	if err != nil {
		return nil, nil, err
	}
	value, err = compactJSON(struct {
		Offset int64 `json:"offset"`
	}{next - 1})
	return key, value, err
}

// compactJSON encodes v as Jackson does: '>' of "A->B" stays as it is.
func compactJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
