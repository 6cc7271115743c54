// Command server is the tiny HTTP service brine's Docker tests build into
// images FROM scratch. It answers GET / with its VERSION and MSG
// environment variables; "server -check" probes a running server (the
// image has no shell for a health check command); "server -get URL"
// prints what URL answers, for tests that fetch from inside a network
// namespace.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	check := flag.Bool("check", false, "probe the server on localhost and exit 0 when it answers")
	addr := flag.String("addr", ":8080", "listen address")
	get := flag.String("get", "", "fetch this URL, print its body and exit (1 on failure)")
	flag.Parse()
	if *get != "" {
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get(*get)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			log.Fatalf("GET %s: %s %v", *get, resp.Status, err)
		}
		return
	}
	if *check {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1" + *addr + "/")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "version=%s msg=%s\n", os.Getenv("VERSION"), os.Getenv("MSG"))
	})
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
