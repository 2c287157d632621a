package roster_test

import (
	"context"
	"io"
	"testing"

	"credtrack/internal/roster"
)

// BenchmarkCheck measures reading and checking: b.SetBytes gives MB/s.
func BenchmarkCheckBadRows(b *testing.B) {
	g := newGigabyte(64 << 20)
	data, _ := io.ReadAll(g)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rep, err := roster.Check(context.Background(), bytesReader(data), roster.Options{})
		if err != nil || rep.Rows == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckValid(b *testing.B) {
	data, _ := io.ReadAll(roster.Synthetic(100000))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rep, err := roster.Check(context.Background(), bytesReader(data), roster.Options{})
		if err != nil || !rep.OK() {
			b.Fatal(err)
		}
	}
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
