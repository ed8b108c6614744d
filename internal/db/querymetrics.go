package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// QueryObserver receives the duration of every statement, transaction start,
// commit and rollback, with a bounded operation name: select, insert,
// update, delete, begin, commit, rollback or other (the standards'
// database.query.duration_ms).
type QueryObserver func(operation string, d time.Duration)

// Observers are kept per DSN: the timing driver is registered once per
// underlying driver (database/sql drivers are process-wide), and each
// connection finds its database's observer by the DSN it was opened with.
var observers sync.Map // dsn -> *observerSlot

type observerSlot struct{ fn atomic.Pointer[QueryObserver] }

func slotFor(dsn string) *observerSlot {
	if v, ok := observers.Load(dsn); ok {
		return v.(*observerSlot)
	}
	v, _ := observers.LoadOrStore(dsn, &observerSlot{})
	return v.(*observerSlot)
}

// everyone is the process-wide observer of ObserveQueries.
var everyone observerSlot

// ObserveQueries sets a function that receives the durations of every
// database's queries in the process (tests counting round trips); nil
// stops it. A server uses DB.ObserveQueries, which keeps databases apart.
func ObserveQueries(fn QueryObserver) {
	if fn == nil {
		everyone.fn.Store(nil)
		return
	}
	everyone.fn.Store(&fn)
}

// ObserveQueries sets the function that receives the durations of d's
// queries; nil stops it. Without one, the timing costs one atomic load per
// query. Handles opened on the same database share it.
func (d *DB) ObserveQueries(fn QueryObserver) {
	slot := slotFor(d.dsn)
	if fn == nil {
		slot.fn.Store(nil)
		return
	}
	slot.fn.Store(&fn)
}

var (
	timedMu      sync.Mutex
	timedDrivers = map[string]string{}
)

// timed returns the name of a driver that wraps name's with query timing,
// registering it the first time.
func timed(name string) string {
	timedMu.Lock()
	defer timedMu.Unlock()
	if t, ok := timedDrivers[name]; ok {
		return t
	}
	probe, err := sql.Open(name, "")
	if err != nil {
		return name // an unknown driver: let sql.Open report it
	}
	inner := probe.Driver()
	_ = probe.Close()
	t := "rookery-timed-" + name
	sql.Register(t, &timedDriver{inner: inner})
	timedDrivers[name] = t
	return t
}

// start reads the clock only when somebody listens.
func (o *observerSlot) start() time.Time {
	if o.fn.Load() == nil && everyone.fn.Load() == nil {
		return time.Time{}
	}
	return time.Now()
}

// done hands one duration to the observers, if one listened at start.
func (o *observerSlot) done(op string, start time.Time) {
	if start.IsZero() {
		return
	}
	d := time.Since(start)
	if fn := o.fn.Load(); fn != nil {
		(*fn)(op, d)
	}
	if fn := everyone.fn.Load(); fn != nil {
		(*fn)(op, d)
	}
}

// Operation is the bounded operation name of a statement: its first word.
func Operation(query string) string {
	q := strings.TrimLeft(query, " \t\r\n(")
	end := strings.IndexAny(q, " \t\r\n(")
	if end < 0 {
		end = len(q)
	}
	switch w := strings.ToLower(q[:end]); w {
	case "select", "insert", "update", "delete", "with":
		if w == "with" {
			return "select"
		}
		return w
	case "begin", "commit", "rollback":
		return w
	}
	return "other"
}

type timedDriver struct{ inner driver.Driver }

func (d *timedDriver) Open(dsn string) (driver.Conn, error) {
	c, err := d.inner.Open(dsn)
	if err != nil {
		return nil, err
	}
	return &timedConn{inner: c, obs: slotFor(dsn)}, nil
}

// OpenConnector keeps the inner driver's connector when it has one, as
// pgx's does, so its configuration parsing is kept.
func (d *timedDriver) OpenConnector(dsn string) (driver.Connector, error) {
	if dc, ok := d.inner.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(dsn)
		if err != nil {
			return nil, err
		}
		return &timedConnector{inner: c, dsn: dsn, d: d}, nil
	}
	return &timedConnector{dsn: dsn, d: d}, nil
}

type timedConnector struct {
	inner driver.Connector
	dsn   string
	d     *timedDriver
}

