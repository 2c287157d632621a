package demo

import "credtrack"

// This file holds the vocabulary the generator draws from: people's names
// and the boards, facilities, carriers and payers their credentials name.
// Everything is embedded so `credtrack demo` works offline and produces the
// same data on every machine.
//
// Names are plain ASCII on purpose: provider emails are built from them and
// NormalizeEmail accepts only ASCII addresses.

// firstNames are common given names in the United States, of varied origins,
// as a roster of nurses and physicians would show them.
var firstNames = []string{
	"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
	"David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
	"Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
	"Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
	"Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Dorothy", "George", "Melissa", "Timothy", "Deborah",
	"Ronald", "Stephanie", "Edward", "Rebecca", "Jason", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia",
	"Jacob", "Kathleen", "Gary", "Amy", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna", "Stephen",
	"Brenda", "Larry", "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen", "Benjamin",
	"Samantha", "Samuel", "Katherine", "Gregory", "Christine", "Alexander", "Debra", "Frank", "Rachel",
	"Patrick", "Carolyn", "Raymond", "Janet", "Jack", "Catherine", "Dennis", "Maria", "Jerry", "Heather",
	"Tyler", "Diane", "Aaron", "Ruth", "Julie", "Adam", "Olivia", "Nathan", "Joyce", "Henry", "Virginia",
	"Douglas", "Victoria", "Zachary", "Kelly", "Peter", "Lauren", "Kyle", "Christina", "Ethan", "Joan",
	"Walter", "Evelyn", "Noah", "Judith", "Jeremy", "Megan", "Christian", "Andrea", "Keith", "Cheryl", "Roger",
	"Hannah", "Terry", "Jacqueline", "Gerald", "Martha", "Harold", "Gloria", "Sean", "Teresa", "Austin", "Ann",
	"Carl", "Sara", "Arthur", "Madison", "Lawrence", "Frances", "Dylan", "Kathryn", "Jesse", "Janice", "Jordan",
	"Jean", "Bryan", "Abigail", "Gabriel", "Alice", "Logan", "Julia", "Albert", "Judy", "Alan", "Sophia",
	"Wayne", "Grace", "Elijah", "Denise", "Randy", "Amber", "Vincent", "Doris", "Russell", "Marilyn", "Philip",
	"Danielle", "Louis", "Beverly", "Bobby", "Isabella", "Caleb", "Theresa", "Owen", "Diana", "Hunter",
	"Natalie", "Connor", "Brittany", "Lucas", "Charlotte", "Marcus", "Kayla", "Trevor", "Alexis", "Derek",
	"Lori", "Travis", "Tiffany", "Brett", "Erin", "Colin", "Holly", "Mitchell", "Courtney", "Shane", "Whitney",
	"Carlos", "Alma", "Luis", "Guadalupe", "Miguel", "Rosa", "Jorge", "Carmen", "Alejandro", "Lucia", "Ricardo",
	"Sofia", "Javier", "Valentina", "Fernando", "Ximena", "Diego", "Camila", "Mateo", "Daniela", "Santiago",
	"Gabriela", "Rafael", "Isabel", "Eduardo", "Mariana", "Hector", "Yesenia", "Ramon", "Marisol", "Arturo",
	"Alejandra", "Ernesto", "Veronica", "Julio", "Adriana", "Esteban", "Esperanza", "Marco", "Leticia", "Raul",
	"Graciela", "Wei", "Mei", "Jian", "Hui", "Xin", "Ling", "Yong", "Yan", "Hao", "Jing", "Hiroshi", "Akiko",
	"Kenji", "Yuki", "Takeshi", "Sakura", "Haruto", "Emiko", "Min-jun", "Ji-woo", "Seo-yeon", "Hyun", "Soo-jin",
	"Jae-won", "Eun-ji", "Minh", "Linh", "Thanh", "Huong", "Quang", "Thuy", "Duc", "Lan", "Priya", "Raj",
	"Anjali", "Arjun", "Deepa", "Vikram", "Neha", "Sanjay", "Ananya", "Rohan", "Kavya", "Ravi", "Pooja", "Amit",
	"Sunita", "Nikhil", "Lakshmi", "Rahul", "Meera", "Aditya", "Shreya", "Harpreet", "Gurpreet", "Kwame",
	"Ngozi", "Chinedu", "Adaeze", "Oluwaseun", "Amara", "Kofi", "Ayodele", "Abena", "Emeka", "Chiamaka",
	"Tunde", "Folasade", "Yaw", "Efua", "Jamal", "Imani", "DeShawn", "Aaliyah", "Malik", "Keisha", "Darnell",
	"Tanisha", "Andre", "Jamila", "Tariq", "Latoya", "Terrence", "Ebony", "Reginald", "Shanice", "Omar",
	"Fatima", "Ahmed", "Layla", "Yusuf", "Mariam", "Hassan", "Nadia", "Karim", "Rania", "Samir", "Leila",
	"Khalid", "Yasmin", "Tarek", "Noor", "Dmitri", "Olga", "Aleksandr", "Natasha", "Katarzyna", "Piotr",
	"Giulia", "Matteo", "Siobhan", "Aoife", "Declan", "Liam", "Ingrid", "Lars", "Anika", "Tomas", "Elif",
	"Mehmet", "Ayesha", "Bilal", "Zainab", "Irina", "Sergei", "Milena", "Bogdan", "Agnieszka", "Francesca",
	"Paolo", "Maricel", "Rowena", "Jocelyn", "Arnel", "Rodel", "Analyn", "Marites", "Jomar", "Rizalyn", "Joel",
	"Cristina", "Ronaldo", "Lorna", "Edgardo", "Kai", "Leilani", "Malia", "Keoni", "Nalani", "Koa",
}

