package httpapi

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/kmirror/kmirror/internal/status"
)

// ui is the status page: index.html polls /api/v1/status and renders it.
//
//go:embed ui/index.html ui/app.js ui/style.css
var ui embed.FS

// index is the page's HTML. The server fills in a first render of the
// current report (flows, topics with their step and copied, groups with
// their verdict), escaped by html/template, so that the page shows the
// migration without JavaScript, or before its first poll; app.js
// replaces it with the full page at its first poll.
var index = template.Must(template.ParseFS(ui, "ui/index.html"))

// registerPage serves the page at "/" and its two assets next to it. Only
// these exact paths are served: anything else falls through to 404.
func registerPage(mux *http.ServeMux, report func(context.Context) (status.Report, error), log *slog.Logger) {
	mux.Handle("GET /{$}", gzipped(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var data struct{ Report *firstReport }
		if report != nil {
			ctx, cancel := context.WithTimeout(r.Context(), StatusTimeout)
			rep, err := report(ctx)
			cancel()
			// Without a report the page says it waits for one; app.js
			// shows why at its first poll.
			if err == nil {
				data.Report = first(rep)
			}
		}
		var b bytes.Buffer
		if err := index.Execute(&b, data); err != nil {
			log.Error("render the status page", "err", err)
			http.Error(w, "cannot render the page", http.StatusInternalServerError)
			return
		}
		// Revalidate on every load so that an upgraded kmirror's page is
		// never mixed with an old cached script.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	})))
	for pattern, file := range map[string]string{
		"GET /app.js":    "ui/app.js",
		"GET /style.css": "ui/style.css",
	} {
		mux.Handle(pattern, gzipped(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, ui, file)
		})))
	}
}

// FirstRenderRows bounds the topics and groups of each flow the page's
// first render lists; the rest are counted ("and 9 950 more groups").
const FirstRenderRows = 50

// firstReport is a report as the first render shows it.
type firstReport struct {
	Time  time.Time
	Flows []firstFlow
}

type firstFlow struct {
	status.Flow
	MoreTopics, MoreGroups int
}

func first(r status.Report) *firstReport {
	out := &firstReport{Time: r.Time}
	for _, f := range r.Flows {
		ff := firstFlow{Flow: f, MoreTopics: max(0, len(f.Topics)-FirstRenderRows), MoreGroups: max(0, len(f.Groups)-FirstRenderRows)}
		ff.Topics = f.Topics[:min(len(f.Topics), FirstRenderRows)]
		ff.Groups = f.Groups[:min(len(f.Groups), FirstRenderRows)]
		out.Flows = append(out.Flows, ff)
	}
	return out
}
