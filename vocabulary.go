package symbiont

import (
	"regexp"
	"sort"
	"unicode/utf8"
)

// Category is a kind of personal data (what is collected), e.g. "purchases".
type Category = string

// Purpose is what data is used for, e.g. "personalization".
type Purpose = string

// CategoryDef describes a personal-data category. Names follow the W3C Data Privacy Vocabulary
// (DPV, https://w3id.org/dpv) where it has a term; DPV records that term.
type CategoryDef struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	DPV         string `json:"dpv,omitempty"`
	// Sensitive categories (GDPR Art. 9, PIPL Art. 28) need explicit consent given on its own.
	Sensitive bool `json:"sensitive"`
	// Custom is true for categories a brand added.
	Custom bool `json:"custom,omitempty"`
}

// PurposeDef describes a purpose of processing.
type PurposeDef struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	DPV         string `json:"dpv,omitempty"`
	Custom      bool   `json:"custom,omitempty"`
}

// DefaultCategories is the built-in category vocabulary every brand starts with.
var DefaultCategories = []CategoryDef{
	{Name: "profile", Label: "Profile", Description: "Name, birthday, language and other facts about you.", DPV: "dpv-pd:Demographic"},
	{Name: "contact", Label: "Contact details", Description: "Email address, phone number, postal address.", DPV: "dpv-pd:Contact"},
	{Name: "browsing", Label: "Browsing", Description: "Pages and screens you view on the brand's sites and apps.", DPV: "dpv-pd:BrowsingBehaviour"},
	{Name: "purchases", Label: "Purchases", Description: "What you buy and book, and what you spend.", DPV: "dpv-pd:PurchasesAndSpendingHabit"},
	{Name: "location", Label: "Approximate location", Description: "City or region, e.g. from the hotel you stay at.", DPV: "dpv-pd:Location"},
	{Name: "preferences", Label: "Preferences", Description: "What you like: room type, dining, check-in time.", DPV: "dpv-pd:Preference"},
	{Name: "feedback", Label: "Feedback", Description: "Ratings, reviews and survey answers you give.", DPV: "dpv-pd:Opinion"},
	{Name: "device", Label: "Device", Description: "Device type, operating system, app version.", DPV: "dpv-pd:DeviceBased"},
	{Name: "health", Label: "Health", Description: "Allergies, dietary needs, accessibility needs.", DPV: "dpv-pd:Health", Sensitive: true},
	{Name: "precise_location", Label: "Precise location", Description: "Exact position, e.g. GPS coordinates from an app.", DPV: "dpv-pd:Location", Sensitive: true},
	{Name: "biometrics", Label: "Biometrics", Description: "Face, fingerprint or voice used to recognise you.", DPV: "dpv-pd:Biometric", Sensitive: true},
	{Name: "minors", Label: "Children's data", Description: "Data about children under the age of digital consent.", DPV: "dpv:Child", Sensitive: true},
}

// DefaultPurposes is the built-in purpose vocabulary every brand starts with.
var DefaultPurposes = []PurposeDef{
	{Name: "service", Label: "Providing the service", Description: "Delivering what you asked for: bookings, orders, your account.", DPV: "dpv:ServiceProvision"},
	{Name: "personalization", Label: "Personalisation", Description: "Tailoring offers, content and recommendations to you.", DPV: "dpv:ServicePersonalisation"},
	{Name: "analytics", Label: "Analytics", Description: "Measuring how the service is used, in aggregate.", DPV: "dpv:ServiceUsageAnalytics"},
	{Name: "marketing", Label: "Marketing", Description: "Sending you offers and news.", DPV: "dpv:Marketing"},
	{Name: "product_research", Label: "Product research", Description: "Designing and testing new services.", DPV: "dpv:ResearchAndDevelopment"},
	{Name: "model_training", Label: "AI model training", Description: "Training the brand's machine-learning models."},
	{Name: "partner_sharing", Label: "Sharing with partners", Description: "Giving data to named partner companies."},
}

// GPCPurposes are the purposes a Global Privacy Control signal (Sec-GPC: 1) refuses.
var GPCPurposes = []Purpose{"marketing", "partner_sharing"}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// ValidText reports whether s may be stored as free text (a name, a label, a notice id): valid
// UTF-8 of at most max bytes, without control characters (NUL, in particular, which
// PostgreSQL's text cannot hold).
func ValidText(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// ValidName reports whether s may name a category or purpose: lower-case ASCII letters, digits
// and underscores, starting with a letter, at most 40 characters.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Vocabulary is the set of categories and purposes a brand uses: the defaults plus its own.
type Vocabulary struct {
	Categories []CategoryDef `json:"categories"`
	Purposes   []PurposeDef  `json:"purposes"`
}

// DefaultVocabulary returns a fresh copy of the built-in vocabulary.
func DefaultVocabulary() Vocabulary {
	return Vocabulary{
		Categories: append([]CategoryDef(nil), DefaultCategories...),
		Purposes:   append([]PurposeDef(nil), DefaultPurposes...),
	}
}

// Category returns the definition of the named category.
func (v Vocabulary) Category(name string) (CategoryDef, bool) {
	for _, c := range v.Categories {
		if c.Name == name {
			return c, true
		}
	}
	return CategoryDef{}, false
}

// Purpose returns the definition of the named purpose.
func (v Vocabulary) Purpose(name string) (PurposeDef, bool) {
	for _, p := range v.Purposes {
		if p.Name == name {
			return p, true
		}
	}
	return PurposeDef{}, false
}

// CategoryNames returns all category names, sorted.
func (v Vocabulary) CategoryNames() []string {
	out := make([]string, len(v.Categories))
	for i, c := range v.Categories {
		out[i] = c.Name
	}
	sort.Strings(out)
	return out
}

// WithCustom returns the default vocabulary extended by a brand's own definitions. A custom
// definition never replaces a built-in one.
func WithCustom(cats []CategoryDef, purps []PurposeDef) Vocabulary {
	v := DefaultVocabulary()
	for _, c := range cats {
		if _, ok := v.Category(c.Name); !ok {
			c.Custom = true
			v.Categories = append(v.Categories, c)
		}
	}
	for _, p := range purps {
		if _, ok := v.Purpose(p.Name); !ok {
			p.Custom = true
			v.Purposes = append(v.Purposes, p)
		}
	}
	return v
}
