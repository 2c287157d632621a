// Package demo generates the demonstration data of `credtrack demo`: an
// organization, one account per role and a roster of about two hundred
// providers whose credentials show every status the product knows (active,
// expiring within 30, 60 and 90 days, expired, missing, pending
// verification, inactive), so that dashboards, reminders and reports have
// something to show from the first minute.
//
// Every person, number and address is fictional: phone numbers use the
// 555-0100–0199 range reserved for fiction, SSNs use area numbers 900–999
// that are never issued, emails use example.org and the reserved-looking
// riverside.demo domain. NPI and DEA numbers are random but carry valid
// check digits, because the validation code insists on them.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"credtrack"
)

// OrgName is the name of the demo organization. Seed looks the organization
// up by this name to tell whether the demo data already exists.
const OrgName = "Riverside Health (demo)"

// Password is the password of every demo account. It is public by design
// (it is printed by `credtrack demo` and written here) but long and not on
// common-password lists, so it passes the same password rules as a real
// one. Never use the demo accounts on a server others can reach.
const Password = "riverside-demo-2026"

// ProviderCount is the number of providers Seed creates.
const ProviderCount = 200

// actorName names the demo seeder in the audit log.
const actorName = "demo"

// emailDomain is the domain of the demo accounts. ".demo" is not a
// delegated top-level domain, so these addresses cannot belong to anyone
// and mail sent to them goes nowhere.
const emailDomain = "riverside.demo"

// expiringWindow is the organization's "expiring" window in days; the
// generated population is laid out against it (30/60/90-day bands).
const expiringWindow = 90

// Store is what Seed needs; *sqlstore.DB implements it.
type Store interface {
	credtrack.OrgService
	credtrack.UserService
	credtrack.ProviderService
	credtrack.CredentialService
}

// Login is one demo account, for the caller to print.
type Login struct {
	Email    string
	Password string
	Role     credtrack.Role
}

// Result tells what Seed did.
type Result struct {
	OrgID string
	// Logins lists the demo accounts in role order. They are returned even
	// when the demo already existed, as the accounts it was created with.
	Logins []Login
	// Providers is the number of providers in the demo organization.
	Providers int
	// Created is false when the organization already existed and Seed
	// changed nothing.
	Created bool
}

// staff are the demo accounts, one per role, in credtrack.Roles order. The
// provider account takes the name of the provider record it is linked to.
var staff = []struct {
	role credtrack.Role
	name string
}{
	{credtrack.RoleOwner, "Margaret Ellison"},
	{credtrack.RoleAdmin, "David Okafor"},
	{credtrack.RoleCoordinator, "Rosa Delgado"},
	{credtrack.RoleProvider, ""},
	{credtrack.RoleAuditor, "Kevin Brennan"},
}

// loginEmail returns the address of the demo account with a role.
func loginEmail(r credtrack.Role) string { return string(r) + "@" + emailDomain }

// logins returns the demo accounts for Result.
func logins() []Login {
	out := make([]Login, 0, len(staff))
	for _, s := range staff {
		out = append(out, Login{Email: loginEmail(s.role), Password: Password, Role: s.role})
	}
	return out
}

