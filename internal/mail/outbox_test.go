package mail_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/backoff"
	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/internal/mail"
	"github.com/rookery/rookery/internal/mail/mailtest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newOutbox(t *testing.T, d *db.DB) *mail.Outbox {
	t.Helper()
	sealer, err := config.NewSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return mail.NewOutbox(d, sealer)
}

func queue(t *testing.T, d *db.DB, o *mail.Outbox, msgs ...mail.Message) {
	t.Helper()
	ctx := context.Background()
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := o.Queue(ctx, tx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func newWorker(o *mail.Outbox, srv *mailtest.Server, s mail.Settings) *mail.Worker {
	w := mail.NewWorker(o, &mail.Mailer{RootCAs: srv.CA}, func() mail.Settings { return s }, dbtest.Discard())
	w.Policy = backoff.Policy{First: 20 * time.Millisecond, Max: 20 * time.Millisecond}
	w.Poll = 10 * time.Millisecond
	return w
}

// A message queued while the SMTP server is down waits, with the reason,
// and goes out once when the server is back, through a worker started
// afresh (a restart) on a new connection to the database.
func TestOutboxOutageThenDelivery(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ctx := context.Background()
		srv := startServer(t, mailtest.Options{})
		settings := settingsFor(srv, mail.TLSNone)
		d1 := dbtest.OpenSettings(t, s)
		o1 := newOutbox(t, d1)
		if err := srv.SetDown(true); err != nil {
			t.Fatal(err)
		}
		queue(t, d1, o1, compose(t, "ada@example.com"))
		if err := newWorker(o1, srv, settings).Pass(ctx); err != nil {
			t.Fatalf("pass while down: %v", err)
		}
		list, err := o1.List(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Status != mail.StatusQueued || list[0].Attempts != 1 ||
			!strings.Contains(list[0].LastError, "connection refused") || list[0].NextAttemptAt == nil {
			t.Fatalf("after a failed attempt: %+v", list)
		}
		st, err := o1.Stats(ctx)
		if err != nil || st.Queued != 1 || !strings.Contains(st.LastError, "connection refused") || st.LastSentAt != nil {
			t.Fatalf("stats after a failed attempt: %+v, %v", st, err)
		}

		if err := srv.SetDown(false); err != nil {
			t.Fatal(err)
		}
		d2 := dbtest.OpenSettings(t, s) // the restarted process
		o2 := newOutbox(t, d2)
		w2 := newWorker(o2, srv, settings)
		time.Sleep(30 * time.Millisecond) // the retry comes due
		for range 3 {
			if err := w2.Pass(ctx); err != nil {
				t.Fatalf("pass after restart: %v", err)
			}
		}
		if got := srv.Messages(); len(got) != 1 || got[0].Subject() != "penguin-app: reset your password" {
			t.Fatalf("delivered %d messages, want 1", len(got))
		}
		list, _ = o2.List(ctx, 10)
		if list[0].Status != mail.StatusSent || list[0].SentAt == nil || list[0].LastError != "" || list[0].Attempts != 2 {
			t.Errorf("after delivery: %+v", list[0])
		}
		st, _ = o2.Stats(ctx)
		if st.Sent != 1 || st.Queued != 0 || st.LastError != "" || st.LastSentAt == nil {
			t.Errorf("stats after delivery: %+v", st)
		}
	})
}

// Two replicas' workers on one database send each message exactly once.
func TestOutboxReplicasSendOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		srv := startServer(t, mailtest.Options{})
		settings := settingsFor(srv, mail.TLSNone)
		const n = 40
		d1, d2 := dbtest.OpenSettings(t, s), dbtest.OpenSettings(t, s)
		o1, o2 := newOutbox(t, d1), newOutbox(t, d2)
		var msgs []mail.Message
		for i := range n {
			msgs = append(msgs, compose(t, fmt.Sprintf("user%d@example.com", i)))
		}
		queue(t, d1, o1, msgs...)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, o := range []*mail.Outbox{o1, o2} {
			w := newWorker(o, srv, settings)
			wg.Add(1)
			go func() { defer wg.Done(); w.Run(ctx) }()
		}
		_, err := srv.WaitFor(n, 30*time.Second)
		time.Sleep(200 * time.Millisecond) // room for a duplicate to show
		cancel()
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		got := srv.Messages()
		seen := map[string]int{}
		for _, r := range got {
			seen[r.Header.Get("Message-Id")]++
		}
		if len(got) != n || len(seen) != n {
			t.Fatalf("%d messages delivered, %d distinct, want %d each sent once", len(got), len(seen), n)
		}
		st, err := o2.Stats(context.Background())
		if err != nil || st.Sent != n || st.Queued != 0 {
			t.Errorf("stats %+v, %v", st, err)
		}
	})
}

