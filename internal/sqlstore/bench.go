package sqlstore

// DisableReadAuditForBenchmark turns off the audit event of every read
// (auditRead: credential.read, provider.read, provider.listed, audit.read,
// export.created) on this DB handle, so that bench/auditbench can measure
// the same read endpoint without auditing as a baseline.
//
// BENCHMARKS ONLY. It breaks the security promise that every read is on
// the record. Only code under bench/ may call it; cmd/ and every other
// production path must never call it. Call it right after Open, before db
// serves any request, and use that handle for the baseline only (it cannot
// be turned back on). Writes and RecordEvent are still audited; the
// API's reqaudit wrapper will record a generic "http.request" event for a
// read that recorded none, so a baseline must also give api.New an Auditor
// that discards events.
func (db *DB) DisableReadAuditForBenchmark() { db.benchNoReadAudit = true }