// lastNames are common US surnames of varied origins, including a few with
// apostrophes and spaces so that sorting, search and email building meet
// them in the demo rather than first in production.
var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
	"Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
	"Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips",
	"Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales",
	"Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
	"Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James",
	"Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers",
	"Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman",
	"Butler", "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan",
	"Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole",
	"Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford",
	"Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy",
	"Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson",
	"Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz",
	"Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar",
	"Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens",
	"Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Spencer", "Hawkins", "Arnold", "Pierce",
	"Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley", "Knight", "Elliott", "Cunningham", "Duncan",
	"Armstrong", "Hudson", "Carroll", "Lane", "Riley", "Andrews", "Alvarado", "Delgado", "Berry", "Perkins",
	"Hoffman", "Johnston", "Matthews", "Pena", "Richards", "Contreras", "Willis", "Carpenter", "Lawrence",
	"Sandoval", "Jefferson", "Banks", "Franklin", "Greene", "Dawson", "Wang", "Li", "Zhang", "Liu", "Yang",
	"Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Lin", "Park", "Choi", "Jung", "Kang", "Cho",
	"Yoon", "Pham", "Le", "Hoang", "Vu", "Dang", "Bui", "Tanaka", "Suzuki", "Watanabe", "Yamamoto", "Nakamura",
	"Sato", "Kobayashi", "Singh", "Shah", "Kumar", "Sharma", "Gupta", "Desai", "Mehta", "Reddy", "Iyer", "Rao",
	"Chowdhury", "Khan", "Ali", "Hussain", "Kaur", "Joshi", "Nair", "Pillai", "Bautista", "Villanueva",
	"Aquino", "Manalo", "Dizon", "Santiago", "Mercado", "Pascual", "Soriano", "Okafor", "Adeyemi", "Okonkwo",
	"Mensah", "Owusu", "Nwosu", "Eze", "Bello", "Diallo", "Kamara", "Mwangi", "Otieno", "Haile", "Tesfaye",
	"Bekele", "Asante", "Haddad", "Khoury", "Nasser", "Saleh", "Farah", "Abboud", "Hamdan", "Aziz", "Rahman",
	"Yilmaz", "Demir", "Hosseini", "Karimi", "O'Brien", "O'Connor", "O'Neill", "Kowalski", "Nowak", "Novak",
	"Rossi", "Russo", "Romano", "Esposito", "Bianchi", "Muller", "Schneider", "Fischer", "Weber", "Becker",
	"Schultz", "Jensen", "Nielsen", "Larsen", "Johansson", "Lindqvist", "Ivanov", "Petrov", "Popescu",
	"Horvath", "Papadopoulos", "Costa", "Ferreira", "MacDonald", "Fitzgerald", "Gallagher", "Byrne", "Walsh",
	"Doyle", "Brennan", "Quinn", "Novotny", "Kovacs", "Lindgren", "Sorensen", "Moreau", "Dubois", "Kealoha",
	"Akana", "Begay", "Yazzie", "Tsosie", "De La Cruz", "Del Rosario", "Van Buren",
}

// middleInitials are the letters middle initials are drawn from; the rare
// ones (Q, X, Z…) are left out so that the roster reads naturally.
const middleInitials = "ABCDEFGHJKLMNPRSTW"

// suffixes are generational suffixes, given to a few providers.
var suffixes = []string{"Jr.", "Jr.", "Sr.", "II", "III"}