// Seed creates the demo organization OrgName with one user per role and
// ProviderCount providers with their credentials, dated relative to today.
// If an organization with that name already exists it creates nothing and
// returns that organization's ID with Created false, so `credtrack demo`
// can run on every start. hashPassword turns Password into the stored hash.
//
// Seed checks that the demo addresses are free before it writes anything:
// granting an existing account (perhaps someone else's sign-up) the owner
// role of the demo organization would be a privilege escalation. Seed is
// not one transaction, because the store offers none across services; if
// it fails midway the organization exists with part of its data, and the
// demo data directory should be removed before trying again.
func Seed(ctx context.Context, s Store, today credtrack.Date, hashPassword func(string) (string, error)) (*Result, error) {
	if hashPassword == nil {
		return nil, errors.New("demo: no password hasher")
	}
	// Finding and creating an organization happens outside any
	// organization: a system actor without an OrgID.
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor(actorName, ""))
	org, err := s.FindOrgByName(sys, OrgName)
	if err != nil && credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
		return nil, fmt.Errorf("demo: find organization: %w", err)
	}
	if err == nil && org != nil {
		return existing(ctx, s, org.ID)
	}

	for _, st := range staff {
		_, err := s.FindUserByEmail(sys, loginEmail(st.role))
		if err == nil {
			return nil, credtrack.Errorf(credtrack.ECONFLICT,
				"an account %s already exists; the demo will not take it over", loginEmail(st.role))
		}
		if credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			return nil, fmt.Errorf("demo: find user: %w", err)
		}
	}

	org = &credtrack.Organization{Name: OrgName, Kind: credtrack.OrgKindTeam, ExpiringWindowDays: expiringWindow}
	if err := s.CreateOrg(sys, org); err != nil {
		return nil, fmt.Errorf("demo: create organization: %w", err)
	}
	octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor(actorName, org.ID))

	providers := Providers(ProviderCount, today)
	nurse := ownRecord(providers, credtrack.DateOf(today.Time))
	now := credtrack.Now()
	for _, st := range staff {
		name := st.name
		if st.role == credtrack.RoleProvider && nurse != nil {
			name = nurse.FirstName + " " + nurse.LastName
		}
		hash, err := hashPassword(Password)
		if err != nil {
			return nil, fmt.Errorf("demo: hash password: %w", err)
		}
		u := &credtrack.User{Email: loginEmail(st.role), Name: name, PasswordHash: hash, EmailVerifiedAt: now}
		if err := s.CreateUser(octx, u); err != nil {
			return nil, fmt.Errorf("demo: create %s account: %w", st.role, err)
		}
		if err := s.AddMembership(octx, u.ID, st.role); err != nil {
			return nil, fmt.Errorf("demo: add %s membership: %w", st.role, err)
		}
		if st.role == credtrack.RoleProvider && nurse != nil {
			// The record's contact address is the login, as it would be
			// for a nurse who was invited by email.
			nurse.UserID, nurse.Email = u.ID, u.Email
		}
	}

	res := &Result{OrgID: org.ID, Logins: logins(), Created: true}
	for i, p := range providers {
		creds := p.Credentials
		if err := s.CreateProvider(octx, p); err != nil {
			// The index, not the name: errors end up in logs, and provider
			// names are personal data even when they are made up.
			return nil, fmt.Errorf("demo: create provider %d: %w", i+1, err)
		}
		for _, c := range creds {
			c.ProviderID = p.ID
			if err := s.CreateCredential(octx, c); err != nil {
				return nil, fmt.Errorf("demo: create %s credential of provider %d: %w", c.Type, i+1, err)
			}
		}
		p.Credentials = creds
		res.Providers++
	}
	return res, nil
}

// existing describes a demo organization created by an earlier run.
func existing(ctx context.Context, s Store, orgID string) (*Result, error) {
	octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor(actorName, orgID))
	_, total, err := s.FindProviders(octx, credtrack.ProviderFilter{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("demo: count providers: %w", err)
	}
	return &Result{OrgID: orgID, Logins: logins(), Providers: total, Created: false}, nil
}

// ownRecord picks the provider record of the provider-role account: an
// active registered nurse with a credential coming due, so that signing in
// as her shows the reminder and renewal side of the product at once.
func ownRecord(ps []*credtrack.Provider, today credtrack.Date) *credtrack.Provider {
	var rn *credtrack.Provider
	for _, p := range ps {
		if p.Profession != credtrack.ProfRN || !p.Active {
			continue
		}
		if p.Status(today, expiringWindow) == credtrack.ProviderExpiring {
			return p
		}
		if rn == nil {
			rn = p
		}
	}
	if rn == nil && len(ps) > 0 {
		rn = ps[0]
	}
	return rn
}

