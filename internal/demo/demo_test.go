package demo

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"credtrack"
)

// testDays are the days the generator is checked on: an ordinary day, a
// leap day and a year end, where month arithmetic is most likely to slip.
var testDays = []string{"2026-03-15", "2028-02-29", "2030-12-31"}

func mustDate(tb testing.TB, s string) credtrack.Date {
	tb.Helper()
	d, err := credtrack.ParseDate(s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// validateCredential runs Credential.Validate on a copy (Validate normalizes its
// receiver) as the store would, with a provider ID set.
func validateCredential(c *credtrack.Credential) error {
	cp := *c
	cp.ProviderID = "p"
	return cp.Validate()
}

func TestProvidersValid(t *testing.T) {
	for _, day := range testDays {
		t.Run(day, func(t *testing.T) {
			today := mustDate(t, day)
			ps := Providers(ProviderCount, today)
			if !reflect.DeepEqual(ps, Providers(ProviderCount, today)) {
				t.Fatal("two calls with the same arguments differ")
			}
			if len(ps) != ProviderCount {
				t.Fatalf("got %d providers, want %d", len(ps), ProviderCount)
			}
			npis, deas, emails := map[string]bool{}, map[string]bool{}, map[string]bool{}
			ssns := 0
			for i, p := range ps {
				cp := *p
				if err := cp.Validate(); err != nil {
					t.Errorf("provider %d (%s): %v", i, p.FullName(), err)
				}
				if !reflect.DeepEqual(cp, *p) {
					t.Errorf("provider %d changed on Validate: generated data should already be normalized", i)
				}
				if p.ID != "" || p.OrgID != "" || p.UserID != "" {
					t.Errorf("provider %d has IDs set", i)
				}
				if p.NPI != "" {
					if !credtrack.ValidNPI(p.NPI) || p.NPI[0] != '1' {
						t.Errorf("provider %d: bad NPI %s", i, p.NPI)
					}
					if npis[p.NPI] {
						t.Errorf("provider %d: duplicate NPI %s", i, p.NPI)
					}
					npis[p.NPI] = true
				}
				if p.SSN != "" {
					ssns++
					if len(p.SSN) != 9 || p.SSN[0] != '9' {
						t.Errorf("provider %d: SSN %s is not a 9xx number without dashes", i, p.SSN)
					}
				}
				if emails[p.Email] {
					t.Errorf("provider %d: duplicate email %s", i, p.Email)
				}
				emails[p.Email] = true
				if !strings.HasSuffix(p.Email, "@example.org") || !strings.Contains(p.Phone, "-555-01") {
					t.Errorf("provider %d: contact details %s %s are not fictional", i, p.Email, p.Phone)
				}
				if age := today.Year() - p.DOB.Year(); age < 24 || age > 69 {
					t.Errorf("provider %d: age %d", i, age)
				}
				if len(p.Credentials) == 0 {
					t.Errorf("provider %d has no credentials", i)
				}
				for _, c := range p.Credentials {
					if c.ProviderID != "" || c.ID != "" {
						t.Errorf("provider %d: credential has IDs set", i)
					}
					if err := validateCredential(c); err != nil {
						t.Errorf("provider %d: %s credential: %v", i, c.Type, err)
					}
					if c.IssuedOn.IsZero() || c.IssuedOn.After(today.Time) {
						t.Errorf("provider %d: %s issued %s, not before %s", i, c.Type, c.IssuedOn, today)
					}
					if !c.VerifiedAt.IsZero() && (c.VerifiedAt.After(today.Time) || c.VerifiedBy == "") {
						t.Errorf("provider %d: %s verified %v by %q", i, c.Type, c.VerifiedAt, c.VerifiedBy)
					}
					switch c.Type {
					case credtrack.CredNPI:
						if c.Number != p.NPI || !c.ExpiresOn.IsZero() || c.Issuer != "CMS NPPES" {
							t.Errorf("provider %d: NPI credential %+v", i, c)
						}
					case credtrack.CredDEA:
						if !credtrack.ValidDEA(c.Number) {
							t.Errorf("provider %d: invalid DEA %s", i, c.Number)
						}
						if c.Number[1] != strings.ToUpper(p.LastName)[0] || !strings.ContainsRune("ABFM", rune(c.Number[0])) {
							t.Errorf("provider %d: DEA %s does not match %s", i, c.Number, p.LastName)
						}
						if deas[c.Number] {
							t.Errorf("provider %d: duplicate DEA %s", i, c.Number)
						}
						deas[c.Number] = true
					case credtrack.CredStateLicense:
						if c.Jurisdiction != p.State || c.Details["license_type"] == "" || c.Issuer == "" {
							t.Errorf("provider %d: license %+v", i, c)
						}
					case credtrack.CredCE:
						if c.Details["hours"] == "" || c.Details["topic"] == "" || c.Details["accrediting_body"] == "" {
							t.Errorf("provider %d: CE details %v", i, c.Details)
						}
					}
				}
			}
			if ssns < ProviderCount/3 || ssns > ProviderCount*2/3 {
				t.Errorf("%d of %d providers have an SSN, want about half", ssns, ProviderCount)
			}
		})
	}
}

func TestProvidersCoverEveryStatus(t *testing.T) {
	for _, day := range testDays {
		t.Run(day, func(t *testing.T) {
			today := mustDate(t, day)
			ps := Providers(ProviderCount, today)
			statuses := map[credtrack.ProviderStatus]int{}
			bands := map[string]int{}
			profs := map[credtrack.Profession]int{}
			for _, p := range ps {
				statuses[p.Status(today, expiringWindow)]++
				profs[p.Profession]++
				if !p.Active {
					continue
				}
				for _, c := range p.Credentials {
					if c.Status(today, expiringWindow) != credtrack.StatusExpiring {
						continue
					}
					switch d := c.ExpiresOn.DaysUntil(today); {
					case d <= 30:
						bands["0-30"]++
					case d <= 60:
						bands["31-60"]++
					default:
						bands["61-90"]++
					}
				}
			}
			t.Logf("statuses %v, expiring bands %v, professions %v", statuses, bands, profs)
			want := map[credtrack.ProviderStatus]int{ // percent of the roster, ±3
				credtrack.ProviderCompliant: 52,
				credtrack.ProviderExpiring:  25,
				credtrack.ProviderExpired:   8,
				credtrack.ProviderMissing:   6,
				credtrack.ProviderPending:   6,
				credtrack.ProviderInactive:  3,
			}
			for s, pct := range want {
				got := statuses[s] * 100 / len(ps)
				if statuses[s] == 0 || got < pct-3 || got > pct+3 {
					t.Errorf("status %s: %d providers (%d%%), want about %d%%", s, statuses[s], got, pct)
				}
			}
			for _, b := range []string{"0-30", "31-60", "61-90"} {
				if bands[b] == 0 {
					t.Errorf("no credential expires within %s days", b)
				}
			}
			if rn := profs[credtrack.ProfRN] * 100 / len(ps); rn < 35 || rn > 55 {
				t.Errorf("%d%% registered nurses, want about 45%%", rn)
			}
		})
	}
}

// TestProvidersSameCastEveryDay checks that the date only moves dates: the
// people, their numbers and their files stay the same, so that screenshots
// and benchmarks are comparable across days.
func TestProvidersSameCastEveryDay(t *testing.T) {
	a := Providers(ProviderCount, mustDate(t, testDays[0]))
	b := Providers(ProviderCount, mustDate(t, testDays[1]))
	for i := range a {
		if a[i].FullName() != b[i].FullName() || a[i].NPI != b[i].NPI || len(a[i].Credentials) != len(b[i].Credentials) {
			t.Fatalf("provider %d differs: %s %s vs %s %s", i, a[i].FullName(), a[i].NPI, b[i].FullName(), b[i].NPI)
		}
		for j, c := range a[i].Credentials {
			// Some license numbers start with the year of licensure, which
			// is counted back from today; the rest of the number stays.
			if d := b[i].Credentials[j]; c.Type != d.Type || c.Issuer != d.Issuer || credtrack.Last4(c.Number) != credtrack.Last4(d.Number) {
				t.Fatalf("provider %d credential %d differs: %s %s vs %s %s", i, j, c.Type, c.Number, d.Type, d.Number)
			}
		}
	}
}

func TestProvidersSmall(t *testing.T) {
	today := mustDate(t, testDays[0])
	if ps := Providers(0, today); len(ps) != 0 {
		t.Errorf("Providers(0) returned %d", len(ps))
	}
	if ps := Providers(1, today); len(ps) != 1 {
		t.Errorf("Providers(1) returned %d", len(ps))
	}
	seen := map[credtrack.ProviderStatus]bool{}
	for _, p := range Providers(8, today) {
		seen[p.Status(today, expiringWindow)] = true
	}
	if len(seen) != 6 {
		t.Errorf("8 providers show statuses %v, want all six", seen)
	}
}

func TestVocabulary(t *testing.T) {
	for _, list := range [][]string{firstNames, lastNames} {
		seen := map[string]bool{}
		for _, n := range list {
			if seen[strings.ToLower(n)] {
				t.Errorf("duplicate name %q", n)
			}
			seen[strings.ToLower(n)] = true
			if strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ' -") != "" {
				t.Errorf("name %q has characters other than ASCII letters, apostrophe, space, hyphen", n)
			}
		}
		if len(list) < 300 {
			t.Errorf("only %d names", len(list))
		}
	}
	for _, pr := range profiles {
		for _, sp := range pr.specialties {
			for _, bc := range sp.certs {
				if _, ok := boards[bc.board]; !ok {
					t.Errorf("%s %s: unknown board %s", pr.prof, sp.name, bc.board)
				}
			}
			for _, r := range sp.resus {
				if resusCourses[r] == "" {
					t.Errorf("%s %s: unknown course %s", pr.prof, sp.name, r)
				}
			}
		}
	}
	var roles []credtrack.Role
	for _, s := range staff {
		roles = append(roles, s.role)
	}
	if !reflect.DeepEqual(roles, credtrack.Roles) {
		t.Errorf("demo staff roles %v, want one per role in order %v", roles, credtrack.Roles)
	}
}

func TestSeed(t *testing.T) {
	ctx := context.Background()
	today := mustDate(t, testDays[0])
	s := newFakeStore()
	hashes := 0
	hash := func(pw string) (string, error) {
		if pw != Password {
			t.Errorf("hashing %q, want the demo password", pw)
		}
		hashes++
		return "hash:" + pw, nil
	}

	res, err := Seed(ctx, s, today, hash)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.OrgID == "" || res.Providers != ProviderCount || len(res.Logins) != len(credtrack.Roles) {
		t.Fatalf("first Seed: %+v", res)
	}
	if hashes != len(credtrack.Roles) {
		t.Errorf("%d passwords hashed, want %d", hashes, len(credtrack.Roles))
	}
	for i, l := range res.Logins {
		u, err := s.FindUserByEmail(ctx, l.Email)
		if err != nil {
			t.Fatalf("login %s: %v", l.Email, err)
		}
		if l.Role != credtrack.Roles[i] || l.Password != Password || len(l.Password) < 15 {
			t.Errorf("login %+v", l)
		}
		if u.EmailVerifiedAt.IsZero() || u.PasswordHash != "hash:"+Password || u.Name == "" {
			t.Errorf("user %+v", u)
		}
		if got := s.roles[res.OrgID+"/"+u.ID]; got != l.Role {
			t.Errorf("%s has role %q in the demo org, want %q", l.Email, got, l.Role)
		}
	}
	nurse, _ := s.FindUserByEmail(ctx, loginEmail(credtrack.RoleProvider))
	linked := 0
	for _, p := range s.providers {
		if p.OrgID != res.OrgID {
			t.Errorf("provider in org %s", p.OrgID)
		}
		if p.UserID != "" {
			linked++
			if p.UserID != nurse.ID || p.Profession != credtrack.ProfRN || nurse.Name != p.FirstName+" "+p.LastName {
				t.Errorf("provider %s linked to user %s (%s)", p.FullName(), p.UserID, nurse.Name)
			}
		}
	}
	if linked != 1 {
		t.Errorf("%d providers linked to the provider account, want 1", linked)
	}
	creds := len(s.credentials)
	if creds < 3*ProviderCount {
		t.Errorf("only %d credentials", creds)
	}

	again, err := Seed(ctx, s, today, hash)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.OrgID != res.OrgID || again.Providers != ProviderCount || len(again.Logins) != len(res.Logins) {
		t.Errorf("second Seed: %+v", again)
	}
	if len(s.orgs) != 1 || len(s.users) != len(credtrack.Roles) || len(s.providers) != ProviderCount || len(s.credentials) != creds {
		t.Errorf("second Seed created records: %d orgs, %d users, %d providers, %d credentials",
			len(s.orgs), len(s.users), len(s.providers), len(s.credentials))
	}
}

// TestSeedLeavesExistingAccounts checks that Seed does not take over an
// account that happens to use a demo address, and writes nothing then.
func TestSeedLeavesExistingAccounts(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	if err := s.CreateUser(ctx, &credtrack.User{Email: loginEmail(credtrack.RoleOwner)}); err != nil {
		t.Fatal(err)
	}
	_, err := Seed(ctx, s, mustDate(t, testDays[0]), func(string) (string, error) { return "h", nil })
	if credtrack.ErrorCode(err) != credtrack.ECONFLICT {
		t.Fatalf("Seed: %v, want a conflict", err)
	}
	if len(s.orgs) != 0 || len(s.users) != 1 {
		t.Errorf("Seed wrote %d orgs, %d users", len(s.orgs), len(s.users))
	}
}

func BenchmarkProviders(b *testing.B) {
	today := mustDate(b, testDays[0])
	for b.Loop() {
		Providers(ProviderCount, today)
	}
}

// fakeStore is an in-memory Store that applies the rules Seed relies on:
// validation, the organization scope and the permissions of the actor in
// the context.
type fakeStore struct {
	mu          sync.Mutex
	orgs        map[string]*credtrack.Organization
	users       map[string]*credtrack.User // by ID
	roles       map[string]credtrack.Role  // by "org/user"
	providers   map[string]*credtrack.Provider
	credentials map[string]*credtrack.Credential
}

func newFakeStore() *fakeStore {
	return &fakeStore{orgs: map[string]*credtrack.Organization{}, users: map[string]*credtrack.User{},
		roles: map[string]credtrack.Role{}, providers: map[string]*credtrack.Provider{},
		credentials: map[string]*credtrack.Credential{}}
}

func notFound() error { return credtrack.Errorf(credtrack.ENOTFOUND, "not found") }

func (s *fakeStore) CreateOrg(ctx context.Context, o *credtrack.Organization) error {
	if err := o.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o.ID = credtrack.NewID()
	cp := *o
	s.orgs[o.ID] = &cp
	return nil
}

func (s *fakeStore) FindOrgByID(ctx context.Context, id string) (*credtrack.Organization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orgs[id]; ok {
		cp := *o
		return &cp, nil
	}
	return nil, notFound()
}

func (s *fakeStore) FindOrgByName(ctx context.Context, name string) (*credtrack.Organization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orgs {
		if o.Name == name {
			cp := *o
			return &cp, nil
		}
	}
	return nil, notFound()
}

func (s *fakeStore) CreateUser(ctx context.Context, u *credtrack.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.users {
		if x.Email == u.Email {
			return credtrack.Errorf(credtrack.ECONFLICT, "an account with this email address already exists")
		}
	}
	u.ID, u.CreatedAt = credtrack.NewID(), credtrack.Now()
	cp := *u
	s.users[u.ID] = &cp
	return nil
}

func (s *fakeStore) FindUserByEmail(ctx context.Context, email string) (*credtrack.User, error) {
	e, err := credtrack.NormalizeEmail(email)
	if err != nil {
		return nil, notFound()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Email == e {
			cp := *u
			return &cp, nil
		}
	}
	return nil, notFound()
}

func (s *fakeStore) FindUserByID(ctx context.Context, id string) (*credtrack.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		cp := *u
		return &cp, nil
	}
	return nil, notFound()
}

