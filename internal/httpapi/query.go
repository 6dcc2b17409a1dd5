package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/status"
)

// MaxLimit bounds a page of /api/v1/status.
const MaxLimit = 1000

// maxWorst bounds the worst lists of /api/v1/status/summary.
const maxWorst = 100

// The parameters of /api/v1/status (docs/operations.md, "Status at
// scale"); any other is refused with 400.
const (
	paramTopic   = "topic"
	paramGroup   = "group"
	paramSearch  = "search"
	paramPhase   = "phase"
	paramVerdict = "verdict"
	paramLagging = "lagging"
	paramOffset  = "offset"
	paramLimit   = "limit"
	paramWorst   = "worst"
)

var (
	statusParams  = []string{paramTopic, paramGroup, paramSearch, paramPhase, paramVerdict, paramLagging, paramOffset, paramLimit}
	summaryParams = []string{paramWorst}
	historyParams = []string{paramTopic}
	verdicts      = []string{status.VerdictReady, status.VerdictNotReady, status.VerdictSwitched}
)

// badQuery is a request's parameter that cannot be answered: a 400 whose
// message names it.
type badQuery struct{ msg string }

func (e badQuery) Error() string { return e.msg }

// known refuses a parameter that is not in allowed.
func known(v url.Values, allowed []string) error {
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if !slices.Contains(allowed, k) {
			return badQuery{fmt.Sprintf("unknown parameter %q: this endpoint takes %s", k, strings.Join(allowed, ", "))}
		}
	}
	return nil
}

// parseQuery reads /api/v1/status's parameters.
func parseQuery(v url.Values) (status.Query, error) {
	var q status.Query
	if err := known(v, statusParams); err != nil {
		return q, err
	}
	q.Topics, q.Groups = v[paramTopic], v[paramGroup]
	for _, p := range []string{paramTopic, paramGroup} {
		if slices.Contains(v[p], "") {
			return q, badQuery{fmt.Sprintf("parameter %q is empty: give a name", p)}
		}
	}
	if len(v[paramSearch]) > 1 {
		return q, badQuery{fmt.Sprintf("parameter %q is given %d times: give it once", paramSearch, len(v[paramSearch]))}
	}
	q.Search = v.Get(paramSearch)
	for _, p := range v[paramPhase] {
		if !slices.Contains(journal.Order, journal.Phase(p)) {
			return q, badQuery{fmt.Sprintf("parameter %q: %q is no phase (%s)", paramPhase, p, joinPhases())}
		}
		q.Phases = append(q.Phases, p)
	}
	for _, p := range v[paramVerdict] {
		if !slices.Contains(verdicts, p) {
			return q, badQuery{fmt.Sprintf("parameter %q: %q is no verdict (%s)", paramVerdict, p, strings.Join(verdicts, ", "))}
		}
		q.Verdicts = append(q.Verdicts, p)
	}
	if s, ok := single(v, paramLagging); ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, badQuery{fmt.Sprintf("parameter %q: %q is not true or false (1 or 0)", paramLagging, s)}
		}
		q.Lagging = b
	}
	var err error
	if q.Offset, err = number(v, paramOffset, 0, 1<<31-1); err != nil {
		return q, err
	}
	if q.Limit, err = number(v, paramLimit, 1, MaxLimit); err != nil {
		return q, err
	}
	return q, nil
}

// parseWorst reads /api/v1/status/summary's parameters.
func parseWorst(v url.Values) (int, error) {
	if err := known(v, summaryParams); err != nil {
		return 0, err
	}
	n, err := number(v, paramWorst, 1, maxWorst)
	if n == 0 {
		n = status.DefaultWorst
	}
	return n, err
}

func single(v url.Values, name string) (string, bool) {
	s, ok := v[name]
	if !ok {
		return "", false
	}
	return s[len(s)-1], true
}

// number reads an integer parameter in [lo, hi]; 0 when absent.
func number(v url.Values, name string, lo, hi int) (int, error) {
	all, ok := v[name]
	if !ok {
		return 0, nil
	}
	if len(all) > 1 {
		return 0, badQuery{fmt.Sprintf("parameter %q is given %d times: give it once", name, len(all))}
	}
	n, err := strconv.Atoi(all[0])
	if err != nil || n < lo || n > hi {
		return 0, badQuery{fmt.Sprintf("parameter %q: %q is not an integer from %d to %d", name, all[0], lo, hi)}
	}
	return n, nil
}

func joinPhases() string {
	s := make([]string, len(journal.Order))
	for i, p := range journal.Order {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// report reads the current report for a request, answering the error
// itself when it cannot; ok is false then.
func report(w http.ResponseWriter, r *http.Request, get func(context.Context) (status.Report, error), log *slog.Logger) (status.Report, bool) {
	if get == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "status is not available"})
		return status.Report{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), StatusTimeout)
	defer cancel()
	rep, err := get(ctx)
	if err != nil {
		// Debug: a page left open polls every 2 s, and what broke the
		// report (an unreachable cluster) is already logged where it
		// happens.
		log.Debug("status report", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "read status: " + err.Error()})
		return status.Report{}, false
	}
	return rep, true
}

func statusHandler(get func(context.Context) (status.Report, error), log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q, err := parseQuery(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		if rep, ok := report(w, r, get, log); ok {
			writeJSON(w, http.StatusOK, q.Apply(rep))
		}
	}
}

func summaryHandler(get func(context.Context) (status.Report, error), log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		worst, err := parseWorst(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		if rep, ok := report(w, r, get, log); ok {
			writeJSON(w, http.StatusOK, status.Summarize(rep, worst))
		}
	}
}

// historyHandler serves the lag history, of the topics named by
// ?topic= when given (the page asks for the topics it shows).
func historyHandler(get func() status.LagHistory) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		v := r.URL.Query()
		if err := known(v, historyParams); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		if get == nil {
			get = status.NewHistory().Snapshot
		}
		h := get()
		if topics := v[paramTopic]; len(topics) > 0 {
			h.Flows = slices.Clone(h.Flows)
			for i, f := range h.Flows {
				h.Flows[i].Topics = slices.DeleteFunc(slices.Clone(f.Topics), func(t status.TopicHistory) bool {
					return !slices.Contains(topics, t.Topic)
				})
			}
		}
		writeJSON(w, http.StatusOK, h)
	}
}
