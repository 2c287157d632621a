package main

import (
	"credtrack/internal/blob"
	"credtrack/internal/docs"
)

// documents returns the document service: the one openApp made (encrypted
// blobs in the data directory, the configured size limit), or a new one
// on the local blob store for an app assembled without it.
func (a *app) documents() (*docs.Service, error) {
	if a.docs != nil {
		return a.docs, nil
	}
	blobs, err := blob.NewLocal(a.cfg.BlobDir())
	if err != nil {
		return nil, err
	}
	return &docs.Service{Store: a.db, Blobs: blobs, MaxSize: a.cfg.MaxUploadBytes}, nil
}
