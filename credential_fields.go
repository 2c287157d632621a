package credtrack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// FieldKind is the format of one type-specific credential field.
type FieldKind string

// The formats of type-specific fields. Values are stored as strings in
// Credential.Details, normalized by ValidateDetails.
const (
	FieldText     FieldKind = "text"     // free text, at most 200 characters
	FieldDate     FieldKind = "date"     // YYYY-MM-DD
	FieldBool     FieldKind = "bool"     // "true" or "false"
	FieldEnum     FieldKind = "enum"     // one of Options
	FieldMulti    FieldKind = "multi"    // a comma-separated subset of Options, kept in Options order
	FieldMoney    FieldKind = "money"    // whole US dollars, > 0
	FieldHours    FieldKind = "hours"    // a decimal number of hours, > 0 and at most 1000
	FieldDocument FieldKind = "document" // the ID of a document of the same provider
)

// DetailField describes one key of Credential.Details for a type.
type DetailField struct {
	Key      string
	Label    string
	Kind     FieldKind
	Required bool
	Options  []string // for FieldEnum and FieldMulti
	Help     string
}

// CredentialSpec describes how a credential type uses the common fields
// (their labels and which are required) and which type-specific fields it
// has. Forms, imports and the API all validate through it.
type CredentialSpec struct {
	Type CredentialType
	// Labels of the common fields for this type; "" hides the field.
	IssuerLabel       string
	NumberLabel       string
	JurisdictionLabel string
	IssuedLabel       string
	ExpiresLabel      string
	// Which common fields must be filled.
	RequireIssuer, RequireNumber, RequireJurisdiction, RequireIssued, RequireExpires bool
	// JurisdictionState requires a two-letter code (a state, or "US").
	JurisdictionState bool
	Fields            []DetailField
}

// Options of the enumerated fields.
var (
	// DEASchedules are the controlled-substance schedules a DEA registration lists.
	DEASchedules = []string{"2", "2N", "3", "3N", "4", "5"}
	// LicenseStatuses are the statuses a licensing board reports.
	LicenseStatuses = []string{"active", "inactive", "probation", "restricted", "suspended", "revoked", "lapsed", "retired"}
	// MOCStatuses are the maintenance-of-certification states of a board certification.
	MOCStatuses = []string{"meeting requirements", "not meeting requirements", "not required", "lifetime certificate"}
	// CertificationNames suggests common course certifications; others are allowed.
	CertificationNames = []string{"BLS", "ACLS", "PALS", "NRP", "TNCC", "ENPC", "STABLE", "CCRN"}
)

var credentialSpecs = map[CredentialType]CredentialSpec{
	CredStateLicense: {
		IssuerLabel: "Licensing board", NumberLabel: "License number", JurisdictionLabel: "State",
		IssuedLabel: "Issued", ExpiresLabel: "Expires",
		RequireNumber: true, RequireJurisdiction: true, JurisdictionState: true,
		Fields: []DetailField{
			{Key: "license_type", Label: "License type", Kind: FieldText, Help: "RN, LPN, APRN, MD…"},
			{Key: "compact", Label: "Compact (multistate) license", Kind: FieldBool},
			{Key: "license_status", Label: "Board status", Kind: FieldEnum, Options: LicenseStatuses},
		},
	},
	CredNPI: {
		IssuerLabel: "Issuer", NumberLabel: "NPI", JurisdictionLabel: "Jurisdiction",
		IssuedLabel: "Enumeration date", RequireNumber: true,
	},
	CredDEA: {
		IssuerLabel: "Issuer", NumberLabel: "DEA number", JurisdictionLabel: "State",
		IssuedLabel: "Issued", ExpiresLabel: "Expires",
		RequireNumber: true, RequireJurisdiction: true, JurisdictionState: true, RequireExpires: true,
		Fields: []DetailField{
			{Key: "schedules", Label: "Schedules", Kind: FieldMulti, Options: DEASchedules},
		},
	},
	CredBoardCertification: {
		IssuerLabel: "Certifying board", NumberLabel: "Certificate number", IssuedLabel: "Certified",
		ExpiresLabel: "Expires", RequireIssuer: true,
		Fields: []DetailField{
			{Key: "specialty", Label: "Specialty", Kind: FieldText, Required: true},
			{Key: "initial_date", Label: "Initial certification", Kind: FieldDate},
			{Key: "moc_status", Label: "MOC status", Kind: FieldEnum, Options: MOCStatuses},
		},
	},
	CredCE: {
		IssuerLabel: "Course provider", JurisdictionLabel: "State", IssuedLabel: "Completed",
		RequireIssued: true, JurisdictionState: true,
		Fields: []DetailField{
			{Key: "course", Label: "Course", Kind: FieldText},
			{Key: "accrediting_body", Label: "Accrediting body", Kind: FieldText, Help: "ANCC, ACCME, ACPE…"},
			{Key: "hours", Label: "Hours", Kind: FieldHours, Required: true},
			{Key: "topic", Label: "Topic", Kind: FieldText},
			{Key: "category", Label: "Category", Kind: FieldText, Help: "e.g. pharmacology, ethics, state mandate"},
			{Key: "certificate_document_id", Label: "Certificate document", Kind: FieldDocument},
		},
	},
	CredPrivilege: {
		IssuerLabel: "Facility", JurisdictionLabel: "State", IssuedLabel: "Start", ExpiresLabel: "End",
		RequireIssuer: true, JurisdictionState: true,
		Fields: []DetailField{
			{Key: "scope", Label: "Scope of privileges", Kind: FieldText},
		},
	},
	CredPayerEnrollment: {
		IssuerLabel: "Payer", NumberLabel: "Provider ID", JurisdictionLabel: "State", IssuedLabel: "Effective",
		ExpiresLabel: "Ends", RequireIssuer: true, JurisdictionState: true,
		Fields: []DetailField{
			{Key: "revalidation_date", Label: "Revalidation due", Kind: FieldDate},
		},
	},
	CredMalpractice: {
		IssuerLabel: "Carrier", NumberLabel: "Policy number", JurisdictionLabel: "State",
		IssuedLabel: "Coverage start", ExpiresLabel: "Coverage end", RequireIssuer: true, JurisdictionState: true,
		Fields: []DetailField{
			{Key: "per_claim", Label: "Per-claim limit (USD)", Kind: FieldMoney},
			{Key: "aggregate", Label: "Aggregate limit (USD)", Kind: FieldMoney},
		},
	},
	CredCertification: {
		IssuerLabel: "Issuer", NumberLabel: "Card number", IssuedLabel: "Issued", ExpiresLabel: "Expires",
		Fields: []DetailField{
			{Key: "name", Label: "Certification", Kind: FieldText, Required: true, Help: "BLS, ACLS, PALS, NRP…"},
		},
	},
	CredOther: {
		IssuerLabel: "Issuer", NumberLabel: "Number", JurisdictionLabel: "Jurisdiction", IssuedLabel: "Issued",
		ExpiresLabel: "Expires",
		Fields: []DetailField{
			{Key: "name", Label: "Name", Kind: FieldText},
		},
	},
}