// The generator's seeds. They are fixed so that the demo, the tests and
// the benchmarks see the same providers on every run and every machine.
const (
	seedWho  = 0x52495645_52534944 // "RIVERSID"
	seedWhen = 0x4845_414c_5448    // "HEALTH"
)

// scenario is the compliance story one provider's file tells.
type scenario int

const (
	compliant  scenario = iota // all credentials current and verified
	expiring30                 // one credential expires in 1–30 days
	expiring60                 // … in 31–60 days
	expiring90                 // … in 61–90 days
	expired                    // one credential has expired
	missing                    // one required credential type is absent
	unverified                 // some credentials await verification
	inactive                   // the provider left (Active false)
)

// shares are the fractions of the roster given to each non-compliant
// scenario; compliant takes the rest (about 52%). Inactive providers come
// out of what would otherwise be compliant ones.
var shares = []struct {
	s   scenario
	pct float64
}{
	{expiring30, 0.10}, {expiring60, 0.08}, {expiring90, 0.07}, {expired, 0.08},
	{missing, 0.06}, {unverified, 0.06}, {inactive, 0.03},
}

// generator builds providers. It draws from two streams: who decides
// everything about identity and structure (names, numbers, which
// credentials a provider holds) and when decides dates. Date draws depend on
// month lengths around today; keeping them on their own stream means the
// same people with the same numbers appear whatever the date.
type generator struct {
	who, when *rand.Rand
	today     credtrack.Date
	names     map[string]bool
	emails    map[string]bool
	npis      map[string]bool
	deas      map[string]bool
}

// Providers deterministically generates n providers with their credentials,
// dated relative to today: the same n and today always give the same
// providers. It is a pure function, used by Seed and by benchmarks. Each
// provider has its Credentials filled, with ProviderID left empty.
//
// With n of 8 or more every scenario appears at least once; at 200 the mix
// is about 52% compliant, 10% expiring within 30 days, 8% within 31–60, 7%
// within 61–90, 8% expired, 6% missing a required credential, 6% pending
// verification and 3% inactive.
func Providers(n int, today credtrack.Date) []*credtrack.Provider {
	if n <= 0 {
		return nil
	}
	g := &generator{
		who:    rand.New(rand.NewPCG(seedWho, seedWho^0x9e3779b97f4a7c15)),   // #nosec G404 -- seeded on purpose: demo data must be the same on every run; nothing secret is drawn
		when:   rand.New(rand.NewPCG(seedWhen, seedWhen^0x9e3779b97f4a7c15)), // #nosec G404 -- seeded on purpose: demo data must be the same on every run; nothing secret is drawn
		today:  credtrack.DateOf(today.Time),
		names:  make(map[string]bool),
		emails: make(map[string]bool),
		npis:   make(map[string]bool),
		deas:   make(map[string]bool),
	}
	out := make([]*credtrack.Provider, 0, n)
	for _, sc := range g.deal(n) {
		out = append(out, g.provider(sc))
	}
	return out
}

