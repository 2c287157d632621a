package screening

import (
	"strings"
)

// Name normalization for matching: upper case, ASCII letters only (common
// Latin accents folded), punctuation dropped (O'Brien = OBRIEN, St. = ST),
// hyphens and spaces separate parts, generational and professional
// suffixes removed.

var foldAccents = strings.NewReplacer(
	"Á", "A", "À", "A", "Â", "A", "Ä", "A", "Ã", "A", "Å", "A", "á", "A", "à", "A", "â", "A", "ä", "A", "ã", "A", "å", "A",
	"É", "E", "È", "E", "Ê", "E", "Ë", "E", "é", "E", "è", "E", "ê", "E", "ë", "E",
	"Í", "I", "Ì", "I", "Î", "I", "Ï", "I", "í", "I", "ì", "I", "î", "I", "ï", "I",
	"Ó", "O", "Ò", "O", "Ô", "O", "Ö", "O", "Õ", "O", "Ø", "O", "ó", "O", "ò", "O", "ô", "O", "ö", "O", "õ", "O", "ø", "O",
	"Ú", "U", "Ù", "U", "Û", "U", "Ü", "U", "ú", "U", "ù", "U", "û", "U", "ü", "U",
	"Ñ", "N", "ñ", "N", "Ç", "C", "ç", "C", "ß", "SS", "Ý", "Y", "ý", "Y", "ÿ", "Y",
)

// nameSuffixes are dropped from name parts.
var nameSuffixes = map[string]bool{"JR": true, "SR": true, "II": true, "III": true, "IV": true, "V": true,
	"MD": true, "DO": true, "RN": true, "LPN": true, "NP": true, "PA": true, "DDS": true, "DPM": true, "PHD": true,
	"DC": true, "OD": true, "PHARMD": true, "APRN": true, "CRNA": true, "ESQ": true}

// nameParticles are not last-name parts on their own (DE LA CRUZ is
// matched as DELACRUZ and CRUZ).
var nameParticles = map[string]bool{"DE": true, "LA": true, "DEL": true, "DA": true, "DI": true, "DOS": true,
	"VAN": true, "VON": true, "DER": true, "LE": true, "ST": true, "Y": true, "MAC": false}

// nameTokens normalizes s into its parts.
func nameTokens(s string) []string {
	s = foldAccents.Replace(s)
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-32)
		case c >= 'A' && c <= 'Z':
			b = append(b, c)
		case c == '\'' || c == '.' || c == '`':
			// dropped: O'BRIEN → OBRIEN
		default:
			b = append(b, ' ')
		}
	}
	toks := strings.Fields(string(b))
	out := toks[:0]
	for _, t := range toks {
		if nameSuffixes[t] && len(toks) > 1 {
			continue
		}
		out = append(out, t)
	}
	return out
}

// lastVariants returns the forms a last name is matched by: all parts
// joined (SMITH-JONES → SMITHJONES) and, for a name of several parts,
// each part of three letters or more that is not a particle, so that a
// hyphenated or double last name (often maiden + married name) matches a
// listing under either part.
func lastVariants(s string) []string {
	toks := nameTokens(s)
	if len(toks) == 0 {
		return nil
	}
	out := []string{strings.Join(toks, "")}
	if len(toks) > 1 {
		for _, t := range toks {
			if len(t) >= 3 && !nameParticles[t] && t != out[0] {
				out = append(out, t)
			}
		}
	}
	return out
}

// firstName returns the normalized first given name (its first part).
func firstName(s string) string {
	toks := nameTokens(s)
	if len(toks) == 0 {
		return ""
	}
	return toks[0]
}

