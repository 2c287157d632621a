package roster

import (
	"errors"
	"io"
)

// MaxRecordBytes caps one CSV record (a row, including quoted line breaks).
// encoding/csv buffers a whole record before returning it, so without a
// cap a file with no line break, or an unterminated quote, would be read
// into memory whole.
const MaxRecordBytes = 64 << 10

// errRecordTooLong stops a read whose record passed MaxRecordBytes.
var errRecordTooLong = errors.New("roster: record too long")

// guard sits between the file and encoding/csv. It counts the bytes read
// (for progress) and follows the CSV quoting just enough to know where a
// record ends, failing the read once a record passes max bytes. Its view
// of quoting matches encoding/csv for well-formed input; on malformed
// quoting (which encoding/csv reports as an error anyway) it may end a
// record a little later, which only makes the cap apply later.
type guard struct {
	r     io.Reader
	n     int64 // bytes read so far
	max   int
	cur   int // bytes of the current record so far
	state int
	err   error
}

const (
	gFieldStart = iota
	gUnquoted
	gQuoted
	gQuoteInQuoted
)

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; i++ {
		c := p[i]
		g.cur++
		switch g.state {
		case gFieldStart, gUnquoted:
			switch c {
			case '"':
				if g.state == gFieldStart {
					g.state = gQuoted
				}
			case ',':
				g.state = gFieldStart
			case '\n':
				g.state, g.cur = gFieldStart, 0
			default:
				g.state = gUnquoted
			}
		case gQuoted:
			if c == '"' {
				g.state = gQuoteInQuoted
			}
		case gQuoteInQuoted:
			switch c {
			case '"':
				g.state = gQuoted
			case ',':
				g.state = gFieldStart
			case '\n':
				g.state, g.cur = gFieldStart, 0
			default:
				g.state = gUnquoted
			}
		}
		if g.cur > g.max {
			// Hand over what came before this byte, then fail.
			g.n += int64(i)
			g.err = errRecordTooLong
			return i, nil
		}
	}
	g.n += int64(n)
	return n, err
}
