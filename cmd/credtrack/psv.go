package main

import (
	"credtrack"
	"credtrack/internal/psv"
	"credtrack/internal/psv/license"
	"credtrack/internal/psv/nppes"
	"credtrack/internal/psv/nursys"
)

// verification returns the primary-source verification service of the
// configuration: NPPES always (nppes-url), Nursys when nursys-url is set,
// state board files when license-dir is set; manual verifications store
// their attachment through the document service on the local blob store.
// A source that keeps failing (credtrack.FailingAfter failed calls in a
// row) raises an alert for the coordinators of each organization whose
// checks it turns into manual tasks, in the app and by email.
// It is built once per app.
func (a *app) verification() *psv.Service {
	if a.psv != nil {
		return a.psv
	}
	sources := map[string]credtrack.Source{credtrack.SourceNPPES: &nppes.Source{Client: nppes.New(a.cfg.NPPESURL)}}
	if a.cfg.NursysURL != "" {
		sources[credtrack.SourceNursys] = &nursys.Source{Client: nursys.New(a.cfg.NursysURL, a.cfg.NursysUsername, a.cfg.NursysPassword)}
	}
	if a.cfg.LicenseDir != "" {
		sources[credtrack.SourceLicenseFile] = &license.Source{Dir: a.cfg.LicenseDir}
	}
	svc := &psv.Service{Store: a.db, Sources: sources, Log: a.log, Alerts: a.alertService()}
	svc.Docs = a.docs
	a.psv = svc
	return svc
}
