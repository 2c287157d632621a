package sqlstore

import (
	"os"
	"syscall"
)

// dataSync flushes f's data and the metadata needed to read it back
// (fdatasync), as SQLite's own unix VFS does for the WAL: the file's times
// need not reach the disk.
func dataSync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd())) // #nosec G115 -- a file descriptor fits in int
		if err != syscall.EINTR {
			return err
		}
	}
}
