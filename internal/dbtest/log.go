package dbtest

import (
	"io"
	"log/slog"
)

// Discard is a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