// Spec returns how the type uses the common fields and its type-specific
// fields. An unknown type gets the spec of CredOther.
func (t CredentialType) Spec() CredentialSpec {
	s, ok := credentialSpecs[t]
	if !ok {
		s = credentialSpecs[CredOther]
	}
	s.Type = t
	return s
}

// Field returns the spec of one type-specific field.
func (s CredentialSpec) Field(key string) (DetailField, bool) {
	i := slices.IndexFunc(s.Fields, func(f DetailField) bool { return f.Key == key })
	if i < 0 {
		return DetailField{}, false
	}
	return s.Fields[i], true
}

// ValidateDetails checks and normalizes c.Details against the type's spec:
// unknown keys and malformed values are refused, empty values dropped,
// booleans, schedules, money and hours written in one canonical form.
func (c *Credential) ValidateDetails() error {
	spec := c.Type.Spec()
	out := map[string]string{}
	for k, v := range c.Details {
		v = strings.TrimSpace(v)
		f, ok := spec.Field(k)
		if !ok {
			if v == "" {
				continue
			}
			return Errorf(EINVALID, "%s has no field %q", c.Type.Label(), k)
		}
		if v == "" {
			continue
		}
		nv, err := normalizeField(f, v)
		if err != nil {
			return err
		}
		out[k] = nv
	}
	for _, f := range spec.Fields {
		if f.Required && out[f.Key] == "" {
			return Errorf(EINVALID, "%s: %s is required", c.Type.Label(), strings.ToLower(f.Label))
		}
	}
	if pc, ag := out["per_claim"], out["aggregate"]; pc != "" && ag != "" {
		p, _ := strconv.ParseInt(pc, 10, 64)
		a, _ := strconv.ParseInt(ag, 10, 64)
		if a < p {
			return Errorf(EINVALID, "the aggregate limit is below the per-claim limit")
		}
	}
	if len(out) == 0 {
		out = nil
	}
	c.Details = out
	return nil
}

func normalizeField(f DetailField, v string) (string, error) {
	bad := func(format string, args ...any) error {
		return Errorf(EINVALID, "%s: %s", f.Label, fmt.Sprintf(format, args...))
	}
	switch f.Kind {
	case FieldText, FieldDocument:
		if len(v) > 200 {
			return "", bad("at most 200 characters")
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", bad("control characters are not allowed")
		}
		return v, nil
	case FieldDate:
		d, err := ParseDate(v)
		if err != nil {
			return "", bad("use YYYY-MM-DD")
		}
		return d.String(), nil
	case FieldBool:
		switch strings.ToLower(v) {
		case "true", "yes", "y", "on", "1":
			return "true", nil
		case "false", "no", "n", "off", "0":
			return "false", nil
		}
		return "", bad("use yes or no")
	case FieldEnum:
		for _, o := range f.Options {
			if strings.EqualFold(o, v) {
				return o, nil
			}
		}
		return "", bad("use one of %s", strings.Join(f.Options, ", "))
	case FieldMulti:
		seen := map[string]bool{}
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			i := slices.IndexFunc(f.Options, func(o string) bool { return strings.EqualFold(o, part) })
			if i < 0 {
				return "", bad("%q is not one of %s", part, strings.Join(f.Options, ", "))
			}
			seen[f.Options[i]] = true
		}
		var parts []string
		for _, o := range f.Options {
			if seen[o] {
				parts = append(parts, o)
			}
		}
		return strings.Join(parts, ","), nil
	case FieldMoney:
		s := strings.NewReplacer("$", "", ",", "", " ", "").Replace(v)
		s = strings.TrimSuffix(s, ".00")
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n > 1_000_000_000_000 {
			return "", bad("a whole number of dollars greater than zero")
		}
		return strconv.FormatInt(n, 10), nil
	case FieldHours:
		h, err := strconv.ParseFloat(v, 64)
		if err != nil || !(h > 0) || h > 1000 {
			return "", bad("a number of hours greater than zero")
		}
		return strconv.FormatFloat(h, 'f', -1, 64), nil
	}
	return v, nil
}

// validState reports whether s is a two-letter upper-case code.
func validState(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