// deal returns n scenarios in shuffled order, in the proportions of shares.
// Counts are fixed rather than drawn per provider so that a small roster
// still shows every status.
func (g *generator) deal(n int) []scenario {
	out := make([]scenario, 0, n)
	for _, sh := range shares {
		k := int(math.Round(float64(n) * sh.pct))
		if k == 0 && n > len(shares) {
			k = 1
		}
		for ; k > 0 && len(out) < n; k-- {
			out = append(out, sh.s)
		}
	}
	for len(out) < n {
		out = append(out, compliant)
	}
	g.who.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// pick returns a random element of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// chance reports true with probability pct percent.
func chance(r *rand.Rand, pct int) bool { return r.IntN(100) < pct }

// weighted returns the index of an element chosen with the given weights.
func weighted(r *rand.Rand, n int, weight func(int) int) int {
	total := 0
	for i := range n {
		total += weight(i)
	}
	x := r.IntN(total)
	for i := range n {
		if x -= weight(i); x < 0 {
			return i
		}
	}
	return n - 1
}

// provider generates one provider whose file tells scenario sc.
func (g *generator) provider(sc scenario) *credtrack.Provider {
	pr := &profiles[weighted(g.who, len(profiles), func(i int) int { return profiles[i].weight })]
	st := &states[weighted(g.who, len(states), func(i int) int { return states[i].weight })]
	p := &credtrack.Provider{Profession: pr.prof, State: st.code, Active: sc != inactive}
	p.FirstName, p.LastName = g.name()
	if chance(g.who, 35) {
		p.MiddleName = string(middleInitials[g.who.IntN(len(middleInitials))]) + "."
	}
	if chance(g.who, 2) {
		p.Suffix = pick(g.who, suffixes)
	}
	sp := pick(g.who, pr.specialties)
	p.Specialty = sp.name
	p.Employer = g.employer(pr.prof, st)
	p.Email = g.email(p.FirstName, p.LastName)
	// 555-0100 through 555-0199 are the numbers set aside for fiction.
	p.Phone = fmt.Sprintf("%s-555-01%02d", pick(g.who, st.areaCodes), g.who.IntN(100))

	// Whole years of age plus a day offset, so the age is exact today.
	age := pr.minAge + g.who.IntN(69-pr.minAge)
	p.DOB = credtrack.DateOf(g.today.AddDate(-age, 0, -g.who.IntN(365)))
	if chance(g.who, 50) {
		p.SSN = g.ssn()
	}
	if chance(g.who, pr.npiPct) {
		p.NPI = g.npi()
	}
	licensed := g.today.Year() - 1 - g.who.IntN(max(1, age-pr.entryAge))

	ds := g.credentials(p, pr, st, sp, licensed)
	ds = g.shape(sc, pr.prof, ds)
	for _, d := range ds {
		p.Credentials = append(p.Credentials, d.c)
	}
	return p
}

// name returns a first and last name not used before in this roster, so
// that people can be told apart in lists and emails are unique.
func (g *generator) name() (first, last string) {
	for range 1000 {
		first, last = pick(g.who, firstNames), pick(g.who, lastNames)
		if k := first + " " + last; !g.names[k] {
			g.names[k] = true
			return first, last
		}
	}
	return first, last
}

// email returns first.last@example.org in lower case, letters only
// (apostrophes, hyphens and spaces dropped), numbered if already taken.
func (g *generator) email(first, last string) string {
	letters := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r
			}
			return -1
		}, strings.ToLower(s))
	}
	local := letters(first) + "." + letters(last)
	e := local + "@example.org"
	for i := 2; g.emails[e]; i++ {
		e = local + strconv.Itoa(i) + "@example.org"
	}
	g.emails[e] = true
	return e
}

// employer returns where a provider works: mostly the Riverside hospital
// or clinic of their state, sometimes a staffing firm.
func (g *generator) employer(prof credtrack.Profession, st *practiceState) string {
	agency := ""
	switch prof {
	case credtrack.ProfRN, credtrack.ProfLPN:
		agency = nurseAgency
	case credtrack.ProfCRNA:
		agency = anesthesiaGroup
	case credtrack.ProfMD, credtrack.ProfDO, credtrack.ProfPA, credtrack.ProfAPRN:
		agency = physicianPartner
	}
	switch x := g.who.IntN(100); {
	case x < 12 && agency != "":
		return agency
	case x < 40:
		return st.clinic
	}
	return st.hospital
}

// ssn returns a fictional Social Security number without dashes. Area
// numbers 900–999 are never issued as SSNs, and group numbers 10–49 keep
// clear of the 9xx ranges the IRS uses for ITINs, so these numbers cannot
// belong to anyone.
func (g *generator) ssn() string {
	return fmt.Sprintf("9%02d%02d%04d", g.who.IntN(100), 10+g.who.IntN(40), 1+g.who.IntN(9999))
}

// npi returns an unused individual NPI: 1 followed by eight random digits
// and the check digit.
func (g *generator) npi() string {
	for {
		base := "1" + g.digits(8)
		n := base + strconv.Itoa(credtrack.NPICheckDigit(base))
		if !g.npis[n] {
			g.npis[n] = true
			return n
		}
	}
}