// practiceState is a state providers practise in: which board licenses each
// profession there, what its license numbers look like, and the Riverside
// facilities in it.
type practiceState struct {
	code, name string
	weight     int      // relative share of providers
	areaCodes  []string // real area codes; the 555-01xx line numbers are fictional
	// Licensing boards. overrides replaces one of them for a license type
	// (LVN, DO, PA…) where the state has a separate board.
	nursing, medical, pharmacy, therapy string
	overrides                           map[string]string
	// numbers maps a license type to the shape of its numbers ('#' a digit,
	// '@' a letter, 'Y' the year of first licensure); "*" is the fallback.
	numbers      map[string]string
	compact      bool   // member of the Nurse Licensure Compact
	lvn          bool   // practical nurses are "LVN" here, not "LPN"
	nursingCycle int    // months between nurse renewals; 0 means 24
	medicaid     string // the state Medicaid program
	hospital     string // the Riverside hospital in the state
	clinic       string // a Riverside clinic in the state
}

// states are the practice states. Riverside is a Kansas City system, so
// Missouri and Kansas dominate; the rest reflect travel and telehealth staff
// and give the state-specific code paths (boards, number formats, CE
// mandates, compact status) something to chew on. Board names follow the
// regulators of data/ce-rules; license number shapes imitate each board's
// real format.
var states = []practiceState{
	{code: "MO", name: "Missouri", weight: 26, areaCodes: []string{"816", "314", "417", "573"},
		nursing: "Missouri State Board of Nursing", medical: "Missouri State Board of Registration for the Healing Arts",
		pharmacy: "Missouri Board of Pharmacy", therapy: "Missouri State Board of Registration for the Healing Arts",
		numbers: map[string]string{"*": "Y######"}, compact: true,
		medicaid: "MO HealthNet", hospital: "Riverside Regional Medical Center", clinic: "Riverside Northland Family Clinic"},
	{code: "KS", name: "Kansas", weight: 5, areaCodes: []string{"913", "785", "316"},
		nursing: "Kansas State Board of Nursing", medical: "Kansas State Board of Healing Arts",
		pharmacy: "Kansas State Board of Pharmacy", therapy: "Kansas State Board of Healing Arts",
		numbers: map[string]string{"RN": "13-######", "LPN": "23-######", "APRN": "53-######", "MD": "04-#####",
			"DO": "05-#####", "PA": "15-#####", "PT": "11-#####", "RPh": "1-#####"}, compact: true,
		medicaid: "KanCare", hospital: "Riverside Overland Park Hospital", clinic: "Riverside Olathe Clinic"},
	{code: "TX", name: "Texas", weight: 12, areaCodes: []string{"512", "214", "713", "210"},
		nursing: "Texas Board of Nursing", medical: "Texas Medical Board",
		pharmacy: "Texas State Board of Pharmacy", therapy: "Texas Board of Physical Therapy Examiners",
		overrides: map[string]string{"PA": "Texas Physician Assistant Board"},
		numbers: map[string]string{"RN": "######", "LVN": "######", "APRN": "AP######", "MD": "@####", "DO": "@####",
			"PA": "PA#####", "PT": "#######", "RPh": "#####"}, compact: true, lvn: true,
		medicaid: "Texas Medicaid (TMHP)", hospital: "Riverside Austin Medical Center", clinic: "Riverside Round Rock Clinic"},
	{code: "IL", name: "Illinois", weight: 9, areaCodes: []string{"312", "217", "773", "309"},
		// Illinois licenses every profession through one department; the
		// number starts with the profession's code.
		nursing: "Illinois Department of Financial and Professional Regulation", medical: "Illinois Department of Financial and Professional Regulation",
		pharmacy: "Illinois Department of Financial and Professional Regulation", therapy: "Illinois Department of Financial and Professional Regulation",
		numbers: map[string]string{"RN": "041.######", "LPN": "043.######", "APRN": "209.######", "MD": "036.######",
			"DO": "036.######", "PA": "085.######", "PT": "070.######", "RPh": "051.######"},
		medicaid: "Illinois Medicaid (HFS)", hospital: "Riverside Springfield Hospital", clinic: "Riverside Chicago Loop Clinic"},
	{code: "CA", name: "California", weight: 8, areaCodes: []string{"916", "415", "213", "530"},
		nursing: "California Board of Registered Nursing", medical: "Medical Board of California",
		pharmacy: "California State Board of Pharmacy", therapy: "Physical Therapy Board of California",
		overrides: map[string]string{"LVN": "California Board of Vocational Nursing and Psychiatric Technicians",
			"DO": "Osteopathic Medical Board of California", "PA": "Physician Assistant Board of California"},
		numbers: map[string]string{"RN": "95#####", "LVN": "VN######", "APRN": "NP######", "CRNA": "NA#####",
			"MD": "A######", "DO": "20A####", "PA": "PA#####", "PT": "PT#####", "RPh": "RPH#####"}, lvn: true,
		medicaid: "Medi-Cal", hospital: "Riverside Sacramento Medical Center", clinic: "Riverside Davis Clinic"},
	{code: "FL", name: "Florida", weight: 8, areaCodes: []string{"813", "727", "305", "407"},
		nursing: "Florida Board of Nursing", medical: "Florida Board of Medicine",
		pharmacy: "Florida Board of Pharmacy", therapy: "Florida Board of Physical Therapy",
		overrides: map[string]string{"DO": "Florida Board of Osteopathic Medicine"},
		numbers: map[string]string{"RN": "RN#######", "LPN": "PN#######", "APRN": "APRN#######", "MD": "ME######",
			"DO": "OS#####", "PA": "PA#######", "PT": "PT#####", "RPh": "PS#####"}, compact: true,
		medicaid: "Florida Medicaid", hospital: "Riverside Tampa Bay Hospital", clinic: "Riverside St. Petersburg Clinic"},
	{code: "NY", name: "New York", weight: 7, areaCodes: []string{"518", "212", "716", "315"},
		nursing: "New York State Board for Nursing", medical: "New York State Board for Medicine",
		pharmacy: "New York State Board of Pharmacy", therapy: "New York State Board for Physical Therapy",
		numbers: map[string]string{"*": "######"}, nursingCycle: 36,
		medicaid: "New York State Medicaid", hospital: "Riverside Albany Medical Center", clinic: "Riverside Troy Clinic"},
	{code: "OH", name: "Ohio", weight: 7, areaCodes: []string{"614", "216", "513", "419"},
		nursing: "Ohio Board of Nursing", medical: "State Medical Board of Ohio",
		pharmacy: "Ohio Board of Pharmacy", therapy: "Ohio Occupational Therapy, Physical Therapy, and Athletic Trainers Board",
		numbers: map[string]string{"RN": "RN.######", "LPN": "PN.######", "APRN": "APRN.CNP.#####", "CRNA": "APRN.CRNA.#####",
			"MD": "35.######", "DO": "34.######", "PA": "50.######", "PT": "PT.######", "RPh": "03.######"}, compact: true,
		medicaid: "Ohio Medicaid", hospital: "Riverside Columbus Hospital", clinic: "Riverside Dublin Clinic"},
	{code: "PA", name: "Pennsylvania", weight: 6, areaCodes: []string{"412", "215", "717", "610"},
		nursing: "Pennsylvania State Board of Nursing", medical: "Pennsylvania State Board of Medicine",
		pharmacy: "Pennsylvania State Board of Pharmacy", therapy: "Pennsylvania State Board of Physical Therapy",
		overrides: map[string]string{"DO": "Pennsylvania State Board of Osteopathic Medicine"},
		numbers: map[string]string{"RN": "RN######L", "LPN": "PN######L", "APRN": "SP######L", "MD": "MD######",
			"DO": "OS######", "PA": "MA######", "PT": "PT######", "RPh": "RP######"}, compact: true,
		medicaid: "Pennsylvania Medical Assistance", hospital: "Riverside Pittsburgh Medical Center", clinic: "Riverside Monroeville Clinic"},
	{code: "GA", name: "Georgia", weight: 6, areaCodes: []string{"404", "678", "706", "912"},
		nursing: "Georgia Board of Nursing", medical: "Georgia Composite Medical Board",
		pharmacy: "Georgia State Board of Pharmacy", therapy: "Georgia State Board of Physical Therapy",
		overrides: map[string]string{"LPN": "Georgia Board of Examiners of Licensed Practical Nurses"},
		numbers: map[string]string{"RN": "RN######", "LPN": "LPN######", "APRN": "APRN######", "MD": "######",
			"DO": "######", "PA": "PA######", "PT": "PT######", "RPh": "RPH######"}, compact: true,
		medicaid: "Georgia Medicaid", hospital: "Riverside Atlanta Hospital", clinic: "Riverside Decatur Clinic"},
	{code: "NC", name: "North Carolina", weight: 6, areaCodes: []string{"919", "704", "336", "984"},
		nursing: "North Carolina Board of Nursing", medical: "North Carolina Medical Board",
		pharmacy: "North Carolina Board of Pharmacy", therapy: "North Carolina Board of Physical Therapy Examiners",
		numbers: map[string]string{"RN": "######", "LPN": "######", "APRN": "######", "MD": "Y-#####", "DO": "Y-#####",
			"PA": "1######", "PT": "P#####", "RPh": "#####"}, compact: true,
		medicaid: "NC Medicaid", hospital: "Riverside Raleigh Medical Center", clinic: "Riverside Durham Clinic"},
}

