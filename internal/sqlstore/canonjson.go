package sqlstore

import (
	"encoding/json"
	"slices"
	"strconv"

	"credtrack"
)

// The audit chain hashes the JSON of canonicalEvent as encoding/json
// writes it, and VerifyChain recomputes it that way. Appending an event
// marshalled it twice by reflection (the hash and the details column),
// about a tenth of a roster import's CPU on PostgreSQL. The functions
// below write the same bytes directly; any string that is not plain
// printable ASCII without characters JSON or HTML escaping touches goes
// through encoding/json itself, so the output is byte for byte
// json.Marshal's (TestCanonicalJSONMatchesEncodingJSON).

// appendCanonical appends json.Marshal(canonicalEvent{...}) of ev.
func appendCanonical(b []byte, ev *credtrack.AuditEvent) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, ev.ID)
	b = append(b, `,"org":`...)
	b = appendJSONString(b, ev.OrgID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, ev.At.UnixMicro(), 10)
	for _, f := range [...]struct{ k, v string }{
		{`,"actor_kind":`, string(ev.ActorKind)}, {`,"actor_id":`, ev.ActorID}, {`,"actor_role":`, string(ev.ActorRole)},
		{`,"action":`, ev.Action}, {`,"target_type":`, ev.TargetType}, {`,"target_id":`, ev.TargetID},
		{`,"outcome":`, string(ev.Outcome)}, {`,"ip":`, ev.IP}, {`,"ua":`, ev.UserAgent}, {`,"request_id":`, ev.RequestID},
	} {
		b = append(b, f.k...)
		b = appendJSONString(b, f.v)
	}
	b = append(b, `,"details":`...)
	b = appendJSONMap(b, ev.Details)
	return append(b, '}')
}

// appendJSONMap appends json.Marshal(m): keys sorted, nil as null.
func appendJSONMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONString appends json.Marshal(s).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // cannot fail for a string
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
