package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is what the health endpoints report, read at every request.
type Status struct {
	// State is the App's state name.
	State string
	// Healthy: Run is running and has not failed.
	Healthy bool
	// Ready: the App is RUNNING and no task is restoring.
	Ready bool
}

// Server serves an App's endpoints: /metrics, /healthz, /readyz and
// /topology.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// CheckAddr reports whether addr is a host:port to listen on.
func CheckAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "" {
		return errors.New("missing port")
	}
	return nil
}

// Serve listens on addr and serves the endpoints until Close: the metrics
// of g, the status that status returns at each request, and the
// topology's description text.
func Serve(addr string, g prometheus.Gatherer, status func() Status, topology string, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slogErrors{log}}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		st := status()
		writeStatus(w, st.Healthy, st.State)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		st := status()
		writeStatus(w, st.Ready, st.State)
	})
	mux.HandleFunc("GET /topology", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(topology))
	})
	s := &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return s, nil
}

// writeStatus answers 200 when ok, else 503, with the state in the body.
func writeStatus(w http.ResponseWriter, ok bool, state string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = fmt.Fprintln(w, state)
}

// Addr returns the address the server listens on (with the port chosen
// when the configured one was 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: it waits up to timeout for the requests in
// flight, then closes their connections.
func (s *Server) Close(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	if err != nil {
		return fmt.Errorf("stop HTTP server on %s: %w", s.Addr(), err)
	}
	return nil
}

// slogErrors is promhttp's error log on slog.
type slogErrors struct{ l *slog.Logger }

func (s slogErrors) Println(v ...any) { s.l.Warn("metrics: " + fmt.Sprint(v...)) }
