package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/discover"
)

// NotSelectedError names topics that no flow of the configuration copies:
// there is nothing to verify for them, and most likely a typo.
type NotSelectedError struct {
	Topics []string
	// Flows describes each flow's topic filter, for the message.
	Flows []string
}

func (e *NotSelectedError) Error() string {
	what := "topic %s is"
	if len(e.Topics) > 1 {
		what = "topics %s are"
	}
	return fmt.Sprintf(what+" not selected by any flow (%s)", quoteJoin(e.Topics), strings.Join(e.Flows, "; "))
}

func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// flowTopics are the requested source topics one flow copies.
type flowTopics struct {
	flow   *config.Flow
	topics []string
}

// selectTopics assigns each requested source topic to the flows that copy
// it, by discovery's rule (discover.SelectTopic). It does not connect:
// whether the topic exists is learnt later.
func selectTopics(cfg *config.Config, topics []string) ([]flowTopics, error) {
	var out []flowTopics
	var unselected []string
	selected := map[string]bool{}
	for _, f := range cfg.Flows {
		ft := flowTopics{flow: f}
		for _, name := range topics {
			v, err := discover.SelectTopic(f, name)
			if err != nil {
				return nil, fmt.Errorf("flow %s: topic %q: %w", f.Name(), name, err)
			}
			if v.Selected && !slices.Contains(ft.topics, name) {
				ft.topics = append(ft.topics, name)
				selected[name] = true
			}
		}
		if len(ft.topics) > 0 {
			out = append(out, ft)
		}
	}
	for _, name := range topics {
		if !selected[name] && !slices.Contains(unselected, name) {
			unselected = append(unselected, name)
		}
	}
	if len(unselected) > 0 {
		e := &NotSelectedError{Topics: unselected}
		for _, f := range cfg.Flows {
			e.Flows = append(e.Flows, fmt.Sprintf("%s copies '%s' except '%s'", f.Name(), f.Topics, f.TopicsExclude))
		}
		return nil, e
	}
	return out, nil
}