// Staffing firms some providers work through instead of a Riverside facility.
const (
	nurseAgency      = "Meridian Travel Nursing"
	anesthesiaGroup  = "Summit Anesthesia Associates"
	physicianPartner = "Heartland Physician Partners"
)

// certBoard is a certifying body and how long its certificates run.
type certBoard struct {
	name   string
	months int
}

// boards are the certifying bodies of the board certifications the
// generator issues, with their usual certificate periods (simplified where
// a board uses continuous maintenance).
var boards = map[string]certBoard{
	"ABIM":   {"American Board of Internal Medicine", 120},
	"ABFM":   {"American Board of Family Medicine", 120},
	"ABP":    {"American Board of Pediatrics", 60},
	"ABEM":   {"American Board of Emergency Medicine", 120},
	"ABA":    {"American Board of Anesthesiology", 120},
	"ABS":    {"American Board of Surgery", 120},
	"ABOG":   {"American Board of Obstetrics and Gynecology", 72},
	"ABPN":   {"American Board of Psychiatry and Neurology", 120},
	"ABR":    {"American Board of Radiology", 120},
	"ABOS":   {"American Board of Orthopaedic Surgery", 120},
	"AOBFP":  {"American Osteopathic Board of Family Physicians", 96},
	"AOBIM":  {"American Osteopathic Board of Internal Medicine", 120},
	"AOBEM":  {"American Osteopathic Board of Emergency Medicine", 120},
	"AANPCB": {"American Academy of Nurse Practitioners Certification Board", 60},
	"ANCC":   {"American Nurses Credentialing Center", 60},
	"AACN":   {"AACN Certification Corporation", 36},
	"PNCB":   {"Pediatric Nursing Certification Board", 12},
	"NCC":    {"National Certification Corporation", 36},
	"NBCRNA": {"National Board of Certification and Recertification for Nurse Anesthetists", 48},
	"NCCPA":  {"National Commission on Certification of Physician Assistants", 24},
	"BCEN":   {"Board of Certification for Emergency Nursing", 48},
	"ONCC":   {"Oncology Nursing Certification Corporation", 48},
	"MSNCB":  {"Medical-Surgical Nursing Certification Board", 60},
	"CCI":    {"Competency and Credentialing Institute", 60},
	"NNCC":   {"Nephrology Nursing Certification Commission", 36},
	"ABPTS":  {"American Board of Physical Therapy Specialties", 120},
	"BPS":    {"Board of Pharmacy Specialties", 84},
}

