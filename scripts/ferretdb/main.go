// Command ferretdb-embedded runs FerretDB 1.24 (MongoDB wire protocol) as a local store
// for development and tests. It embeds github.com/FerretDB/FerretDB/ferretdb because
// `go install` of FerretDB's own cmd panics without its generated version files.
//
// Usage:
//
//	ferretdb-embedded -listen 127.0.0.1:27017 -handler sqlite -sqlite-url file:/path/to/dir/
//	ferretdb-embedded -listen 127.0.0.1:27017 -handler postgresql -postgresql-url postgres://127.0.0.1:5432/ferretdb
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served on -debug-addr only
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI (sqlite backend)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (postgresql backend)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	debugAddr := flag.String("debug-addr", "", "if set, serve Go's profiler (net/http/pprof) on this address")
	flag.Parse()

	if *debugAddr != "" {
		go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(*debugAddr, nil)) }()
	}

	// Decoding documents is most of a read's work and makes short-lived garbage; unless GOGC or
	// GOMEMLIMIT say otherwise, collect by a memory limit instead of at every doubling of a
	// small heap (a whole-market day reads about a quarter faster).
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(512 << 20)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	go func() {
		// MongoDBURI blocks until the listener is bound; printing it tells the start script we are up.
		fmt.Println(f.MongoDBURI())
	}()

	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}
