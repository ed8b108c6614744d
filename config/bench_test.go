package config_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// BenchmarkConfigRead compares a typed read from the snapshot with the
// standards' get_config, which runs one SQL query per read.
func BenchmarkConfigRead(b *testing.B) {
	d, _ := dbtest.Open(b, db.SQLite)
	k, _ := config.NewKey()
	sealer, _ := config.NewSealer(k)
	store := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.StandardKeys()...), sealer)
	ctx := context.Background()
	if _, err := store.Set(ctx, "smtp_port", "2525", config.AnyVersion, config.Origin{Actor: "bench"}); err != nil {
		b.Fatal(err)
	}
	c := config.New(store, func(string) string { return "" }, dbtest.Discard())
	if err := c.Reload(ctx); err != nil {
		b.Fatal(err)
	}

	b.Run("snapshot/Int", func(b *testing.B) {
		b.ReportAllocs()
		var sum int64
		for b.Loop() {
			sum += c.Int("smtp_port")
		}
		if sum == 0 {
			b.Fatal("read nothing")
		}
	})
	b.Run("snapshot/Handle", func(b *testing.B) {
		b.ReportAllocs()
		h, ok := c.Handle("smtp_port")
		if !ok {
			b.Fatal("no handle")
		}
		var sum int64
		for b.Loop() {
			sum += c.Value(h).Int
		}
		if sum == 0 {
			b.Fatal("read nothing")
		}
	})
	b.Run("snapshot/Setting", func(b *testing.B) {
		// The typed handle of a declared setting: what parts read.
		b.ReportAllocs()
		port := config.Int("smtp_port", config.Email)
		s2 := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(port), sealer)
		c2 := config.New(s2, func(string) string { return "" }, dbtest.Discard())
		if err := c2.Reload(ctx); err != nil {
			b.Fatal(err)
		}
		var sum int64
		for b.Loop() {
			sum += port.Get()
		}
		if sum == 0 {
			b.Fatal("read nothing")
		}
	})
	b.Run("snapshot/String", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n += len(c.String("waddleai_url"))
		}
		if n == 0 {
			b.Fatal("read nothing")
		}
	})
	b.Run("snapshot/Int/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if c.Int("smtp_port") != 2525 {
					panic("wrong value")
				}
			}
		})
	})
	b.Run("sql-per-read/sqlite", func(b *testing.B) {
		b.ReportAllocs()
		var sum int64
		for b.Loop() {
			var v string
			if err := d.QueryRowContext(ctx, `SELECT config_value FROM config WHERE config_key = ?`, "smtp_port").Scan(&v); err != nil {
				b.Fatal(err)
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			sum += n
		}
		if sum == 0 {
			b.Fatal("read nothing")
		}
	})
}