// boardCert is one certification a specialty leads to: the board (a key of
// boards) and the certificate's name as a credentials file shows it.
type boardCert struct{ board, title string }

// specialty is a provider's field of practice: the board certifications
// that fit it and the resuscitation courses its units expect beyond BLS.
type specialty struct {
	name  string
	certs []boardCert
	resus []string // "ACLS", "PALS"
}

// profile describes how the generator builds providers of one profession.
type profile struct {
	prof        credtrack.Profession
	weight      int // share of the roster, in percent
	minAge      int // youngest age in practice
	entryAge    int // usual age at first licensure in this profession
	npiPct      int // percentage holding an individual NPI
	ceMin       int // CE certificates on file
	ceMax       int
	ceGroup     string // key of generalTopics
	ceBody      string // the body that accredits their CE
	specialties []specialty
}

// profiles is the mix of professions: mostly registered nurses, as on a
// real hospital roster.
var profiles = []profile{
	{prof: credtrack.ProfRN, weight: 45, minAge: 24, entryAge: 22, npiPct: 25, ceMin: 1, ceMax: 3, ceGroup: "nurse", ceBody: "ANCC",
		specialties: []specialty{
			{"Medical-Surgical", []boardCert{{"MSNCB", "Certified Medical-Surgical Registered Nurse (CMSRN)"}}, nil},
			{"Intensive Care", []boardCert{{"AACN", "Critical Care Registered Nurse (CCRN)"}}, []string{"ACLS"}},
			{"Emergency", []boardCert{{"BCEN", "Certified Emergency Nurse (CEN)"}}, []string{"ACLS", "PALS"}},
			{"Labor and Delivery", []boardCert{{"NCC", "Inpatient Obstetric Nursing (RNC-OB)"}}, nil},
			{"Pediatrics", []boardCert{{"PNCB", "Certified Pediatric Nurse (CPN)"}}, []string{"PALS"}},
			{"Oncology", []boardCert{{"ONCC", "Oncology Certified Nurse (OCN)"}}, nil},
			{"Perioperative", []boardCert{{"CCI", "Certified Perioperative Nurse (CNOR)"}}, []string{"ACLS"}},
			{"Telemetry", nil, []string{"ACLS"}},
			{"Psychiatric-Mental Health", []boardCert{{"ANCC", "Psychiatric-Mental Health Nursing (PMH-BC)"}}, nil},
			{"Home Health", nil, nil},
			{"Neonatal Intensive Care", []boardCert{{"NCC", "Neonatal Intensive Care Nursing (RNC-NIC)"}}, []string{"PALS"}},
			{"Nephrology", []boardCert{{"NNCC", "Certified Nephrology Nurse (CNN)"}}, nil},
		}},
	{prof: credtrack.ProfLPN, weight: 9, minAge: 24, entryAge: 20, npiPct: 5, ceMin: 1, ceMax: 2, ceGroup: "nurse", ceBody: "ANCC",
		specialties: []specialty{
			{"Long-Term Care", nil, nil},
			{"Medical-Surgical", nil, nil},
			{"Home Health", nil, nil},
			{"Rehabilitation", nil, nil},
			{"Ambulatory Clinic", nil, nil},
			{"Pediatrics", nil, []string{"PALS"}},
		}},
	{prof: credtrack.ProfAPRN, weight: 10, minAge: 28, entryAge: 27, npiPct: 100, ceMin: 2, ceMax: 3, ceGroup: "aprn", ceBody: "ANCC",
		specialties: []specialty{
			{"Family Nurse Practitioner", []boardCert{{"AANPCB", "Family Nurse Practitioner (FNP-C)"}, {"ANCC", "Family Nurse Practitioner (FNP-BC)"}}, nil},
			{"Adult-Gerontology Primary Care", []boardCert{{"AANPCB", "Adult-Gerontology Primary Care NP (A-GNP-C)"}, {"ANCC", "Adult-Gerontology Primary Care NP (AGPCNP-BC)"}}, nil},
			{"Adult-Gerontology Acute Care", []boardCert{{"AACN", "Adult-Gerontology Acute Care NP (ACNPC-AG)"}, {"ANCC", "Adult-Gerontology Acute Care NP (AGACNP-BC)"}}, []string{"ACLS"}},
			{"Pediatric Primary Care", []boardCert{{"PNCB", "Certified Pediatric Nurse Practitioner - Primary Care (CPNP-PC)"}}, []string{"PALS"}},
			{"Psychiatric-Mental Health", []boardCert{{"ANCC", "Psychiatric-Mental Health Nurse Practitioner (PMHNP-BC)"}}, nil},
			{"Women's Health", []boardCert{{"NCC", "Women's Health Care Nurse Practitioner (WHNP-BC)"}}, nil},
			{"Emergency", []boardCert{{"AANPCB", "Emergency Nurse Practitioner (ENP-C)"}}, []string{"ACLS", "PALS"}},
		}},
	{prof: credtrack.ProfCRNA, weight: 4, minAge: 30, entryAge: 29, npiPct: 100, ceMin: 2, ceMax: 3, ceGroup: "crna", ceBody: "AANA",
		specialties: []specialty{
			{"Nurse Anesthesia", []boardCert{{"NBCRNA", "Certified Registered Nurse Anesthetist (CRNA)"}}, []string{"ACLS", "PALS"}},
			{"Obstetric Anesthesia", []boardCert{{"NBCRNA", "Certified Registered Nurse Anesthetist (CRNA)"}}, []string{"ACLS"}},
		}},
	{prof: credtrack.ProfMD, weight: 12, minAge: 30, entryAge: 27, npiPct: 100, ceMin: 1, ceMax: 3, ceGroup: "physician", ceBody: "ACCME",
		specialties: []specialty{
			{"Internal Medicine", []boardCert{{"ABIM", "Internal Medicine"}}, nil},
			{"Family Medicine", []boardCert{{"ABFM", "Family Medicine"}}, nil},
			{"Pediatrics", []boardCert{{"ABP", "Pediatrics"}}, []string{"PALS"}},
			{"Emergency Medicine", []boardCert{{"ABEM", "Emergency Medicine"}}, []string{"ACLS", "PALS"}},
			{"Anesthesiology", []boardCert{{"ABA", "Anesthesiology"}}, []string{"ACLS"}},
			{"General Surgery", []boardCert{{"ABS", "Surgery"}}, []string{"ACLS"}},
			{"Obstetrics and Gynecology", []boardCert{{"ABOG", "Obstetrics and Gynecology"}}, nil},
			{"Psychiatry", []boardCert{{"ABPN", "Psychiatry"}}, nil},
			{"Hospital Medicine", []boardCert{{"ABIM", "Internal Medicine"}}, []string{"ACLS"}},
			{"Cardiology", []boardCert{{"ABIM", "Cardiovascular Disease"}}, []string{"ACLS"}},
			{"Diagnostic Radiology", []boardCert{{"ABR", "Diagnostic Radiology"}}, nil},
			{"Orthopaedic Surgery", []boardCert{{"ABOS", "Orthopaedic Surgery"}}, nil},
		}},
	{prof: credtrack.ProfDO, weight: 5, minAge: 30, entryAge: 27, npiPct: 100, ceMin: 1, ceMax: 3, ceGroup: "physician", ceBody: "AOA",
		specialties: []specialty{
			{"Family Medicine", []boardCert{{"AOBFP", "Family Medicine"}, {"ABFM", "Family Medicine"}}, nil},
			{"Internal Medicine", []boardCert{{"AOBIM", "Internal Medicine"}, {"ABIM", "Internal Medicine"}}, nil},
			{"Emergency Medicine", []boardCert{{"AOBEM", "Emergency Medicine"}, {"ABEM", "Emergency Medicine"}}, []string{"ACLS", "PALS"}},
			{"Hospital Medicine", []boardCert{{"ABIM", "Internal Medicine"}}, []string{"ACLS"}},
			{"Pediatrics", []boardCert{{"ABP", "Pediatrics"}}, []string{"PALS"}},
			{"Psychiatry", []boardCert{{"ABPN", "Psychiatry"}}, nil},
		}},
	{prof: credtrack.ProfPA, weight: 7, minAge: 26, entryAge: 25, npiPct: 100, ceMin: 1, ceMax: 2, ceGroup: "physician", ceBody: "AAPA",
		specialties: []specialty{
			{"Family Medicine", []boardCert{{"NCCPA", "Physician Assistant - Certified (PA-C)"}}, nil},
			{"Emergency Medicine", []boardCert{{"NCCPA", "Physician Assistant - Certified (PA-C)"}}, []string{"ACLS", "PALS"}},
			{"Orthopaedic Surgery", []boardCert{{"NCCPA", "Physician Assistant - Certified (PA-C)"}}, nil},
			{"Hospital Medicine", []boardCert{{"NCCPA", "Physician Assistant - Certified (PA-C)"}}, []string{"ACLS"}},
			{"Dermatology", []boardCert{{"NCCPA", "Physician Assistant - Certified (PA-C)"}}, nil},
			{"Cardiothoracic Surgery", []boardCert{{"NCCPA", "Physician Assistant - Certified (PA-C)"}}, []string{"ACLS"}},
		}},
	{prof: credtrack.ProfPT, weight: 5, minAge: 26, entryAge: 25, npiPct: 100, ceMin: 1, ceMax: 2, ceGroup: "therapy", ceBody: "APTA",
		specialties: []specialty{
			{"Orthopaedics", []boardCert{{"ABPTS", "Orthopaedic Clinical Specialist (OCS)"}}, nil},
			{"Neurology", []boardCert{{"ABPTS", "Neurologic Clinical Specialist (NCS)"}}, nil},
			{"Acute Care", []boardCert{{"ABPTS", "Acute Care Clinical Specialist (ACCS)"}}, nil},
			{"Sports", []boardCert{{"ABPTS", "Sports Clinical Specialist (SCS)"}}, nil},
			{"Geriatrics", []boardCert{{"ABPTS", "Geriatric Clinical Specialist (GCS)"}}, nil},
			{"Outpatient Rehabilitation", nil, nil},
		}},
	{prof: credtrack.ProfPharmacist, weight: 3, minAge: 26, entryAge: 25, npiPct: 100, ceMin: 1, ceMax: 2, ceGroup: "pharmacy", ceBody: "ACPE",
		specialties: []specialty{
			{"Inpatient Pharmacy", []boardCert{{"BPS", "Board Certified Pharmacotherapy Specialist (BCPS)"}}, nil},
			{"Ambulatory Care", []boardCert{{"BPS", "Board Certified Ambulatory Care Pharmacist (BCACP)"}}, nil},
			{"Oncology Pharmacy", []boardCert{{"BPS", "Board Certified Oncology Pharmacist (BCOP)"}}, nil},
			{"Critical Care Pharmacy", []boardCert{{"BPS", "Board Certified Critical Care Pharmacist (BCCCP)"}}, []string{"ACLS"}},
			{"Retail Pharmacy", nil, nil},
		}},
}

