package docs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"credtrack"
	"credtrack/internal/blob"
	"credtrack/internal/docs"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// marker is a distinctive plaintext run put into fixtures, so a test can
// check that no blob holds plaintext.
const marker = "PLAINTEXT-MARKER-0123456789-ABCDEFGHIJ"

// pdfFixture is a syntactically plausible PDF of about size bytes.
func pdfFixture(size int, seed uint64) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n")
	r := rand.New(rand.NewPCG(seed, 1))
	for b.Len() < size {
		b.WriteString(marker)
		for range 64 {
			b.WriteByte(byte(r.Uint32()))
		}
	}
	b.WriteString("\n%%EOF\n")
	return b.Bytes()
}

func imageFixture(t *testing.T, kind string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	var err error
	if kind == "png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type env struct {
	db       *sqlstore.DB
	svc      *docs.Service
	blobDir  string
	ctx      context.Context
	org      *credtrack.Organization
	p1, p2   string
	ctxOther context.Context
	pOther   string
}

func newProvider(t testing.TB, db *sqlstore.DB, ctx context.Context, last string) string {
	p := &credtrack.Provider{FirstName: "Ada", LastName: last, Profession: credtrack.ProfRN, State: "MO", Active: true}
	if err := db.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func newProviderTB(t testing.TB, db *sqlstore.DB, ctx context.Context) string {
	return newProvider(t, db, ctx, "Bench")
}

func setup(t *testing.T, db *sqlstore.DB) *env {
	e := &env{db: db, blobDir: filepath.Join(t.TempDir(), "blobs")}
	bs, err := blob.NewLocal(e.blobDir)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = &docs.Service{Store: db, Blobs: bs}
	e.ctx, e.org = storetest.NewOrg(t, db, "Org A")
	e.ctxOther, _ = storetest.NewOrg(t, db, "Org B")
	e.p1, e.p2 = newProvider(t, db, e.ctx, "One"), newProvider(t, db, e.ctx, "Two")
	e.pOther = newProvider(t, db, e.ctxOther, "Other")
	return e
}

// blobFiles lists the regular files under the blob directory.
func blobFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func readAll(t *testing.T, svc *docs.Service, ctx context.Context, id string) ([]byte, error) {
	t.Helper()
	_, rc, err := svc.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func code(err error) string { return credtrack.ErrorCode(err) }

func countEvents(t *testing.T, db *sqlstore.DB, ctx context.Context, action string) []*credtrack.AuditEvent {
	t.Helper()
	evs, _, err := db.FindAuditEvents(ctx, credtrack.AuditFilter{Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestRoundTrip(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		fixtures := []struct {
			name, typ string
			data      []byte
		}{
			{"license.pdf", docs.TypePDF, pdfFixture(300<<10, 1)},
			{"badge.png", docs.TypePNG, imageFixture(t, "png")},
			{"id.jpg", docs.TypeJPEG, imageFixture(t, "jpeg")},
			{"exact.pdf", docs.TypePDF, pdfFixture(0, 2)[:0]}, // replaced below
		}
		// A document of exactly two chunks exercises a full final chunk.
		exact := pdfFixture(128<<10, 3)[:128<<10]
		fixtures[3].data = exact
		for _, f := range fixtures {
			d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Filename: "../../" + f.name, Body: bytes.NewReader(f.data)})
			if err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
			sum := sha256.Sum256(f.data)
			if d.ContentType != f.typ || d.Size != int64(len(f.data)) || !bytes.Equal(d.SHA256, sum[:]) || d.Filename != f.name {
				t.Errorf("%s: recorded %q %d %x %q", f.name, d.ContentType, d.Size, d.SHA256, d.Filename)
			}
			got, err := readAll(t, e.svc, e.ctx, d.ID)
			if err != nil || !bytes.Equal(got, f.data) {
				t.Fatalf("%s: download %d bytes, %v", f.name, len(got), err)
			}
		}
		list, err := db.FindDocuments(e.ctx, e.p1)
		if err != nil || len(list) != len(fixtures) {
			t.Fatalf("FindDocuments = %d, %v", len(list), err)
		}
		// The blob directory holds no plaintext.
		files := blobFiles(t, e.blobDir)
		if len(files) != len(fixtures) {
			t.Errorf("%d blob files, want %d", len(files), len(fixtures))
		}
		for _, p := range files {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("%PDF-")) || bytes.Contains(b, []byte("PNG")) {
				t.Errorf("blob %s holds plaintext", p)
			}
		}
		for _, a := range []string{"document.uploaded", "document.downloaded", "document.listed"} {
			if n := len(countEvents(t, db, e.ctx, a)); n == 0 {
				t.Errorf("no %s event", a)
			}
		}
	})
}

