package main

import (
	"credtrack/internal/docs"
)

// documents returns the document service openApp made: encrypted blobs in
// the S3 bucket of --blob-s3-* when set, else in the data directory, with
// the configured size limit.
func (a *app) documents() (*docs.Service, error) {
	return a.docs, nil
}
