//go:build !linux

package sqlstore

import "os"

// dataSync flushes f to the disk (fsync where fdatasync is not available).
func dataSync(f *os.File) error { return f.Sync() }
