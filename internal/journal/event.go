package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// Version is the format version of keys and values.
const Version = 1

// Kind is the step an event records.
type Kind string

// The steps, in the order a migration takes them. Topic events name a
// topic, group events a group.
const (
	Started    Kind = "started"     // topic: the flow began copying it
	CaughtUp   Kind = "caught-up"   // topic: every partition copied up to the source's end
	Translated Kind = "translated"  // group: every committed offset translated and committed on the target
	Ready      Kind = "ready"       // group: a migrate ready verdict, ready or not, with its reasons
	Switched   Kind = "switched"    // group: its consumers seen active on the target
	Drained    Kind = "drained"     // topic: migrate drain found the source all on the target
	Verified   Kind = "verified"    // topic: a verify result, identical or not, with its counts
	Removed    Kind = "removed"     // topic: left the selection
	RolledBack Kind = "rolled-back" // group: migrate rollback committed its offsets on the source
	HandedBack Kind = "handed-back" // topic: migrate hand-back wrote MirrorMaker 2's positions, for MM2 to copy on
)

// order lists the kinds in the order a migration takes them.
var order = []Kind{Started, CaughtUp, Translated, Ready, Switched, Drained, Verified, Removed, RolledBack, HandedBack}

// kinds says which subject each kind is about.
var kinds = map[Kind]SubjectKind{
	Started: TopicSubject, CaughtUp: TopicSubject, Drained: TopicSubject, Verified: TopicSubject, Removed: TopicSubject, HandedBack: TopicSubject,
	Translated: GroupSubject, Ready: GroupSubject, Switched: GroupSubject, RolledBack: GroupSubject,
}

// SubjectKind is what an event is about: a topic or a group.
type SubjectKind string

const (
	TopicSubject SubjectKind = "topic"
	GroupSubject SubjectKind = "group"
)

// Verdicts of Ready and Verified events.
const (
	VerdictReady     = "ready"
	VerdictNotReady  = "not-ready"
	VerdictIdentical = "identical"
	VerdictDiffers   = "differences"
)

// Event is one step of one topic or group of a flow.
type Event struct {
	Flow    string // "source->target"
	Subject SubjectKind
	Name    string // the topic (source name) or group
	Kind    Kind
	Time    time.Time
	// By says what established it: "kmirror run (worker …)",
	// "kmirror migrate ready", "kmirror verify".
	By string
	// Verdict of a Ready or Verified event.
	Verdict string
	// Reasons of a verdict, as the command printed them.
	Reasons []string
	// Counts are the figures of the step: verify's records compared,
	// missing, extra; drain's records.
	Counts map[string]int64
	// Topics a group event's group reads (source names), so that a
	// group's story follows its topics after they left the selection.
	Topics []string
}

// key and value are the records' JSON, fields in this order so that equal
// keys are equal bytes (compaction compares bytes).
type key struct {
	V     int    `json:"v"`
	Flow  string `json:"flow"`
	Topic string `json:"topic,omitempty"`
	Group string `json:"group,omitempty"`
	Event Kind   `json:"event"`
}

type value struct {
	V       int              `json:"v"`
	Time    time.Time        `json:"time"`
	By      string           `json:"by"`
	Verdict string           `json:"verdict,omitempty"`
	Reasons []string         `json:"reasons,omitempty"`
	Counts  map[string]int64 `json:"counts,omitempty"`
	Topics  []string         `json:"topics,omitempty"`
}

// maxRecord bounds what Decode reads: journal records are small, and a
// reader of a topic others may write should not take a huge one apart.
const maxRecord = 1 << 20

