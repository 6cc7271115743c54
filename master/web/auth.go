package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// cookieName is the browser session cookie: it holds the token, HttpOnly.
const cookieName = "brine_token"

type grantKey struct{}

// auth lets a request through with a valid token (Authorization: Bearer,
// or the login cookie) or, without a token, a client certificate the TLS
// handshake verified; needRun also asks for the run right. A page asked for
// by a browser without either gets the login form, with status 401.
func (s *Server) auth(needRun bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, fromCookie := requestToken(r)
		g, ok, err := lookupToken(s.cfg.DataDir, tok)
		if err != nil {
			s.log.Error("web: tokens", "err", err)
			http.Error(w, "cannot read the web tokens; see the master's log", http.StatusInternalServerError)
			return
		}
		viaCert := false
		if tok == "" {
			g, viaCert = s.certGrant(r)
			ok = viaCert
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="brine"`)
			if !strings.HasPrefix(r.URL.Path, "/api/") && r.Method == http.MethodGet {
				s.renderCode(w, r, http.StatusUnauthorized, "login", loginData{Next: r.URL.RequestURI(), Bad: tok != ""})
				return
			}
			http.Error(w, "a valid token is needed: Authorization: Bearer TOKEN (make one with `brine web token`)", http.StatusUnauthorized)
			return
		}
		if needRun {
			if !g.run {
				http.Error(w, "this token may only read: make one with `brine web token --run` to run jobs or change keys", http.StatusForbidden)
				return
			}
			// A browser sends its cookie and its client certificate to
			// any site's requests too: its actions must come from our pages.
			if (fromCookie && !sameOrigin(r)) || (viaCert && crossSite(r)) {
				http.Error(w, "a browser action must come from the web view's own pages", http.StatusForbidden)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), grantKey{}, g)))
	})
}

// certGrant is what the request's client certificate may do: read when the
// TLS handshake verified it against the client CA, and run too when its
// Common Name is one of Config.RunClients.
func (s *Server) certGrant(r *http.Request) (grant, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return grant{}, false
	}
	cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
	return grant{run: cn != "" && slices.Contains(s.cfg.RunClients, cn)}, true
}

// requestToken returns the request's token and whether it came from the
// login cookie.
func requestToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), false
		}
		return "", false
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

// sameOrigin checks that a browser request comes from a page of this
// server (the cookie is SameSite=Strict too).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// crossSite reports whether a request comes from a browser on another
// site; a client that says nothing about where it comes from (curl, a
// script) does not.
func crossSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return true
	}
	if r.Header.Get("Origin") == "" && r.Header.Get("Referer") == "" {
		return false
	}
	return !sameOrigin(r)
}

func canRun(r *http.Request) bool {
	g, _ := r.Context().Value(grantKey{}).(grant)
	return g.run
}

type loginData struct {
	Next string
	Bad  bool
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	_, ok, err := lookupToken(s.cfg.DataDir, tok)
	if err != nil {
		http.Error(w, "cannot read the web tokens; see the master's log", http.StatusInternalServerError)
		return
	}
	if !ok {
		s.renderCode(w, r, http.StatusUnauthorized, "login", loginData{Next: next, Bad: true})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect on this server.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}
