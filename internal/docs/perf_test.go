package docs_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"credtrack/internal/blob"
	"credtrack/internal/docs"
	"credtrack/internal/storetest"
)

// genPDF streams n bytes that start like a PDF, without holding them:
// it cycles a 64 KiB random block. It samples the heap every MiB.
type genPDF struct {
	n, off   int64
	block    []byte
	peakHeap uint64
	sampled  int64
}

func newGenPDF(n int64) *genPDF {
	b := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b, "%PDF-1.7\n")
	return &genPDF{n: n, block: b}
}

func (g *genPDF) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	if g.off-g.sampled >= 1<<20 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g.peakHeap = max(g.peakHeap, ms.HeapAlloc)
		g.sampled = g.off
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	n := 0
	for n < len(p) {
		k := copy(p[n:], g.block[(g.off+int64(n))%int64(len(g.block)):])
		n += k
	}
	g.off += int64(n)
	return n, nil
}

// TestUploadMemoryIsConstant uploads a 50 MB stream and checks that the
// heap grows by far less than the file: the pipeline holds a few chunks,
// never the document.
func TestUploadMemoryIsConstant(t *testing.T) {
	db := storetest.OpenSQLite(t, &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})
	e := setup(t, db)
	e.svc.MaxSize = 60 << 20
	const size = 50 << 20
	g := newGenPDF(size)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g.peakHeap = before.HeapAlloc
	d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: g})
	if err != nil {
		t.Fatal(err)
	}
	growth := int64(g.peakHeap) - int64(before.HeapAlloc)
	t.Logf("upload of %d MB: peak heap growth %.2f MB (sampled every MiB)", size>>20, float64(growth)/(1<<20))
	if growth > 8<<20 {
		t.Errorf("heap grew by %d bytes while uploading %d bytes", growth, size)
	}
	// Download streams too.
	_, rc, err := e.svc.Open(e.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak uint64
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := rc.Read(buf)
		total += int64(n)
		if total%(1<<20) < int64(n) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	rc.Close()
	dgrowth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("download of %d MB: peak heap growth %.2f MB", total>>20, float64(dgrowth)/(1<<20))
	if total != size || dgrowth > 8<<20 {
		t.Errorf("download: %d bytes, heap growth %d", total, dgrowth)
	}
}

// BenchmarkUpload compares the full upload (sniff, SHA-256, chunked
// AES-256-GCM, blob write, row insert with its audit event on SQLite) with
// a plain io.Copy of the same bytes into the same local blob store, and
// reports both rates and their ratio.
func BenchmarkUpload(b *testing.B) {
	db := storetest.OpenSQLite(b, &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})
	dir := filepath.Join(b.TempDir(), "blobs")
	bs, err := blob.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx, _ := storetest.NewOrg(b, db, "Bench")
	pid := newProviderTB(b, db, ctx)
	svc := &docs.Service{Store: db, Blobs: bs}
	const size = 8 << 20
	data := make([]byte, size)
	copy(data, newGenPDF(size).block)
	for i := 64 << 10; i < size; i += 64 << 10 {
		copy(data[i:], data[:64<<10])
	}
	var plain, full time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if err := bs.Put(context.Background(), "plain/x", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := svc.Upload(ctx, docs.Upload{ProviderID: pid, Body: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		plain += t1.Sub(t0)
		full += t2.Sub(t1)
	}
	mbs := func(d time.Duration) float64 { return float64(size) * float64(b.N) / (1 << 20) / d.Seconds() }
	b.ReportMetric(mbs(plain), "plain-MB/s")
	b.ReportMetric(mbs(full), "encrypted-MB/s")
	b.ReportMetric(mbs(full)/mbs(plain), "ratio")
}