// Validate reports what makes an event unfit for the journal.
func (e Event) Validate() error {
	var errs []error
	if e.Flow == "" {
		errs = append(errs, errors.New("no flow"))
	}
	want, ok := kinds[e.Kind]
	switch {
	case !ok:
		errs = append(errs, fmt.Errorf("unknown event %q", e.Kind))
	case e.Subject != want:
		errs = append(errs, fmt.Errorf("a %s event is about a %s, not a %s", e.Kind, want, e.Subject))
	}
	if e.Name == "" {
		errs = append(errs, fmt.Errorf("no %s named", e.Subject))
	}
	if e.Time.IsZero() {
		errs = append(errs, errors.New("no time"))
	}
	if e.Subject == TopicSubject && len(e.Topics) > 0 {
		errs = append(errs, errors.New("topics named by a topic event"))
	}
	for _, s := range slices.Concat([]string{e.Flow, e.Name, e.By, e.Verdict}, e.Reasons, e.Topics) {
		if !utf8.ValidString(s) {
			errs = append(errs, errors.New("text that is not UTF-8"))
			break
		}
	}
	for k := range e.Counts {
		if k == "" || !utf8.ValidString(k) {
			errs = append(errs, errors.New("a count without a valid name"))
			break
		}
	}
	return errors.Join(errs...)
}

// Encode returns the record key and value of e.
func Encode(e Event) (k, v []byte, err error) {
	if err := e.Validate(); err != nil {
		return nil, nil, fmt.Errorf("journal event: %w", err)
	}
	kk := key{V: Version, Flow: e.Flow, Event: e.Kind}
	if e.Subject == TopicSubject {
		kk.Topic = e.Name
	} else {
		kk.Group = e.Name
	}
	if k, err = marshal(kk); err != nil {
		return nil, nil, fmt.Errorf("journal key: %w", err)
	}
	// Times are kept to the millisecond in UTC: what Kafka's timestamps
	// hold, and what reads back equal.
	vv := value{V: Version, Time: e.Time.UTC().Truncate(time.Millisecond), By: e.By, Verdict: e.Verdict, Reasons: e.Reasons, Counts: e.Counts, Topics: e.Topics}
	if v, err = marshal(vv); err != nil {
		return nil, nil, fmt.Errorf("journal value: %w", err)
	}
	return k, v, nil
}

// Decode reads a journal record. A tombstone (nil value) is an error: it
// forgets a step and is no event.
func Decode(k, v []byte) (Event, error) {
	if len(k) > maxRecord || len(v) > maxRecord {
		return Event{}, fmt.Errorf("journal record of %d bytes: larger than any journal record", len(k)+len(v))
	}
	var kk key
	if err := strict(k, &kk); err != nil {
		return Event{}, fmt.Errorf("journal key: %w", err)
	}
	if kk.V != Version {
		return Event{}, fmt.Errorf("journal key: version %d, not %d", kk.V, Version)
	}
	if v == nil {
		return Event{}, errors.New("journal value: a tombstone")
	}
	var vv value
	if err := strict(v, &vv); err != nil {
		return Event{}, fmt.Errorf("journal value: %w", err)
	}
	if vv.V != Version {
		return Event{}, fmt.Errorf("journal value: version %d, not %d", vv.V, Version)
	}
	e := Event{Flow: kk.Flow, Kind: kk.Event, Time: vv.Time.UTC().Truncate(time.Millisecond), By: vv.By, Verdict: vv.Verdict, Reasons: vv.Reasons, Counts: vv.Counts, Topics: vv.Topics}
	switch {
	case kk.Topic != "" && kk.Group == "":
		e.Subject, e.Name = TopicSubject, kk.Topic
	case kk.Group != "" && kk.Topic == "":
		e.Subject, e.Name = GroupSubject, kk.Group
	default:
		return Event{}, errors.New("journal key: names neither one topic nor one group")
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("journal record: %w", err)
	}
	return e, nil
}

// marshal is json.Marshal without escaping <, > and &: the records are
// read by people and tools, not embedded in HTML, and "A->B" reads better.
func marshal(x any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// strict decodes one JSON object, refusing unknown fields and anything
// after it: a record of another format is not read as half an event.
func strict(b []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	return nil
}

// Equal reports whether two events are the same step with the same facts.
func (e Event) Equal(o Event) bool {
	return e.Flow == o.Flow && e.Subject == o.Subject && e.Name == o.Name && e.Kind == o.Kind && e.Time.Equal(o.Time) &&
		e.By == o.By && e.Verdict == o.Verdict && slices.Equal(e.Reasons, o.Reasons) && maps.Equal(e.Counts, o.Counts) && slices.Equal(e.Topics, o.Topics)
}
