package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
)

// stmtCacheSize bounds the statements one connection keeps prepared:
// rookery runs a few dozen distinct statements on SQLite; a query built
// with varying text (a LIMIT written into it) takes the place of one of
// the others.
const stmtCacheSize = 64

// openSQL opens a pool through the timing driver registered as driverName.
// On SQLite its connections keep the statements they run prepared:
// modernc.org/sqlite prepares every statement it is handed, and parsing
// the same few statements again was most of the work of a write (the
// config store's five statements, the reload that follows it). PostgreSQL
// and MySQL are opened as they are (pgx keeps its own statement cache).
func openSQL(driverName string, dialect Dialect, dsn string) (*sql.DB, error) {
	if dialect != SQLite {
		return sql.Open(driverName, dsn)
	}
	probe, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	td, ok := probe.Driver().(*timedDriver)
	_ = probe.Close() // opened no connection: sql.Open connects lazily
	if !ok {
		return nil, fmt.Errorf("statement cache: want the timing driver, got %T", probe.Driver())
	}
	inner, err := td.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{inner: inner}), nil
}

type cachingConnector struct{ inner driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	tc, ok := conn.(*timedConn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("statement cache: want the timing driver's connections, got %T", conn)
	}
	return &cachingConn{timedConn: tc, stmts: make(map[string]*cachedStmt, stmtCacheSize)}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.inner.Driver() }

// cachingConn is a timed connection whose ExecContext and QueryContext run
// prepared statements kept by query text. database/sql uses a connection
// from one goroutine at a time (closing rows included), so it needs no
// lock of its own.
type cachingConn struct {
	*timedConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	st driver.Stmt // a *timedStmt: its runs are timed as the query's operation
	// busy is set while rows read from it are open: a statement that
	// runs again meanwhile gets one of its own.
	busy bool
}

// stmt returns the kept statement for query, or nil when it is in use
// (the caller then runs query the plain way).
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		c.evict()
	}
	st, err := c.timedConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{st: st}
	c.stmts[query] = cs
	return cs, nil
}

// evict finalizes one kept statement not in use, whichever the map gives
// first: the cache is there for the statements that run all the time,
// which are prepared again at once if they go.
func (c *cachingConn) evict() {
	for q, cs := range c.stmts {
		if !cs.busy {
			_ = cs.st.Close()
			delete(c.stmts, q)
			return
		}
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.timedConn.ExecContext(ctx, query, args)
	}
	return cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.timedConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// Close finalizes the kept statements, then closes the connection.
func (c *cachingConn) Close() error {
	for q, cs := range c.stmts {
		_ = cs.st.Close() // the connection's close frees what is left
		delete(c.stmts, q)
	}
	return c.timedConn.Close()
}

// cachedRows frees its statement for the next run when closed. It passes
// on the column type details the driver's rows give (database/sql's
// ColumnTypes asks for them), with database/sql's own defaults where the
// driver has none.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
