package credtrack

// ReminderOrg is an organization as the expiry reminder pass sees it.
type ReminderOrg struct {
	ID   string
	Name string
	// WindowDays is the organization's expiring window
	// (Organization.ExpiringWindowDays).
	WindowDays int
}

// ExpiringCredential is a credential of an active provider that expires
// soon (or has just expired), with what a reminder needs. It holds no
// credential number.
type ExpiringCredential struct {
	CredentialID string
	ProviderID   string
	ProviderName string
	Type         CredentialType
	Jurisdiction string
	ExpiresOn    Date
	// ProviderEmail and ProviderUserName are those of the provider's
	// linked account ("" when there is none or it is disabled).
	ProviderEmail    string
	ProviderUserName string
	// Sent lists the thresholds already reminded of for this expiry date.
	Sent []int
}

// ExpiryReminder is one reminder issued: a credential's expiry date and
// the threshold (days before expiry, 0 = on expiry) it was sent at.
type ExpiryReminder struct {
	CredentialID string
	ProviderID   string
	ExpiresOn    Date
	Threshold    int
	// DaysLeft is how many days were left when it was sent (negative:
	// expired), for the audit event.
	DaysLeft int
}
