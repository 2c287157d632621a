package sqlstore

import (
	"crypto/rand"
	"sync/atomic"
	"time"
)

// sortable32 is the alphabet of rand.Text (and so of credtrack.NewID) in
// ASCII order, so that a number written in it sorts as the number does.
const sortable32 = "234567ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// lastOrdered is the time prefix (microseconds since 1970) of the last
// ordered ID this process made; each new one is greater.
var lastOrdered atomic.Uint64

// orderedIDs returns n new record IDs for a bulk write that sort in the
// order they were made: 11 characters of a microsecond clock (strictly
// increasing within the process) followed by 15 random characters (75
// bits from crypto/rand), 26 characters from the alphabet of
// credtrack.NewID, so they look and are used like any other ID.
//
// Why not NewID: a roster import inserts hundreds of thousands of rows,
// and with fully random keys every insert into a primary key, a
// provider_id index or the audit log's target index lands on a random
// B-tree page. Once the indexes outgrow the page cache each batch dirties
// (and, on SQLite, rewrites through the encrypting VFS and the
// checkpoint) nearly every page of them, so the cost per row grows with
// the table. Keys that increase make those inserts appends. Like a UUIDv7
// the prefix reveals when the record was created (which its created_at
// shows anyway to whoever can see it), not how many records any
// organization holds; the random part keeps IDs unguessable.
func orderedIDs(n int) []string {
	if n <= 0 {
		return nil
	}
	now := uint64(time.Now().UnixMicro())
	var first uint64
	for {
		last := lastOrdered.Load()
		first = max(now, last+1)
		if lastOrdered.CompareAndSwap(last, first+uint64(n)-1) {
			break
		}
	}
	random := make([]byte, 15*n)
	rand.Read(random) // never fails (crypto/rand since Go 1.24)
	buf := make([]byte, 26*n)
	ids := make([]string, n)
	for i := range ids {
		b := buf[26*i : 26*i+26]
		v := first + uint64(i)
		for j := 10; j >= 0; j-- {
			b[j] = sortable32[v&31]
			v >>= 5
		}
		for j, r := range random[15*i : 15*i+15] {
			b[11+j] = sortable32[r&31]
		}
		ids[i] = string(b)
	}
	return ids
}