// nicknameGroups lists common English given names with their usual
// short forms. A name may sit in two groups (ALEX).
var nicknameGroups = [][]string{
	{"WILLIAM", "BILL", "BILLY", "WILL", "WILLIE", "LIAM", "WILLY"},
	{"ROBERT", "BOB", "BOBBY", "ROB", "ROBBIE", "BERT"},
	{"RICHARD", "RICK", "RICKY", "DICK", "RICH", "RICHIE"},
	{"JAMES", "JIM", "JIMMY", "JAMIE"},
	{"JOHN", "JACK", "JOHNNY", "JON"},
	{"JOSEPH", "JOE", "JOEY", "JOSE"},
	{"MICHAEL", "MIKE", "MICKEY", "MIKEY"},
	{"THOMAS", "TOM", "TOMMY"},
	{"CHARLES", "CHARLIE", "CHUCK", "CHAS"},
	{"CHRISTOPHER", "CHRIS", "KIT"},
	{"DANIEL", "DAN", "DANNY"},
	{"DAVID", "DAVE", "DAVEY"},
	{"EDWARD", "ED", "EDDIE", "TED", "NED"},
	{"ANTHONY", "TONY"},
	{"ANDREW", "ANDY", "DREW"},
	{"STEVEN", "STEPHEN", "STEVE"},
	{"MATTHEW", "MATT"},
	{"NICHOLAS", "NICK", "NICKY"},
	{"PATRICK", "PAT", "PATTY"},
	{"PATRICIA", "PAT", "PATTY", "TRICIA", "TRISH"},
	{"ELIZABETH", "LIZ", "BETH", "BETTY", "BETSY", "ELIZA", "LIZZIE", "LISA"},
	{"MARGARET", "MAGGIE", "MEG", "PEGGY", "MARGIE"},
	{"KATHERINE", "CATHERINE", "KATHRYN", "KATE", "KATIE", "KATHY", "CATHY", "KAT"},
	{"JENNIFER", "JEN", "JENNY"},
	{"JESSICA", "JESS", "JESSIE"},
	{"REBECCA", "BECKY", "BECCA"},
	{"SUSAN", "SUE", "SUZY", "SUSIE"},
	{"DEBORAH", "DEBRA", "DEB", "DEBBIE"},
	{"BARBARA", "BARB", "BARBIE"},
	{"KIMBERLY", "KIM"},
	{"SAMANTHA", "SAM", "SAMMY"},
	{"SAMUEL", "SAM", "SAMMY"},
	{"ALEXANDER", "ALEX", "AL", "SANDY"},
	{"ALEXANDRA", "ALEX", "SANDRA", "SANDY", "LEXI"},
	{"BENJAMIN", "BEN", "BENNY"},
	{"JONATHAN", "JON", "JONNY"},
	{"JOSHUA", "JOSH"},
	{"TIMOTHY", "TIM", "TIMMY"},
	{"KENNETH", "KEN", "KENNY"},
	{"RONALD", "RON", "RONNIE"},
	{"DONALD", "DON", "DONNIE"},
	{"GERALD", "JERRY", "GERRY"},
	{"LAWRENCE", "LARRY"},
	{"RAYMOND", "RAY"},
	{"GREGORY", "GREG"},
	{"JEFFREY", "JEFF"},
	{"PETER", "PETE"},
	{"ALBERT", "AL", "BERT"},
	{"FREDERICK", "FRED", "FREDDY"},
	{"HENRY", "HANK", "HARRY"},
	{"FRANCIS", "FRANK"},
	{"FRANKLIN", "FRANK"},
	{"VICTORIA", "VICKY", "TORI"},
	{"CHRISTINE", "CHRISTINA", "CHRIS", "TINA", "CHRISSY"},
	{"PAMELA", "PAM"},
	{"CYNTHIA", "CINDY"},
	{"DOROTHY", "DOT", "DOTTIE"},
	{"MARY", "MOLLY", "POLLY", "MAMIE"},
	{"ABIGAIL", "ABBY"},
	{"AMANDA", "MANDY"},
	{"NATHANIEL", "NATHAN", "NATE"},
	{"ZACHARY", "ZACH", "ZACK"},
	{"JACQUELINE", "JACKIE"},
	{"THEODORE", "TED", "TEDDY", "THEO"},
	{"VINCENT", "VINCE", "VINNY"},
	{"WALTER", "WALT"},
	{"EUGENE", "GENE"},
	{"LEONARD", "LEN", "LENNY", "LEO"},
	{"PHILIP", "PHILLIP", "PHIL"},
	{"DOUGLAS", "DOUG"},
	{"GABRIEL", "GABE"},
	{"GABRIELA", "GABRIELLE", "GABBY"},
	{"ISABEL", "ISABELLA", "BELLA", "IZZY"},
	{"JUDITH", "JUDY"},
	{"TERESA", "THERESA", "TERRY", "TESS"},
	{"VALERIE", "VAL"},
	{"ANNE", "ANN", "ANNA", "ANNIE", "NANCY"},
	{"EVELYN", "EVE", "EVIE"},
	{"FERNANDO", "NANDO"},
	{"FRANCISCO", "PACO", "PANCHO", "FRANK"},
	{"ALEJANDRO", "ALEX", "ALEJO"},
	{"GUADALUPE", "LUPE"},
	{"ROSALIND", "ROSALIE", "ROSA", "ROSE", "ROSIE"},
}

// nicknames maps each name to the indexes of the groups it belongs to.
var nicknames = func() map[string][]int {
	m := map[string][]int{}
	for i, g := range nicknameGroups {
		for _, n := range g {
			m[n] = append(m[n], i)
		}
	}
	return m
}()

func sameNicknameGroup(a, b string) bool {
	ga, gb := nicknames[a], nicknames[b]
	for _, x := range ga {
		for _, y := range gb {
			if x == y {
				return true
			}
		}
	}
	return false
}

// withinOneEdit reports whether the Damerau-Levenshtein distance of a and
// b (restricted: one adjacent transposition) is at most 1.
func withinOneEdit(a, b string) bool {
	la, lb := len(a), len(b)
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	if lb-la > 1 {
		return false
	}
	i := 0
	for i < la && a[i] == b[i] {
		i++
	}
	if i == la {
		return true // equal, or b has one more character at the end
	}
	if la == lb {
		// substitution at i, or transposition of i and i+1
		if a[i+1:] == b[i+1:] {
			return true
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	}
	// b has one extra character at i
	return a[i:] == b[i+1:]
}

// deletions returns s with each one of its characters removed (distinct).
func deletions(s string, out []string) []string {
	for i := 0; i < len(s); i++ {
		if i > 0 && s[i] == s[i-1] {
			continue // same string as the previous deletion
		}
		out = append(out, s[:i]+s[i+1:])
	}
	return out
}