// A recipient refused for good fails at once; a message that keeps
// failing is given up after GiveUp; one never attempted (no settings) is
// given up too. Bodies are sealed at rest and dropped once done with.
func TestOutboxGivesUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ctx := context.Background()
		srv := startServer(t, mailtest.Options{})
		settings := settingsFor(srv, mail.TLSNone)
		d := dbtest.OpenSettings(t, s)
		o := newOutbox(t, d)
		queue(t, d, o, compose(t, "refused@example.com"))
		var raw string
		if err := d.QueryRowContext(ctx, `SELECT body FROM email_outbox`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if raw == "" || strings.Contains(raw, "token=abc") || strings.Contains(raw, "reset") {
			t.Errorf("the stored body is not sealed: %.80q", raw)
		}
		w := newWorker(o, srv, settings)
		if err := w.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		list, _ := o.List(ctx, 10)
		if list[0].Status != mail.StatusFailed || !strings.Contains(list[0].LastError, "refused the recipient refused@example.com") {
			t.Errorf("refused recipient: %+v", list[0])
		}
		if err := d.QueryRowContext(ctx, `SELECT body FROM email_outbox`).Scan(&raw); err != nil || raw != "" {
			t.Errorf("body kept after failing: %q, %v", raw, err)
		}

		if err := srv.SetDown(true); err != nil {
			t.Fatal(err)
		}
		queue(t, d, o, compose(t, "ada@example.com"))
		if err := w.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		w.GiveUp = 0 // from now on every message is past the limit
		time.Sleep(30 * time.Millisecond)
		if err := w.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		list, _ = o.List(ctx, 10)
		if list[0].Status != mail.StatusFailed || !strings.Contains(list[0].LastError, "connection refused") {
			t.Errorf("past the limit: %+v", list[0])
		}

		queue(t, d, o, compose(t, "bob@example.com"))
		idle := mail.NewWorker(o, &mail.Mailer{}, func() mail.Settings { return mail.Settings{} }, dbtest.Discard())
		idle.GiveUp = time.Millisecond
		time.Sleep(5 * time.Millisecond)
		if err := idle.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		list, _ = o.List(ctx, 10)
		if list[0].Status != mail.StatusFailed || !strings.Contains(list[0].LastError, "email was not configured") || list[0].Attempts != 0 {
			t.Errorf("never attempted: %+v", list[0])
		}
		st, _ := o.Stats(ctx)
		if st.Failed != 3 || st.Queued != 0 || st.Sent != 0 {
			t.Errorf("stats %+v", st)
		}

		// Done messages are deleted once older than KeepFor; queued ones stay.
		queue(t, d, o, compose(t, "later@example.com"))
		keeper := mail.NewWorker(o, &mail.Mailer{}, func() mail.Settings { return mail.Settings{} }, dbtest.Discard())
		keeper.KeepFor = time.Millisecond
		time.Sleep(5 * time.Millisecond)
		if err := keeper.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := o.Stats(ctx); st.Failed != 0 || st.Queued != 1 {
			t.Errorf("after the purge: %+v", st)
		}
	})
}
