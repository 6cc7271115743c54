// Command api is the example HTTP API service that examples/docker ships
// as an image FROM scratch: GET / answers with the release it runs and its
// greeting, GET /healthz answers ok; "api -check" probes a running
// instance (the image has no shell for a health check command).
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	check := flag.Bool("check", false, "probe the service on localhost and exit 0 when it is healthy")
	flag.Parse()
	if *check {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1" + *addr + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		return
	}
	host, _ := os.Hostname()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"release":  os.Getenv("RELEASE"),
			"greeting": os.Getenv("GREETING"),
			"host":     host,
		})
	})
	log.Printf("api %s listening on %s", os.Getenv("RELEASE"), *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