// resusCourses names the American Heart Association provider courses.
var resusCourses = map[string]string{"BLS": "BLS Provider", "ACLS": "ACLS Provider", "PALS": "PALS Provider"}

// carrier is a professional liability insurer and the prefix of its policy numbers.
type carrier struct{ name, prefix string }

// Liability carriers: physicians buy from medical malpractice insurers,
// nurses and physician assistants mostly through professional programs.
var (
	physicianCarriers = []carrier{{"The Doctors Company", "TDC"}, {"MedPro Group", "MP"}, {"ProAssurance", "PRA"},
		{"Coverys", "CVY"}, {"MagMutual", "MAG"}}
	practitionerCarriers = []carrier{{"Nurses Service Organization", "NSO"}, {"CM&F Group", "CMF"},
		{"Healthcare Providers Service Organization", "HPSO"}}
)

// commercialPayers are the health plans providers enroll with besides
// Medicare and Medicaid.
var commercialPayers = []string{"Blue Cross Blue Shield", "UnitedHealthcare", "Aetna", "Cigna", "Humana"}

// ceProviders are the organizations that issue CE certificates.
var ceProviders = []string{"Riverside Health Clinical Education", "NetCE", "Medscape Education", "Elite Learning"}

// ceTopic is one course: its title and contact hours.
type ceTopic struct {
	name  string
	hours float64
}

