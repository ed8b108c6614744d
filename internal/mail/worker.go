package mail

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/rookery/rookery/backoff"
)

// RetryPolicy spaces the attempts of one message: the first retry within
// 5 seconds (half of it drawn at random), doubling up to 5 minutes.
var RetryPolicy = backoff.Policy{First: 5 * time.Second, Max: 5 * time.Minute, Jitter: backoff.EqualJitter}

// GiveUpAfter is how long a message is retried before it is marked failed.
const GiveUpAfter = 24 * time.Hour

// Worker sends the outbox's messages. Every replica runs one; the claim
// makes sure each message is sent by one of them.
type Worker struct {
	outbox   *Outbox
	mailer   *Mailer
	settings func() Settings
	log      *slog.Logger
	wake     chan struct{}
	// Poll is how often the outbox is looked at when nothing wakes the
	// worker (messages queued by other replicas, retries coming due).
	Poll time.Duration
	// Policy and GiveUp are RetryPolicy and GiveUpAfter unless a test
	// changes them before Run.
	Policy backoff.Policy
	GiveUp time.Duration
	// KeepFor is how long sent and failed messages stay listed.
	KeepFor time.Duration

	// lastSweep is when old messages were last given up and purged: a
	// write, so not done every poll.
	lastSweep time.Time
}

// sweepEvery spaces the sweeps of the outbox.
const sweepEvery = time.Minute

// KeepSentFor is how long sent and failed messages stay in the outbox.
const KeepSentFor = 30 * 24 * time.Hour

// NewWorker returns a worker that sends o's messages with m, reading the
// settings for every message.
func NewWorker(o *Outbox, m *Mailer, settings func() Settings, log *slog.Logger) *Worker {
	return &Worker{outbox: o, mailer: m, settings: settings, log: log, wake: make(chan struct{}, 1),
		Poll: time.Second, Policy: RetryPolicy, GiveUp: GiveUpAfter, KeepFor: KeepSentFor}
}

// Wake makes the worker look at the outbox now (a message was queued).
// It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends due messages until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	failing := false
	for {
		err := w.Pass(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			w.log.Warn("email outbox: pass failed; retrying", "error", err.Error())
			failing = true
		case err == nil && failing:
			w.log.Info("email outbox: working again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Pass sends what is due now, until the outbox has nothing due or an
// attempt fails (the server is then likely down: the others wait for
// their own retry time rather than each waiting for a timeout now).
func (w *Worker) Pass(ctx context.Context) error {
	if time.Since(w.lastSweep) >= sweepEvery {
		if err := w.sweep(ctx); err != nil {
			return err
		}
		w.lastSweep = time.Now()
	}
	if !w.settings().Configured() {
		return nil // kept until smtp_host and smtp_from are set
	}
	for range 100 { // bounded, so a long backlog cannot hold the loop
		if due, err := w.outbox.due(ctx); err != nil || !due {
			return err
		}
		ok, err := w.sendOne(ctx)
		if err != nil || !ok {
			return err
		}
	}
	return nil
}

// sweep gives up the messages queued longer than GiveUp without an
// attempt and deletes the sent and failed ones older than KeepFor.
func (w *Worker) sweep(ctx context.Context) error {
	n, err := w.outbox.expire(ctx, w.GiveUp)
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.Warn("email outbox: gave up messages never attempted", "count", n)
	}
	_, err = w.outbox.purge(ctx, w.KeepFor)
	return err
}

// sendOne claims one due message and tries it; ok says it went out.
func (w *Worker) sendOne(ctx context.Context) (ok bool, err error) {
	s := w.settings()
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	// The lease outlasts the longest send (a deadline per SMTP exchange),
	// so no other replica takes the message while it is being sent.
	lease := 15*timeout + 30*time.Second
	c, claimedOne, err := w.outbox.claim(ctx, lease)
	if err != nil && !claimedOne {
		return false, err
	}
	if !claimedOne {
		return false, nil
	}
	if err != nil { // claimed, but the body cannot be read back
		return false, errors.Join(err, w.outbox.fail(ctx, c.id, "the stored message cannot be decrypted: "+err.Error()))
	}
	sctx, cancel := context.WithTimeout(ctx, lease-15*time.Second)
	reply, sendErr := w.mailer.Send(sctx, s, c.msg)
	cancel()
	// The outcome is recorded even while shutting down: the message is
	// out (or refused) whatever happens to ctx.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	if sendErr == nil {
		w.log.Info("email sent", "email.id", c.id, "email.kind", string(c.msg.Kind), "email.to", c.msg.To, "smtp.reply", reply)
		return true, w.outbox.sent(rctx, c.id)
	}
	var me *Error
	permanent := errors.As(sendErr, &me) && me.Permanent
	reason := sendErr.Error()
	if permanent || time.Since(c.createdAt) >= w.GiveUp {
		w.log.Warn("email given up", "email.id", c.id, "email.kind", string(c.msg.Kind), "email.to", c.msg.To, "attempts", c.attempts, "error", reason)
		return false, w.outbox.fail(rctx, c.id, reason)
	}
	next := time.Now().Add(w.Policy.Wait(c.attempts - 1))
	if c.attempts == 1 || c.attempts%10 == 0 {
		w.log.Warn("email not sent; it will be retried", "email.id", c.id, "email.kind", string(c.msg.Kind), "attempts", c.attempts,
			"retry_at", next.UTC().Format(time.RFC3339), "error", reason)
	}
	return false, w.outbox.retry(rctx, c.id, next, reason)
}
