package web

import (
	"strings"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/ledger"
)

// A training read's ledger entry reads, in the consumer's language, as which model learnt
// from which of their categories.
func TestUseTextTraining(t *testing.T) {
	x := &ledger.ExportRecord{Kind: "access.train", Details: []byte(`{"action":"train","actor":"system:recommendations","categories":["purchases"],"model":"recs-v12","purpose":"model_training","records":3,"withheld":[]}`)}
	for _, tt := range []struct{ lang, want string }{{"en", "recs-v12"}, {"zh-CN", "recs-v12"}} {
		p := &Page{lang: tt.lang}
		got := p.useText(x, symbiont.DefaultVocabulary())
		if !strings.Contains(got, tt.want) || got == p.T("use.kind.other") {
			t.Errorf("%s: %q, want the model named", tt.lang, got)
		}
		t.Logf("%s: %s", tt.lang, got)
	}
}
