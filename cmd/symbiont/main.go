// Command symbiont runs the Symbiont platform.
//
//	symbiont serve [--demo] [--addr 127.0.0.1:8080] [--data DIR] [--postgres DSN]
//	symbiont verify --ledger BASE_URL FILE
//	symbiont verify --full [--data DIR] [--postgres DSN]
//	symbiont version
//
// Every flag has a SYMBIONT_* environment equivalent (--base-url is SYMBIONT_BASE_URL); the
// command line wins. SYMBIONT_ADMIN_TOKEN and SYMBIONT_MASTER_KEY are environment only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/demo"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
)

// runtimeGCPercent is the GOGC that serve runs with unless GOGC is set.
const runtimeGCPercent = 400

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "symbiont:", err)
		code := 1
		if ee := (*exitError)(nil); errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}

const usage = `Usage: symbiont <command> [flags]

Commands:
  serve     run the platform (HTTP API, ingestion, wallet); --demo seeds a demo brand
  verify    verify a consumer's ledger proofs: symbiont verify --ledger BASE_URL FILE
            or re-check the whole stored log (operator): symbiont verify --full --data DIR
  eval      evaluate the recommendation models offline: symbiont eval recs --ratings FILE
  bench     measure recommendation serving end to end: symbiont bench recs
  version   print the version

Run "symbiont <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "verify":
		return verify(ctx, args[1:], stdout, stderr)
	case "eval":
		return eval(ctx, args[1:], stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "symbiont", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		return v
	}
	return "(devel)"
}

// envName is the environment variable of a flag: SYMBIONT_ and the flag's name in capitals,
// dashes as underscores (--base-url: SYMBIONT_BASE_URL).
func envName(flagName string) string {
	return "SYMBIONT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// zeroIsOff turns a duration flag whose 0 means "never" (what) into platform.Config's form of
// it, where 0 is the default and a negative value means never; a negative flag is an error.
func zeroIsOff(flag, what string, d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, fmt.Errorf("--%s must be 0 (%s) or positive", flag, what)
	case d == 0:
		return -1, nil
	}
	return d, nil
}

// withEnv documents each flag's environment variable in its usage; call before Parse.
func withEnv(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " (" + envName(f.Name) + ")" })
}

// applyEnv sets every flag not given on the command line from its environment variable. A
// value that does not parse is an error, never silently the default.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	return err
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	data := fs.String("data", "symbiont-data", "data directory: SQLite files and key material")
	pg := fs.String("postgres", "", "PostgreSQL DSN; uses PostgreSQL instead of SQLite")
	baseURL := fs.String("base-url", "", "public URL of this server, for links (default http://ADDR)")
	demoFlag := fs.Bool("demo", false, "seed a demo brand and print keys and links to try")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	maxShared := fs.Int("max-shared-identifier", identity.DefaultMaxShared, "over-merge guard: an email, phone or external id already linked to this many consumers is not linked to more (0 disables the guard)")
	writers := fs.Int("writers", 0, "concurrent ingest writers (0: 2 for SQLite, 4 for PostgreSQL)")
	rateIngest := fs.Float64("rate-ingest", api.DefaultLimits.IngestPerKey, "ingestion requests per second per key (0: unlimited)")
	rateAPI := fs.Float64("rate-api", api.DefaultLimits.APIPerKey, "API requests per second per secret key (0: unlimited)")
	rateWallet := fs.Float64("rate-wallet", api.DefaultLimits.WalletPerUser, "requests per second per wallet session (0: unlimited)")
	debugAddr := fs.String("debug-addr", "", "operations listener: /metrics and Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (off by default; no authentication: bind it to loopback or your monitoring network)")
	drain := fs.Duration("shutdown-timeout", 30*time.Second, "how long to wait for in-flight requests on shutdown")
	ledgerOrigin := fs.String("ledger-origin", "", "the verifiable ledger's name in its checkpoints, fixed at first start (default: the base URL without scheme, then /ledger)")
	idemKeep := fs.Duration("idempotency-retention", symbiont.DefaultIdempotencyRetention, "how long an Idempotency-Key's record is kept (a retry with the key after that is a new request); 0 keeps records until the consumer is erased")
	accrual := fs.Duration("accrual-interval", 10*time.Minute, "how often points accrue for active grants and expired points are swept (also once at start); 0 turns the job off")
	drainDelay := fs.Duration("shutdown-delay", 0, "on SIGTERM, keep serving this long with /readyz failing (and connections closing) so load balancers move away first")
	withEnv(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if *logFormat == "json" {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)
	if os.Getenv("GOGC") == "" {
		// The hot paths allocate per request (a 1,000-event read holds about 1 MB while it is
		// answered) over a small live heap; the default GOGC=100 would collect several times
		// per read. 400 trades memory for latency; GOGC in the environment overrides it.
		debug.SetGCPercent(runtimeGCPercent)
	}

	if *maxShared == 0 {
		*maxShared = -1 // platform: negative disables the guard
	}
	cfg := platform.Config{
		DataDir: *data, PostgresDSN: *pg, AdminToken: os.Getenv("SYMBIONT_ADMIN_TOKEN"), BaseURL: strings.TrimSuffix(*baseURL, "/"),
		Version: buildVersion(), MaxShared: *maxShared, Writers: *writers, Log: log, LedgerOrigin: *ledgerOrigin,
		Limits: &api.Limits{IngestPerKey: *rateIngest, APIPerKey: *rateAPI, WalletPerUser: *rateWallet},
	}
	var err error
	if cfg.IdempotencyRetention, err = zeroIsOff("idempotency-retention", "keep", *idemKeep); err != nil {
		return err
	}
	if cfg.AccrualInterval, err = zeroIsOff("accrual-interval", "off", *accrual); err != nil {
		return err
	}
	if *demoFlag {
		// The demo seeds months of history by moving this clock back, then returns it to now.
		cfg.Clock = &symbiont.ShiftedClock{Base: symbiont.SystemClock{}}
	}
	if k := os.Getenv("SYMBIONT_MASTER_KEY"); k != "" {
		mk, err := platform.ParseMasterKey(k)
		if err != nil {
			return err
		}
		cfg.MasterKey = mk
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + ln.Addr().String()
	}
	cfg.RotateAdminToken = *demoFlag && cfg.AdminToken == ""
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	if p.GeneratedAdminToken != "" && !*demoFlag {
		fmt.Fprintf(stderr, "\nOperator token (shown once; set SYMBIONT_ADMIN_TOKEN to choose your own):\n  %s\n\n", p.GeneratedAdminToken)
	}
	if *demoFlag {
		d, err := demo.Seed(ctx, p)
		if err != nil {
			p.Close()
			ln.Close()
			return fmt.Errorf("demo: %w", err)
		}
		token := p.GeneratedAdminToken
		if token == "" {
			token = "(your SYMBIONT_ADMIN_TOKEN)"
		}
		d.Print(stdout, cfg.BaseURL, token)
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 120 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
	if *debugAddr != "" {
		ops := &http.Server{Handler: p.OpsHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
		opsLn, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			p.Close()
			ln.Close()
			return fmt.Errorf("--debug-addr: %w", err)
		}
		go func() {
			log.Info("operations listener serving /metrics and /debug/pprof/", slog.String("addr", opsLn.Addr().String()))
			log.Warn("operations listener stopped", slog.Any("err", ops.Serve(opsLn)))
		}()
		defer ops.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("symbiont serving", slog.String("addr", ln.Addr().String()), slog.String("store", p.Store.Dialect()), slog.String("version", cfg.Version))

	select {
	case err := <-errc:
		p.Close()
		return err
	case <-ctx.Done():
	}
	p.Drain()
	if *drainDelay > 0 {
		log.Info("shutting down: readyz now fails; still serving", slog.Duration("delay", *drainDelay))
		srv.SetKeepAlivesEnabled(false)
		time.Sleep(*drainDelay)
	}
	log.Info("shutting down: draining in-flight requests", slog.Duration("timeout", *drain))
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	serr := srv.Shutdown(sctx)
	if err := p.Close(); err != nil {
		return err
	}
	log.Info("stopped")
	return serr
}
