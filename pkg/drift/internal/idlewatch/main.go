// Command idlewatch watches every regular file below a directory as
// file.managed states and prints "armed" once it does, then idles until
// killed: BenchmarkIdleWatcher measures its CPU and memory from outside.
package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/brinecm/brine/pkg/drift"
	"github.com/brinecm/brine/pkg/sls"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: idlewatch DIR")
		os.Exit(2)
	}
	var lows []sls.Low
	err := filepath.WalkDir(os.Args[1], func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			lows = append(lows, sls.Low{ID: p, Name: p, Module: "file", Fun: "managed", Index: len(lows)})
		}
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "idlewatch:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	w := drift.New(drift.Config{Watch: true, Debounce: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
	defer w.Close()
	if err := w.Watch(ctx, lows); err != nil {
		fmt.Fprintln(os.Stderr, "idlewatch:", err)
		os.Exit(1)
	}
	fmt.Printf("armed %d\n", len(lows))
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-w.Batches():
			fmt.Println("batch", b.IDs)
		}
	}
}