// dea returns an unused DEA registration number: the registrant-type
// letter, the first letter of the last name, six digits and the check
// digit.
func (g *generator) dea(typeLetter byte, last string) string {
	second := byte('9')
	if l := strings.ToUpper(last); l != "" && l[0] >= 'A' && l[0] <= 'Z' {
		second = l[0]
	}
	for {
		d := g.digits(6)
		n := string([]byte{typeLetter, second}) + d + strconv.Itoa(credtrack.DEACheckDigit(d))
		if !g.deas[n] {
			g.deas[n] = true
			return n
		}
	}
}

// digits returns n random decimal digits.
func (g *generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.who.IntN(10)) // #nosec G115 -- IntN(10) is 0-9, so the sum is a digit
	}
	return string(b)
}

// format fills a number pattern: '#' a digit, '@' a letter, 'Y' the year.
func (g *generator) format(pattern string, year int) string {
	var b strings.Builder
	for _, r := range pattern {
		switch r {
		case '#':
			b.WriteByte(byte('0' + g.who.IntN(10))) // #nosec G115 -- IntN(10) is 0-9, so the sum is a digit
		case '@':
			b.WriteByte(byte('A' + g.who.IntN(26))) // #nosec G115 -- IntN(26) is 0-25, so the sum is a letter
		case 'Y':
			b.WriteString(strconv.Itoa(year))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// draft is a credential being generated. Its dates are set last, once the
// scenario has decided which credential is the one coming due.
type draft struct {
	c *credtrack.Credential
	// months is how long the credential runs; 0 for those that never
	// expire, which are dated ago days in the past instead.
	months int
	ago    [2]int // range of days since issue, for months == 0
}

// credentials generates a complete, current file for a provider: every
// credential type required for the profession plus the usual extras.
func (g *generator) credentials(p *credtrack.Provider, pr *profile, st *practiceState, sp specialty, licensed int) []*draft {
	var ds []*draft
	add := func(c *credtrack.Credential, months int) *draft {
		d := &draft{c: c, months: months}
		ds = append(ds, d)
		return d
	}
	required := credtrack.RequiredCredentials(pr.prof)
	want := func(t credtrack.CredentialType, extraPct int) bool {
		return slices.Contains(required, t) || chance(g.who, extraPct)
	}
	nurse := pr.prof == credtrack.ProfRN || pr.prof == credtrack.ProfLPN ||
		pr.prof == credtrack.ProfAPRN || pr.prof == credtrack.ProfCRNA

	// State licenses. Advanced-practice nurses hold an RN license and, a
	// few years later, an APRN license from the same board.
	switch pr.prof {
	case credtrack.ProfAPRN, credtrack.ProfCRNA:
		add(g.license(st, "RN", nil, licensed-2-g.who.IntN(6)), st.months(true))
		add(g.license(st, "APRN", []string{string(pr.prof)}, licensed), st.months(true))
	default:
		add(g.license(st, licenseType(pr.prof, st), nil, licensed), st.months(nurse))
	}

	if p.NPI != "" && want(credtrack.CredNPI, 90) {
		d := add(&credtrack.Credential{Type: credtrack.CredNPI, Issuer: "CMS NPPES", Jurisdiction: "US", Number: p.NPI}, 0)
		// NPIs were first issued in 2005; enumerated some time after
		// licensure.
		since := time.Date(max(licensed, 2006), 1, 1, 0, 0, 0, 0, time.UTC)
		d.ago = [2]int{30, max(31, int(g.today.Sub(since).Hours()/24))}
	}

	// DEA registration: physicians always; APRNs and PAs usually, as
	// mid-level practitioners (type letter M).
	dea := map[credtrack.Profession]int{credtrack.ProfAPRN: 70, credtrack.ProfPA: 70}
	if want(credtrack.CredDEA, dea[pr.prof]) {
		letter, schedules := byte('M'), "2,2N,3,3N,4,5"
		switch {
		case pr.prof == credtrack.ProfMD || pr.prof == credtrack.ProfDO:
			// A was issued first, then B, then F: older registrants keep
			// their old letter.
			letter = 'F'
			if licensed < 1990 {
				letter = 'A'
			} else if licensed < 2008 {
				letter = 'B'
			}
		case pr.prof == credtrack.ProfAPRN && st.code == "GA":
			schedules = "3,3N,4,5" // Georgia APRNs may not prescribe Schedule II
		}
		add(&credtrack.Credential{Type: credtrack.CredDEA, Issuer: "U.S. Drug Enforcement Administration",
			Jurisdiction: st.code, Number: g.dea(letter, p.LastName),
			Details: map[string]string{"schedules": schedules}}, 36)
	}

	if len(sp.certs) > 0 && want(credtrack.CredBoardCertification, 25) {
		bc := pick(g.who, sp.certs)
		b := boards[bc.board]
		add(&credtrack.Credential{Type: credtrack.CredBoardCertification, Issuer: b.name, Jurisdiction: "US",
			Number: g.digits(6 + g.who.IntN(3)), Details: map[string]string{"specialty": bc.title}}, b.months)
	}

	// Resuscitation cards from the American Heart Association, valid two
	// years: BLS for almost everyone, ACLS/PALS where the unit needs them.
	if want(credtrack.CredCertification, 60) {
		add(g.resus("BLS"), 24)
	}
	for _, course := range sp.resus {
		if chance(g.who, 80) {
			add(g.resus(course), 24)
		}
	}

	malpractice := map[credtrack.Profession]int{credtrack.ProfAPRN: 40, credtrack.ProfCRNA: 60, credtrack.ProfPA: 40}
	if want(credtrack.CredMalpractice, malpractice[pr.prof]) {
		carriers := practitionerCarriers
		if pr.prof == credtrack.ProfMD || pr.prof == credtrack.ProfDO {
			carriers = physicianCarriers
		}
		ca := pick(g.who, carriers)
		limits := map[string]string{"per_claim": "1000000", "aggregate": "3000000"}
		if slices.Contains([]string{"General Surgery", "Orthopaedic Surgery", "Obstetrics and Gynecology",
			"Anesthesiology"}, sp.name) && chance(g.who, 50) {
			limits = map[string]string{"per_claim": "2000000", "aggregate": "4000000"}
		}
		add(&credtrack.Credential{Type: credtrack.CredMalpractice, Issuer: ca.name, Jurisdiction: st.code,
			Number: ca.prefix + g.digits(7), Details: limits}, 12)
	}

	privileges := map[credtrack.Profession]int{credtrack.ProfMD: 85, credtrack.ProfDO: 85,
		credtrack.ProfCRNA: 80, credtrack.ProfPA: 60, credtrack.ProfAPRN: 50}
	if want(credtrack.CredPrivilege, privileges[pr.prof]) {
		// Medical staff reappointment runs on a two-year cycle.
		add(&credtrack.Credential{Type: credtrack.CredPrivilege, Issuer: st.hospital, Jurisdiction: st.code}, 24)
	}

	// Payer enrollments: Medicare revalidates every five years, Medicaid
	// programs about as often, commercial plans recredential every three.
	medicare := map[credtrack.Profession]int{credtrack.ProfMD: 95, credtrack.ProfDO: 95, credtrack.ProfAPRN: 90,
		credtrack.ProfPA: 90, credtrack.ProfCRNA: 60, credtrack.ProfPT: 70}
	if want(credtrack.CredPayerEnrollment, medicare[pr.prof]) {
		add(&credtrack.Credential{Type: credtrack.CredPayerEnrollment, Issuer: "Medicare", Jurisdiction: "US",
			Number: g.format("@#####", 0)}, 60)
		if medicare[pr.prof] >= 90 && chance(g.who, 60) {
			add(&credtrack.Credential{Type: credtrack.CredPayerEnrollment, Issuer: st.medicaid, Jurisdiction: st.code,
				Number: g.digits(9)}, 60)
		}
		if medicare[pr.prof] >= 90 && chance(g.who, 50) {
			add(&credtrack.Credential{Type: credtrack.CredPayerEnrollment, Issuer: pick(g.who, commercialPayers),
				Jurisdiction: st.code, Number: g.digits(8)}, 36)
		}
	}

	for _, t := range g.topics(pr, st) {
		d := add(&credtrack.Credential{Type: credtrack.CredCE, Issuer: pick(g.who, ceProviders), Jurisdiction: st.code,
			Details: map[string]string{
				"hours":            strconv.FormatFloat(t.hours, 'f', -1, 64),
				"topic":            t.name,
				"accrediting_body": pr.ceBody,
			}}, 0)
		d.ago = [2]int{7, 700} // within the current two-year renewal cycle
	}
	return ds
}

// licenseType is the license a profession practises under in a state.
func licenseType(prof credtrack.Profession, st *practiceState) string {
	switch prof {
	case credtrack.ProfLPN:
		if st.lvn {
			return "LVN"
		}
		return "LPN"
	case credtrack.ProfAPRN, credtrack.ProfCRNA:
		return "APRN"
	case credtrack.ProfPharmacist:
		return "RPh"
	}
	return string(prof)
}

// months returns how long a license of the state runs.
func (st *practiceState) months(nurse bool) int {
	if nurse && st.nursingCycle != 0 {
		return st.nursingCycle
	}
	return 24
}

// board returns the board that issues a license type in the state.
func (st *practiceState) board(licenseType string) string {
	if b, ok := st.overrides[licenseType]; ok {
		return b
	}
	switch licenseType {
	case "RN", "LPN", "LVN", "APRN":
		return st.nursing
	case "PT":
		return st.therapy
	case "RPh":
		return st.pharmacy
	}
	return st.medical
}

// license generates a state license of a type, first issued in year.
// Number shapes are looked up by the more specific keys first (CRNA before
// APRN, where a state numbers them apart).
func (g *generator) license(st *practiceState, typ string, keys []string, year int) *credtrack.Credential {
	pattern := typ + "#######"
	for _, k := range append(keys, typ, "*") {
		if p, ok := st.numbers[k]; ok {
			pattern = p
			break
		}
	}
	compact := st.compact && (typ == "RN" || typ == "LPN" || typ == "LVN")
	return &credtrack.Credential{Type: credtrack.CredStateLicense, Issuer: st.board(typ), Jurisdiction: st.code,
		Number:  g.format(pattern, year),
		Details: map[string]string{"license_type": typ, "compact": strconv.FormatBool(compact)}}
}

// resus returns an American Heart Association course card.
func (g *generator) resus(course string) *credtrack.Credential {
	return &credtrack.Credential{Type: credtrack.CredCertification, Issuer: "American Heart Association",
		Jurisdiction: "US", Number: g.digits(12), Details: map[string]string{"name": resusCourses[course]}}
}

// topics returns the CE courses on a provider's file, without repeats: a
// state-mandated topic first where the state has one, then general ones.
func (g *generator) topics(pr *profile, st *practiceState) []ceTopic {
	n := pr.ceMin + g.who.IntN(pr.ceMax-pr.ceMin+1)
	var out []ceTopic
	// Mandates are recorded for nurses (APRNs and CRNAs are nurses too)
	// and physicians only.
	group := ""
	switch pr.prof {
	case credtrack.ProfRN, credtrack.ProfLPN, credtrack.ProfAPRN, credtrack.ProfCRNA:
		group = "nurse"
	case credtrack.ProfMD, credtrack.ProfDO:
		group = "physician"
	}
	if m := mandatedTopics[st.code+"/"+group]; len(m) > 0 && chance(g.who, 70) {
		out = append(out, pick(g.who, m))
	}
	general := generalTopics[pr.ceGroup]
	for _, i := range g.who.Perm(len(general)) {
		if len(out) >= n {
			break
		}
		out = append(out, general[i])
	}
	return out
}

// shape turns a complete, current file into the scenario's story, then
// dates every credential and marks the verified ones.
func (g *generator) shape(sc scenario, prof credtrack.Profession, ds []*draft) []*draft {
	expiringIdx := func() int {
		var idx []int
		for i, d := range ds {
			if d.months > 0 {
				idx = append(idx, i)
			}
		}
		return pick(g.who, idx) // the state license always expires
	}
	target, band := -1, [2]int{}
	unverifiedSet := make(map[int]bool)
	switch sc {
	case expiring30:
		target, band = expiringIdx(), [2]int{1, 30}
	case expiring60:
		target, band = expiringIdx(), [2]int{31, 60}
	case expiring90:
		target, band = expiringIdx(), [2]int{61, 90}
	case expired:
		target, band = expiringIdx(), [2]int{-180, -1}
	case inactive:
		// Half of those who left let something lapse since.
		if chance(g.who, 50) {
			target, band = expiringIdx(), [2]int{-365, -1}
		}
	case missing:
		// Omit every credential of one required type. Never the state
		// license: a provider without one would not be on staff at all.
		var types []credtrack.CredentialType
		for _, t := range credtrack.RequiredCredentials(prof) {
			if t != credtrack.CredStateLicense {
				types = append(types, t)
			}
		}
		if len(types) > 0 {
			t := pick(g.who, types)
			ds = slices.DeleteFunc(ds, func(d *draft) bool { return d.c.Type == t })
		}
	case unverified:
		// New hires whose files are still being worked: some or all of
		// their credentials have not been verified yet.
		for i := range ds {
			if chance(g.who, 50) {
				unverifiedSet[i] = true
			}
		}
		unverifiedSet[g.who.IntN(len(ds))] = true
	}

	for i, d := range ds {
		c := d.c
		if d.months > 0 {
			lo, hi := expiringWindow+1, g.daysIn(d.months)-5
			if i == target {
				lo, hi = band[0], band[1]
			}
			c.ExpiresOn = g.day(lo + g.when.IntN(hi-lo+1))
			c.IssuedOn = credtrack.DateOf(c.ExpiresOn.AddDate(0, -d.months, 0))
		} else {
			c.IssuedOn = g.day(-(d.ago[0] + g.when.IntN(d.ago[1]-d.ago[0]+1)))
		}
		if !unverifiedSet[i] {
			c.VerifiedAt = g.verifiedAt(c.IssuedOn, c.ExpiresOn)
			c.VerifiedBy = verificationSource(c.Type)
		}
	}
	return ds
}

// day returns the date offset days from today.
func (g *generator) day(offset int) credtrack.Date {
	return credtrack.DateOf(g.today.AddDate(0, 0, offset))
}

// daysIn returns the number of days in the months months from today.
func (g *generator) daysIn(months int) int {
	return int(g.today.AddDate(0, months, 0).Sub(g.today.Time).Hours() / 24)
}

// verifiedAt returns when a credential was last verified: a weekday-hours
// time within the last 100 days, not before it was issued and not after it
// expired.
func (g *generator) verifiedAt(issued, expires credtrack.Date) time.Time {
	hi := g.day(-1)
	if !expires.IsZero() && expires.Before(g.today.Time) {
		hi = credtrack.DateOf(expires.AddDate(0, 0, -1))
	}
	lo := g.day(-100)
	if issued.After(lo.Time) {
		lo = issued
	}
	if lo.After(hi.Time) {
		lo = hi
	}
	d := lo.AddDate(0, 0, g.when.IntN(hi.DaysUntil(lo)+1))
	// 14:00–22:59 UTC is office hours in the central United States.
	return d.Add(time.Duration(14+g.when.IntN(9))*time.Hour + time.Duration(g.when.IntN(60))*time.Minute)
}

// verificationSource names the primary source a credential type is
// verified against.
func verificationSource(t credtrack.CredentialType) string {
	switch t {
	case credtrack.CredNPI:
		return "nppes"
	case credtrack.CredStateLicense:
		return "state_board"
	}
	return "manual"
}