// mandatedTopics are state-mandated CE topics, by "<state>/<group>". The
// titles are the topic names of data/ce-rules/rules.json so that CE
// tracking can match these certificates to the rules.
var mandatedTopics = map[string][]ceTopic{
	"TX/nurse": {{"Nursing jurisprudence and ethics", 2}, {"Older adult / geriatric care", 2}},
	"CA/nurse": {{"Implicit bias (direct participation)", 1}},
	"FL/nurse": {{"Prevention of medical errors", 2}, {"Laws and rules governing nursing", 2}, {"Human trafficking", 2}},
	"NY/nurse": {{"Infection control and barrier precautions", 4}, {"Identification and reporting of child abuse and maltreatment", 2}},
	"PA/nurse": {{"Child abuse recognition and reporting (Act 31)", 2}},
	"IL/nurse": {{"Sexual harassment prevention", 1}, {"Implicit bias awareness", 1}},
	"OH/nurse": {{"Category A - Ohio nursing law and rules", 1}},
	"TX/physician": {{"Medical ethics and/or professional responsibility", 2},
		{"Pain management / opioid prescribing", 2}},
	"CA/physician": {{"Pain management and care of the terminally ill", 12}},
	"FL/physician": {{"Prevention of medical errors", 2}, {"Controlled substance prescribing", 2}},
	"NY/physician": {{"Infection control", 4},
		{"Pain management, palliative care and addiction (mandatory prescriber education)", 3}},
	"PA/physician": {{"Patient safety / risk management", 12},
		{"Child abuse recognition and reporting (Act 31, DHS-approved)", 2}},
}

