package killkrill_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/killkrill/killkrilltest"
)

func Example() {
	receivers := killkrilltest.NewPair() // stand-ins for the real :8081 and :8082
	defer receivers.Close()

	shipper, err := killkrill.New(killkrill.Config{
		Enabled:     true,
		LogURL:      receivers.Logs.URL(),
		MetricsURL:  receivers.Metrics.URL(),
		ServiceName: "flask-backend",
		Fallback:    io.Discard,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	logger := slog.New(killkrill.NewHandler(shipper, nil))
	logger.Info("User logged in", "user_id", "user_123", "team_id", "team_abc", "password", "hunter2")
	_ = shipper.Counter(killkrill.MetricHTTPRequestsTotal, 1, map[string]string{"status": "200"})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shipper.Shutdown(ctx); err != nil { // delivers what is queued
		fmt.Println(err)
		return
	}
	for _, l := range receivers.Logs.Logs() {
		fmt.Println(l.Level, l.ServiceName, l.Message)
	}
	for _, m := range receivers.Metrics.Metrics() {
		fmt.Println(m.Name, m.Type, m.Value, m.Labels["status"])
	}
	fmt.Println(shipper.Stats().Sent)
	// Output:
	// info flask-backend User logged in
	// http_requests_total counter 1 200
	// 2
}