func (c *timedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.inner == nil {
		return c.d.Open(c.dsn)
	}
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &timedConn{inner: conn, obs: slotFor(c.dsn)}, nil
}

func (c *timedConnector) Driver() driver.Driver { return c.d }

// timedConn forwards every optional interface database/sql looks for;
// where the inner connection lacks one it answers driver.ErrSkip (or the
// plain method), which makes database/sql take its usual fallback.
type timedConn struct {
	inner driver.Conn
	obs   *observerSlot
}

func (c *timedConn) Prepare(query string) (driver.Stmt, error) {
	st, err := c.inner.Prepare(query)
	if err != nil {
		return nil, err
	}
	return &timedStmt{inner: st, op: Operation(query), obs: c.obs}, nil
}

func (c *timedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	pc, ok := c.inner.(driver.ConnPrepareContext)
	if !ok {
		return c.Prepare(query)
	}
	st, err := pc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &timedStmt{inner: st, op: Operation(query), obs: c.obs}, nil
}

func (c *timedConn) Close() error { return c.inner.Close() }

func (c *timedConn) Begin() (driver.Tx, error) {
	start := c.obs.start()
	//lint:ignore SA1019 the fallback database/sql itself uses for old drivers
	tx, err := c.inner.Begin() //nolint:staticcheck
	c.obs.done("begin", start)
	if err != nil {
		return nil, err
	}
	return &timedTx{inner: tx, obs: c.obs}, nil
}

func (c *timedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	bt, ok := c.inner.(driver.ConnBeginTx)
	if !ok {
		return c.Begin()
	}
	start := c.obs.start()
	tx, err := bt.BeginTx(ctx, opts)
	c.obs.done("begin", start)
	if err != nil {
		return nil, err
	}
	return &timedTx{inner: tx, obs: c.obs}, nil
}

func (c *timedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ex, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	start := c.obs.start()
	res, err := ex.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.obs.done(Operation(query), start)
	}
	return res, err
}

func (c *timedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	start := c.obs.start()
	rows, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.obs.done(Operation(query), start)
	}
	return rows, err
}

func (c *timedConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *timedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *timedConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *timedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.inner.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type timedTx struct {
	inner driver.Tx
	obs   *observerSlot
}

func (t *timedTx) Commit() error {
	start := t.obs.start()
	err := t.inner.Commit()
	t.obs.done("commit", start)
	return err
}

func (t *timedTx) Rollback() error {
	start := t.obs.start()
	err := t.inner.Rollback()
	t.obs.done("rollback", start)
	return err
}

type timedStmt struct {
	inner driver.Stmt
	op    string
	obs   *observerSlot
}

func (s *timedStmt) Close() error  { return s.inner.Close() }
func (s *timedStmt) NumInput() int { return s.inner.NumInput() }

func (s *timedStmt) Exec(args []driver.Value) (driver.Result, error) {
	start := s.obs.start()
	//lint:ignore SA1019 the fallback database/sql itself uses for old drivers
	res, err := s.inner.Exec(args) //nolint:staticcheck
	s.obs.done(s.op, start)
	return res, err
}

func (s *timedStmt) Query(args []driver.Value) (driver.Rows, error) {
	start := s.obs.start()
	//lint:ignore SA1019 the fallback database/sql itself uses for old drivers
	rows, err := s.inner.Query(args) //nolint:staticcheck
	s.obs.done(s.op, start)
	return rows, err
}

func (s *timedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ex, ok := s.inner.(driver.StmtExecContext)
	if !ok {
		vals, err := namedToValues(args)
		if err != nil {
			return nil, err
		}
		return s.Exec(vals)
	}
	start := s.obs.start()
	res, err := ex.ExecContext(ctx, args)
	s.obs.done(s.op, start)
	return res, err
}

func (s *timedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.inner.(driver.StmtQueryContext)
	if !ok {
		vals, err := namedToValues(args)
		if err != nil {
			return nil, err
		}
		return s.Query(vals)
	}
	start := s.obs.start()
	rows, err := q.QueryContext(ctx, args)
	s.obs.done(s.op, start)
	return rows, err
}

func (s *timedStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.inner.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, driver.ErrSkip
		}
		out[i] = a.Value
	}
	return out, nil
}