// generalTopics are ordinary CE courses, by profession group.
var generalTopics = map[string][]ceTopic{
	"nurse": {{"Sepsis recognition and early management", 1.5}, {"Medication safety and high-alert drugs", 2},
		{"Pressure injury prevention and wound care", 2}, {"Stroke assessment with the NIH Stroke Scale", 1},
		{"Fall prevention in hospitalized adults", 1}, {"Workplace violence prevention", 1},
		{"Diabetes management update", 2}, {"Pain management and opioid safety", 2},
		{"Cultural humility in patient care", 1}, {"Preventing CLABSI and CAUTI", 1.5}},
	"aprn": {{"Advanced pharmacology update", 5}, {"Antimicrobial stewardship in primary care", 1.5},
		{"Controlled substance prescribing for APRNs", 2}, {"Hypertension guideline update", 1.5},
		{"Managing type 2 diabetes: newer therapies", 2}, {"Depression screening and treatment in primary care", 1}},
	"crna": {{"Difficult airway management", 2}, {"Malignant hyperthermia crisis management", 1},
		{"Regional anesthesia techniques", 3}, {"Opioid-sparing anesthesia", 1.5}, {"Pediatric anesthesia safety", 2}},
	"physician": {{"Antimicrobial stewardship", 1}, {"Hypertension guideline update", 1.5},
		{"Safe and effective opioid prescribing", 2}, {"Implicit bias in clinical decision making", 1},
		{"Diagnostic error and patient safety", 1}, {"Managing type 2 diabetes: newer therapies", 2},
		{"Point-of-care ultrasound basics", 4}},
	"therapy": {{"Evidence-based management of low back pain", 3}, {"Fall risk assessment in older adults", 2},
		{"Ethics and jurisprudence for physical therapists", 2}, {"Concussion management", 1.5}},
	"pharmacy": {{"Anticoagulation management", 2}, {"Immunization update", 2}, {"Pharmacy law update", 1},
		{"Sterile compounding (USP <797>)", 2}, {"Opioid stewardship for pharmacists", 1}},
}

// NameLists returns copies of the first and last names the demo draws
// from, most common first, for generators outside the demo (the screening
// benchmark's synthetic exclusion lists).
func NameLists() (first, last []string) {
	return append([]string(nil), firstNames...), append([]string(nil), lastNames...)
}
