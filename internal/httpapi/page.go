package httpapi

import (
	"embed"
	"net/http"
)

// ui is the status page: index.html polls /api/v1/status and renders it.
//
//go:embed ui/index.html ui/app.js ui/style.css
var ui embed.FS

// registerPage serves the page at "/" and its two assets next to it. Only
// these exact paths are served: anything else falls through to 404.
func registerPage(mux *http.ServeMux) {
	for pattern, file := range map[string]string{
		"GET /{$}":       "ui/index.html",
		"GET /app.js":    "ui/app.js",
		"GET /style.css": "ui/style.css",
	} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			// Revalidate on every load so that an upgraded kmirror's page is
			// never mixed with an old cached script.
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, ui, file)
		})
	}
}
