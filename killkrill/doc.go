// Package killkrill ships structured logs and metrics to KillKrill, the
// PenguinTech log and metrics collector, the way the PenguinTech integration
// standards describe: every log record becomes an Elastic Common Schema (ECS)
// document, entries are batched in memory and sent every few seconds, callers
// never wait for the network, and when KillKrill is disabled or failing every
// entry is written locally instead.
//
// The pieces:
//
//   - [Shipper] owns one bounded in-memory buffer and one shipping goroutine.
//     [New] starts the goroutine; [Shipper.Shutdown] drains the buffer and
//     stops it. [Shipper.Reconfigure] changes URLs, mode, interval or the
//     enabled switch at run time without losing queued entries.
//   - [NewHandler] returns a [log/slog.Handler] that feeds a Shipper. The
//     caller pays only for copying the record into the buffer; JSON encoding
//     happens on the shipping goroutine.
//   - [Shipper.Counter], [Shipper.Gauge] and [Shipper.Histogram] queue metrics
//     in the same buffer.
//
// Two transports exist because the standards and the real receivers disagree.
// [ModeEntry] (the default) speaks what the real receivers accept: one JSON
// object per POST to /api/v1/logs on the log receiver and /api/v1/metrics on
// the metrics receiver. [ModeBatch] sends the standards' batch body
// {"logs":[...],"metrics":[...]} to one configurable path, for receivers that
// accept it.
//
// Values handed to a logger are encoded later, on the shipping goroutine.
// Values implementing [log/slog.LogValuer] are resolved on the caller's
// goroutine, as slog requires, but other values (maps, slices, pointers passed
// with slog.Any) are read when the entry is encoded: do not change them after
// the call, exactly as with any asynchronous handler.
//
// The client secret is a [Secret], the one secret type of rookery (package
// secret states the rules): it reaches only the X-Client-Secret header.
package killkrill
