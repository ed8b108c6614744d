package mail

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/rookery/rookery/internal/db"
)

// Service is email as the rest of rookery uses it: the current settings,
// the outbox, the worker that empties it and direct sends (test sends,
// probes).
type Service struct {
	Mailer *Mailer
	Outbox *Outbox
	Worker *Worker
	// AppName is app_name, read for every message.
	AppName  func() string
	settings func() Settings
	log      *slog.Logger
}

// NewService builds the parts. settings is called for every message and
// probe, so a change applies to the next one without a restart.
func NewService(d *db.DB, sealer Sealer, settings func() Settings, appName func() string, log *slog.Logger) *Service {
	m := &Mailer{}
	o := NewOutbox(d, sealer)
	return &Service{Mailer: m, Outbox: o, Worker: NewWorker(o, m, settings, log), AppName: appName, settings: settings, log: log}
}

// Settings are the current smtp_* values.
func (s *Service) Settings() Settings { return s.settings() }

// Probe checks the current settings without sending anything: it connects,
// says EHLO, STARTTLS and AUTH as the settings ask, and quits. Its errors
// are *Error.
func (s *Service) Probe(ctx context.Context) error { return s.Mailer.Probe(ctx, s.settings()) }

// Compose renders a message with the current app_name.
func (s *Service) Compose(kind Kind, to string, d Data) (Message, error) {
	d.AppName = s.AppName()
	return Compose(kind, to, d)
}

// Queue composes a message and writes it to the outbox in tx. Call
// Queued once tx has committed.
func (s *Service) Queue(ctx context.Context, tx *sql.Tx, kind Kind, to string, d Data) error {
	m, err := s.Compose(kind, to, d)
	if err != nil {
		return err
	}
	return s.Outbox.Queue(ctx, tx, m)
}

// Queued tells this replica's worker that a message was committed.
func (s *Service) Queued() { s.Worker.Wake() }

// SendTest sends a test message to the address to now, with settings st
// (the stored ones, possibly overlaid with unsaved values), records it in
// the outbox and returns the server's reply. Its errors are *Error.
func (s *Service) SendTest(ctx context.Context, st Settings, to string) (string, error) {
	m, err := s.Compose(KindTest, to, Data{})
	if err != nil {
		return "", err
	}
	reply, sendErr := s.Mailer.Send(ctx, st, m)
	if err := s.Outbox.Record(context.WithoutCancel(ctx), m, sendErr); err != nil {
		// The send happened either way; only the outbox will not list it.
		s.log.Warn("test email not recorded in the outbox", "error", err.Error())
	}
	return reply, sendErr
}