func TestRoundTripS3(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	s3, err := blob.NewS3(blob.S3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "docs",
		Region: "us-east-1", AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	db := storetest.OpenSQLite(t, &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})
	e := setup(t, db)
	e.svc.Blobs = s3
	e.svc.MaxSize = 1 << 20
	data := pdfFixture(700<<10, 9)
	d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Filename: "a.pdf", Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, e.svc, e.ctx, d.ID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes, %v", len(got), err)
	}
	_, err = e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(pdfFixture(2<<20, 1))})
	if code(err) != credtrack.ETOOLARGE {
		t.Fatalf("oversized to S3: %v", err)
	}
}

func TestTypeByContentNotName(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		bad := map[string][]byte{
			"exe.pdf":   append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), make([]byte, 2000)...),
			"page.pdf":  []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"),
			"elf.png":   append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 100)...),
			"empty.pdf": nil,
			"space.pdf": []byte("  %PDF-1.4 not at the start"),
			"svg.jpg":   []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`),
		}
		for name, data := range bad {
			_, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Filename: name, Body: bytes.NewReader(data)})
			if code(err) != credtrack.EUNSUPPORTED {
				t.Errorf("%s: err = %v, want %s", name, err, credtrack.EUNSUPPORTED)
			}
		}
		// A PNG named .pdf is stored as what it is.
		d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Filename: "scan.pdf", Body: bytes.NewReader(imageFixture(t, "png"))})
		if err != nil || d.ContentType != docs.TypePNG {
			t.Fatalf("png named .pdf: %v, %v", d, err)
		}
		if n := len(blobFiles(t, e.blobDir)); n != 1 {
			t.Errorf("%d blobs, want 1 (rejected uploads leave nothing)", n)
		}
	})
}

func TestTooLargeLeavesNothing(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		e.svc.MaxSize = 200 << 10
		ok := pdfFixture(200<<10, 1)[:200<<10]
		if _, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(ok)}); err != nil {
			t.Fatalf("exactly at the limit: %v", err)
		}
		over := pdfFixture(200<<10+1, 1)[:200<<10+1]
		_, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(over)})
		if code(err) != credtrack.ETOOLARGE {
			t.Fatalf("err = %v, want %s", err, credtrack.ETOOLARGE)
		}
		_, err = e.svc.VerifyFile(e.ctx, bytes.NewReader(over))
		if code(err) != credtrack.ETOOLARGE {
			t.Errorf("VerifyFile over the limit: %v", err)
		}
		if files := blobFiles(t, e.blobDir); len(files) != 1 {
			t.Errorf("blob files after a rejected upload: %v", files)
		}
		if list, _ := db.FindDocuments(e.ctx, e.p1); len(list) != 1 {
			t.Errorf("%d rows, want 1", len(list))
		}
	})
}

func TestTamperedBlob(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		data := pdfFixture(260<<10, 5) // 5 chunks, the last one short
		d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(e.blobDir, filepath.FromSlash(d.BlobKey))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		const hdr, ct = 4, 64<<10 + 16
		chunk := func(b []byte, i int) []byte { return b[hdr+i*ct : hdr+(i+1)*ct] }
		cases := map[string]func(b []byte) []byte{
			"flip a byte":            func(b []byte) []byte { b[hdr+ct+100] ^= 1; return b },
			"flip a tag byte":        func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b },
			"flip the magic":         func(b []byte) []byte { b[0] ^= 1; return b },
			"truncate mid-chunk":     func(b []byte) []byte { return b[:hdr+2*ct+500] },
			"truncate at a boundary": func(b []byte) []byte { return b[:hdr+2*ct] },
			"only the header":        func(b []byte) []byte { return b[:hdr] },
			"empty":                  func(b []byte) []byte { return nil },
			"drop the last chunk":    func(b []byte) []byte { return b[:hdr+4*ct] },
			"append a byte":          func(b []byte) []byte { return append(b, 0) },
			"swap chunks 1 and 2": func(b []byte) []byte {
				c1 := append([]byte(nil), chunk(b, 1)...)
				copy(chunk(b, 1), chunk(b, 2))
				copy(chunk(b, 2), c1)
				return b
			},
			"duplicate chunk 0": func(b []byte) []byte { copy(chunk(b, 1), chunk(b, 0)); return b },
		}
		for name, tamper := range cases {
			if err := os.WriteFile(path, tamper(append([]byte(nil), orig...)), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, e.svc, e.ctx, d.ID)
			if err == nil {
				t.Errorf("%s: download succeeded (%d bytes)", name, len(got))
			} else if !errors.Is(err, docs.ErrCorrupt) {
				t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
			}
		}
		// Another document's blob under this document's key does not open.
		d2, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		other, _ := os.ReadFile(filepath.Join(e.blobDir, filepath.FromSlash(d2.BlobKey)))
		os.WriteFile(path, other, 0o600)
		if _, err := readAll(t, e.svc, e.ctx, d.ID); !errors.Is(err, docs.ErrCorrupt) {
			t.Errorf("swapped blob: err = %v", err)
		}
		os.WriteFile(path, orig, 0o600)
		if got, err := readAll(t, e.svc, e.ctx, d.ID); err != nil || !bytes.Equal(got, data) {
			t.Errorf("restored blob: %v", err)
		}
	})
}

func TestOrgIsolation(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		data := pdfFixture(10<<10, 7)
		d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(t, e.svc, e.ctxOther, d.ID); code(err) != credtrack.ENOTFOUND {
			t.Errorf("other org Open: %v", err)
		}
		m, err := e.svc.VerifyFile(e.ctxOther, bytes.NewReader(data))
		if err != nil || m.Matched() {
			t.Errorf("other org VerifyFile: %+v, %v", m, err)
		}
		m, err = e.svc.VerifySHA256(e.ctxOther, hex.EncodeToString(d.SHA256))
		if err != nil || m.Matched() {
			t.Errorf("other org VerifySHA256: %+v, %v", m, err)
		}
		if _, err := db.FindDocuments(e.ctxOther, e.p1); code(err) != credtrack.ENOTFOUND {
			t.Errorf("other org FindDocuments: %v", err)
		}
		if err := e.svc.Delete(e.ctxOther, d.ID); code(err) != credtrack.ENOTFOUND {
			t.Errorf("other org Delete: %v", err)
		}
		// Uploading to another organization's provider fails and leaves no blob.
		if _, err := e.svc.Upload(e.ctxOther, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(data)}); code(err) != credtrack.ENOTFOUND {
			t.Errorf("upload to other org's provider: %v", err)
		}
		if n := len(blobFiles(t, e.blobDir)); n != 1 {
			t.Errorf("%d blobs, want 1", n)
		}
		// A provider-role user reads their own record's documents only.
		if got, err := readAll(t, e.svc, e.ctx, d.ID); err != nil || !bytes.Equal(got, data) {
			t.Errorf("own org: %v", err)
		}
		stranger := storetest.As("user-x", e.org.ID, credtrack.RoleProvider)
		if _, err := readAll(t, e.svc, stranger, d.ID); code(err) != credtrack.ENOTFOUND {
			t.Errorf("unlinked provider-role user: %v", err)
		}
		if _, err := e.svc.VerifySHA256(stranger, hex.EncodeToString(d.SHA256)); code(err) != credtrack.EFORBIDDEN {
			t.Errorf("provider-role verify: %v", err)
		}
	})
}

func TestVerifyAndFraudFlag(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		data := imageFixture(t, "jpeg")
		d1, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Filename: "lic.jpg", Body: bytes.NewReader(data)})
		if err != nil || d1.PossibleFraud {
			t.Fatalf("first upload: %+v, %v", d1, err)
		}
		// The same provider uploading the same file twice is not fraud.
		if d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(data)}); err != nil || d.PossibleFraud {
			t.Fatalf("second upload, same provider: %+v, %v", d, err)
		}
		m, err := e.svc.VerifyFile(e.ctx, bytes.NewReader(data))
		if err != nil || len(m.Documents) != 2 || m.PossibleFraud {
			t.Fatalf("VerifyFile: %+v, %v", m, err)
		}
		m, err = e.svc.VerifyFile(e.ctx, bytes.NewReader(append(data, 0)))
		if err != nil || m.Matched() {
			t.Fatalf("VerifyFile of a changed file: %+v, %v", m, err)
		}
		d3, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p2, Body: bytes.NewReader(data)})
		if err != nil || !d3.PossibleFraud {
			t.Fatalf("same file for another provider: %+v, %v", d3, err)
		}
		m, err = e.svc.VerifySHA256(e.ctx, "  "+strings.ToUpper(hex.EncodeToString(d1.SHA256))+"\n")
		if err != nil || len(m.Documents) != 3 || !m.PossibleFraud {
			t.Fatalf("VerifySHA256: %+v, %v", m, err)
		}
		for _, bad := range []string{"", "xyz", hex.EncodeToString(d1.SHA256[:31]), strings.Repeat("g", 64)} {
			if _, err := e.svc.VerifySHA256(e.ctx, bad); code(err) != credtrack.EINVALID {
				t.Errorf("VerifySHA256(%q): %v", bad, err)
			}
		}
		fraud := 0
		for _, ev := range countEvents(t, db, e.ctx, "document.verified") {
			if ev.Details["possible_fraud"] == "true" {
				fraud++
			}
			if strings.Contains(strings.ToLower(ev.Details["matches"]+ev.TargetID), hex.EncodeToString(d1.SHA256)) {
				t.Error("fingerprint in the audit log")
			}
		}
		if fraud != 1 {
			t.Errorf("%d verified events flagged possible_fraud, want 1", fraud)
		}
		up := 0
		for _, ev := range countEvents(t, db, e.ctx, "document.uploaded") {
			if ev.Details["possible_fraud"] == "true" {
				up++
			}
		}
		if up != 1 {
			t.Errorf("%d uploaded events flagged possible_fraud, want 1", up)
		}
	})
}

// failingStore makes the row insert fail after the blob was written, as a
// crash or a lost database connection at that moment would.
type failingStore struct {
	docs.Store
	blobs   blob.Store
	sawBlob bool
}

func (f *failingStore) CreateDocument(ctx context.Context, d *credtrack.Document, key []byte) error {
	f.sawBlob, _ = f.blobs.Exists(ctx, d.BlobKey)
	return errors.New("connection reset")
}

func TestFailureBetweenBlobAndRow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		fs := &failingStore{Store: db, blobs: e.svc.Blobs}
		svc := &docs.Service{Store: fs, Blobs: e.svc.Blobs}
		if _, err := svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(pdfFixture(100<<10, 1))}); err == nil {
			t.Fatal("upload succeeded")
		}
		if !fs.sawBlob {
			t.Fatal("the blob was not written before the row")
		}
		if files := blobFiles(t, e.blobDir); len(files) != 0 {
			t.Errorf("orphan blobs: %v", files)
		}
		// A real transaction failure: a credential that is not this provider's.
		_, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, CredentialID: "no-such-credential", Body: bytes.NewReader(pdfFixture(1000, 1))})
		if code(err) != credtrack.ENOTFOUND {
			t.Errorf("unknown credential: %v", err)
		}
		if files := blobFiles(t, e.blobDir); len(files) != 0 {
			t.Errorf("orphan blobs: %v", files)
		}
		if list, err := db.FindDocuments(e.ctx, e.p1); err != nil || len(list) != 0 {
			t.Errorf("rows: %d, %v", len(list), err)
		}
	})
}

func TestDelete(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(pdfFixture(1000, 1))})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Delete(e.ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(t, e.svc, e.ctx, d.ID); code(err) != credtrack.ENOTFOUND {
			t.Errorf("after delete: %v", err)
		}
		if files := blobFiles(t, e.blobDir); len(files) != 0 {
			t.Errorf("blob left after delete: %v", files)
		}
		if len(countEvents(t, db, e.ctx, "document.deleted")) != 1 {
			t.Error("no document.deleted event")
		}
	})
}

// TestSweepOrphans covers a real crash between the blob write and the row
// insert: the process dies, so Upload's own cleanup never runs. The sweep
// removes such blobs (and stale temp files) once they are older than the
// grace period, and leaves documents and recent blobs alone.
func TestSweepOrphans(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		e := setup(t, db)
		d, err := e.svc.Upload(e.ctx, docs.Upload{ProviderID: e.p1, Body: bytes.NewReader(pdfFixture(1000, 1))})
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-2 * time.Hour)
		ctx := context.Background()
		orphan := "org/" + e.org.ID + "/" + credtrack.NewID()
		recent := "org/" + e.org.ID + "/" + credtrack.NewID()
		for _, k := range []string{orphan, recent} {
			if err := e.svc.Blobs.Put(ctx, k, strings.NewReader("ciphertext")); err != nil {
				t.Fatal(err)
			}
		}
		tmp := filepath.Join(e.blobDir, "org", e.org.ID, ".tmp-12345")
		os.WriteFile(tmp, []byte("half"), 0o600)
		for _, p := range []string{filepath.Join(e.blobDir, filepath.FromSlash(orphan)), filepath.Join(e.blobDir, filepath.FromSlash(d.BlobKey)), tmp} {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		n, err := e.svc.SweepOrphans(ctx, time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("SweepOrphans = %d, %v; want 1", n, err)
		}
		for k, want := range map[string]bool{orphan: false, recent: true, d.BlobKey: true} {
			if ok, _ := e.svc.Blobs.Exists(ctx, k); ok != want {
				t.Errorf("%s exists = %v, want %v", k, ok, want)
			}
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("stale temp file not removed: %v", err)
		}
		if got, err := readAll(t, e.svc, e.ctx, d.ID); err != nil || len(got) == 0 {
			t.Errorf("document after sweep: %v", err)
		}
		if evs := countEvents(t, db, e.ctx, "document.orphan_removed"); len(evs) != 1 {
			t.Errorf("%d orphan_removed events, want 1", len(evs))
		}
	})
}
