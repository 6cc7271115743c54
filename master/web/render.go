package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// pageNames are the templates under assets/templates, each rendered inside
// layout.html.
var pageNames = []string{"login", "fleet", "minion", "jobs", "job", "events", "network", "keys"}

var funcs = template.FuncMap{
	"ago": func(t any) string {
		var at time.Time
		switch v := t.(type) {
		case time.Time:
			at = v
		case *time.Time:
			if v == nil {
				return "never"
			}
			at = *v
		}
		if at.IsZero() {
			return "never"
		}
		return at.UTC().Format("2006-01-02 15:04:05Z")
	},
	"result": func(r *bool) string {
		switch {
		case r == nil:
			return "pending"
		case *r:
			return "ok"
		}
		return "failed"
	},
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html", "assets/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page name with data; the whole page is rendered before
// anything is sent, so an error is a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	s.renderCode(w, r, http.StatusOK, name, data)
}

// renderCode renders page name with the given status.
func (s *Server) renderCode(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	var b bytes.Buffer
	err := s.pages[name].Execute(&b, struct {
		Page   string
		Path   string
		Data   any
		CanRun bool
	}{name, r.URL.Path, data, canRun(r)})
	if err != nil {
		s.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}