func (s *fakeStore) AddMembership(ctx context.Context, userID string, role credtrack.Role) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermMemberManage); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		return notFound()
	}
	if _, ok := s.roles[org+"/"+userID]; ok {
		return credtrack.Errorf(credtrack.ECONFLICT, "already a member")
	}
	s.roles[org+"/"+userID] = role
	return nil
}

func (s *fakeStore) FindMemberships(ctx context.Context, userID string) ([]*credtrack.Membership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*credtrack.Membership
	for k, r := range s.roles {
		if org, user, _ := strings.Cut(k, "/"); user == userID {
			out = append(out, &credtrack.Membership{OrgID: org, OrgName: s.orgs[org].Name, UserID: user, Role: r})
		}
	}
	return out, nil
}

func (s *fakeStore) CreateProvider(ctx context.Context, p *credtrack.Provider) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermProviderWrite); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ID, p.OrgID = credtrack.NewID(), org
	cp := *p
	cp.Credentials = nil // stored separately, as the real store does
	s.providers[p.ID] = &cp
	return nil
}

func (s *fakeStore) FindProviderByID(ctx context.Context, id string) (*credtrack.Provider, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.providers[id]
	if !ok || p.OrgID != org {
		return nil, notFound()
	}
	cp := *p
	for _, c := range s.credentials {
		if c.ProviderID == id {
			cc := *c
			cp.Credentials = append(cp.Credentials, &cc)
		}
	}
	return &cp, nil
}

