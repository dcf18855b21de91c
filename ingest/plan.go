package ingest

import (
	"sort"
	"unicode/utf8"

	"github.com/symbiont/symbiont"
)

// Plan is a brand's tracking plan: which category each event and each identify trait belongs
// to. Events the plan does not name are rejected, never guessed. The special event names $page,
// $screen and $group set the category of page, screen and group calls; page and screen calls
// count as browsing unless the plan says otherwise.
type Plan struct {
	Events  map[string]string `json:"events"`
	Traits  map[string]string `json:"traits"`
	Version int64             `json:"version"`
}

// Limits of a tracking plan.
const (
	MaxPlanEntries = 5000
	maxPlanName    = 200
)

// ParsePlan parses and validates a tracking plan against the brand's vocabulary. Unknown
// fields are an error: a misspelt "event" key would otherwise silently drop every event.
func ParsePlan(body []byte, v symbiont.Vocabulary) (*Plan, error) {
	var p struct {
		Events map[string]string `json:"events"`
		Traits map[string]string `json:"traits"`
		// Version is what GET returns; it is accepted (so a plan read can be written back)
		// and ignored: the store numbers versions.
		Version *int64 `json:"version"`
	}
	if err := symbiont.DecodeJSON(body, &p); err != nil {
		return nil, err // duplicate names, bad UTF-8 and wrong types named by field path
	}
	if len(p.Events)+len(p.Traits) > MaxPlanEntries {
		return nil, symbiont.Errorf(symbiont.ETOOLARGE, "A tracking plan has at most %d entries.", MaxPlanEntries)
	}
	for field, m := range map[string]map[string]string{"events": p.Events, "traits": p.Traits} {
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Strings(names) // report the first bad entry deterministically
		for _, name := range names {
			cat := m[name]
			if name == "" || len(name) > maxPlanName || !utf8.ValidString(name) {
				return nil, symbiont.Errorf(symbiont.EINVALID, "%s: names must be 1-%d bytes of UTF-8.", field, maxPlanName).With("field", field)
			}
			if _, ok := v.Category(cat); !ok {
				return nil, symbiont.Errorf(symbiont.EINVALID, "%s[%q]: unknown category %q; known categories are %v.", field, name, cat, v.CategoryNames()).With("field", field)
			}
		}
	}
	if p.Events == nil {
		p.Events = map[string]string{}
	}
	if p.Traits == nil {
		p.Traits = map[string]string{}
	}
	return &Plan{Events: p.Events, Traits: p.Traits}, nil
}

// categoryOf returns the category of a track/page/screen/group call, or "" when the plan does
// not know it.
func (p *Plan) categoryOf(typ, event string) string {
	switch typ {
	case "track":
		return p.Events[event]
	case "page", "screen":
		if c := p.Events["$"+typ]; c != "" {
			return c
		}
		return "browsing"
	case "group":
		return p.Events["$group"]
	}
	return ""
}
