package main

import (
	"credtrack/internal/blob"
	"credtrack/internal/docs"
)

// documents returns the document service: encrypted blobs in the data
// directory's local blob store, with the default size limit.
func (a *app) documents() (*docs.Service, error) {
	blobs, err := blob.NewLocal(a.cfg.BlobDir())
	if err != nil {
		return nil, err
	}
	return &docs.Service{Store: a.db, Blobs: blobs}, nil
}
