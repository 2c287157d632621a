package sqlstore

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"credtrack"
)

// TestCanonicalJSONMatchesEncodingJSON: the hand-written encoder of the
// audit hash input and the details column gives json.Marshal's bytes,
// for plain values and for every kind of string encoding/json escapes.
func TestCanonicalJSONMatchesEncodingJSON(t *testing.T) {
	odd := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\r",
		"\x00\x01\x1f\x7f", "\b\f", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf-8", "O'Brien-Smith"}
	events := []*credtrack.AuditEvent{
		{ID: credtrack.NewID(), OrgID: credtrack.NewID(), Seq: 1, At: time.Now(), ActorKind: credtrack.ActorUser,
			Action: "provider.created", TargetType: "provider", TargetID: "X", Outcome: credtrack.OutcomeSuccess,
			Details: map[string]string{"import": "abc", "profession": "MD"}},
		{Seq: 1 << 40, At: time.Unix(0, 0), Details: nil},
		{Seq: -1, Details: map[string]string{}},
	}
	for i, s := range odd {
		events = append(events, &credtrack.AuditEvent{ID: s, OrgID: s, Seq: int64(i), At: time.Unix(int64(i)*1e6, 123456789),
			ActorKind: credtrack.ActorKind(s), ActorID: s, ActorRole: credtrack.Role(s), Action: s, TargetType: s,
			TargetID: s, Outcome: credtrack.Outcome(s), IP: s, UserAgent: s, RequestID: s,
			Details: map[string]string{s: s, "z" + s: strings.Repeat(s, 3), "a": s}})
	}
	for _, ev := range events {
		want, err := json.Marshal(canonicalEvent{ev.ID, ev.OrgID, ev.Seq, ev.At.UnixMicro(), string(ev.ActorKind), ev.ActorID,
			string(ev.ActorRole), ev.Action, ev.TargetType, ev.TargetID, string(ev.Outcome), ev.IP,
			ev.UserAgent, ev.RequestID, ev.Details})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCanonical(nil, ev); string(got) != string(want) {
			t.Errorf("canonical form\n got %s\nwant %s", got, want)
		}
		wantDetails, _ := json.Marshal(ev.Details)
		if got := appendJSONMap(nil, ev.Details); string(got) != string(wantDetails) {
			t.Errorf("details\n got %s\nwant %s", got, wantDetails)
		}
	}
}

// TestOrderedIDs: ordered IDs look like NewID's (26 characters of its
// alphabet), increase within a call and across calls, and differ in their
// random part.
func TestOrderedIDs(t *testing.T) {
	var all []string
	for range 50 {
		all = append(all, orderedIDs(100)...)
	}
	if !slices.IsSorted(all) {
		t.Fatal("ordered IDs do not increase")
	}
	seen := map[string]bool{}
	tails := map[string]bool{}
	for _, id := range all {
		if len(id) != len(credtrack.NewID()) || strings.Trim(id, sortable32) != "" {
			t.Fatalf("ID %q is not in NewID's form", id)
		}
		if seen[id] {
			t.Fatalf("ID %q made twice", id)
		}
		seen[id], tails[id[11:]] = true, true
	}
	if len(tails) != len(all) {
		t.Error("the random parts repeat")
	}
	if orderedIDs(0) != nil {
		t.Error("orderedIDs(0) is not empty")
	}
}