func (s *fakeStore) FindProviders(ctx context.Context, f credtrack.ProviderFilter) ([]*credtrack.Provider, int, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, 0, err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermProviderRead); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*credtrack.Provider
	for _, p := range s.providers {
		if p.OrgID == org {
			cp := *p
			out = append(out, &cp)
		}
	}
	total := len(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, total, nil
}

func (s *fakeStore) CreateCredential(ctx context.Context, c *credtrack.Credential) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermCredentialWrite); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.providers[c.ProviderID]; !ok || p.OrgID != org {
		return notFound()
	}
	c.ID, c.OrgID = credtrack.NewID(), org
	cp := *c
	s.credentials[c.ID] = &cp
	return nil
}

func (s *fakeStore) FindCredentialByID(ctx context.Context, id string) (*credtrack.Credential, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.credentials[id]
	if !ok || c.OrgID != org {
		return nil, notFound()
	}
	cp := *c
	return &cp, nil
}

// The seed never updates or deletes records.

func (s *fakeStore) UpdateProvider(ctx context.Context, p *credtrack.Provider) error {
	return credtrack.Errorf(credtrack.EUNSUPPORTED, "not in the fake")
}

func (s *fakeStore) DeleteProvider(ctx context.Context, id string) error {
	return credtrack.Errorf(credtrack.EUNSUPPORTED, "not in the fake")
}

func (s *fakeStore) UpdateCredential(ctx context.Context, c *credtrack.Credential) error {
	return credtrack.Errorf(credtrack.EUNSUPPORTED, "not in the fake")
}

func (s *fakeStore) DeleteCredential(ctx context.Context, id string) error {
	return credtrack.Errorf(credtrack.EUNSUPPORTED, "not in the fake")
}
