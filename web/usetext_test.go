package web

import (
	"strings"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/ledger"
)

// A training read's ledger entry reads, in the consumer's language, as which model learnt
// from which of their categories, under which purpose.
func TestUseTextTraining(t *testing.T) {
	x := &ledger.ExportRecord{Kind: "access.train", Details: []byte(`{"action":"train","actor":"system:recommendations","categories":["purchases"],"model":"recs-v12","purpose":"model_training","records":3,"withheld":[]}`)}
	for _, tt := range []struct{ lang, want string }{
		{"en", "Your Purchases trained the recommendations model recs-v12 (AI model training)"},
		{"zh-CN", "您的购买记录训练了推荐模型 recs-v12（模型训练）"},
	} {
		p := &Page{lang: tt.lang}
		if got := p.useText(x, symbiont.DefaultVocabulary()); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.lang, got, tt.want)
		}
	}
	// Another feature's training names it.
	x.Details = []byte(`{"action":"train","actor":"system:analytics","categories":["purchases","browsing"],"model":"m-3","purpose":"model_training","records":3,"withheld":[]}`)
	p := &Page{lang: "en"}
	if got, want := p.useText(x, symbiont.DefaultVocabulary()), "Your Purchases, Browsing trained the model m-3 of Analytics (AI model training)"; got != want {
		t.Errorf("analytics training: %q, want %q", got, want)
	}
}

// A personalisation read that served a model names the model; one that read nothing (every
// category withheld) says so.
func TestUseTextModelRead(t *testing.T) {
	read := &ledger.ExportRecord{Kind: "access.read", Details: []byte(`{"action":"read","actor":"system:recommendations","categories":["purchases"],"model":"recs-v3","purpose":"personalization","records":4,"withheld":["browsing"]}`)}
	none := &ledger.ExportRecord{Kind: "access.read", Details: []byte(`{"action":"read","actor":"system:recommendations","categories":[],"model":"recs-v3","purpose":"personalization","records":0,"withheld":["purchases"]}`)}
	plain := &ledger.ExportRecord{Kind: "access.read", Details: []byte(`{"action":"read","actor":"brand:k1","categories":["purchases"],"purpose":"personalization","records":4,"withheld":[]}`)}
	for _, tt := range []struct {
		lang string
		x    *ledger.ExportRecord
		want string
	}{
		{"en", read, "Recommendations (model recs-v3) used your Purchases for Personalisation"},
		{"zh-CN", read, "推荐功能（模型 recs-v3）为「个性化」使用了您的购买记录"},
		{"en", none, "Recommendations (model recs-v3) asked for your Purchases for Personalisation; nothing was read, as you do not share it"},
		{"zh-CN", none, "推荐功能（模型 recs-v3）请求为「个性化」使用您的购买记录；因您未授权，没有读取任何数据"},
		{"en", plain, "The brand used your Purchases for Personalisation"},
	} {
		p := &Page{lang: tt.lang}
		if got := p.useText(tt.x, symbiont.DefaultVocabulary()); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.lang, got, tt.want)
		}
	}
}

// The model version in a line is marked as data (translate="no"), the rest escaped.
func TestMarkData(t *testing.T) {
	got := string(markData("<b> trained recs-v3 & more", "recs-v3"))
	want := `&lt;b&gt; trained <span translate="no">recs-v3</span> &amp; more`
	if got != want {
		t.Errorf("markData = %q, want %q", got, want)
	}
	if got := string(markData("nothing", "")); got != "nothing" {
		t.Errorf("markData without data = %q", got)
	}
	if !strings.Contains(string(markData("a", "a")), "translate") {
		t.Error("markData did not mark")
	}
}

// The wallet's own "For you" read (the consumer's actor) is said as the recommendations'.
func TestUseTextForYouRead(t *testing.T) {
	x := &ledger.ExportRecord{Kind: "access.read", Details: []byte(`{"action":"read","actor":"consumer:42","categories":["purchases"],"model":"recs-v3","purpose":"personalization","records":4,"withheld":[]}`)}
	p := &Page{lang: "en"}
	if got, want := p.useText(x, symbiont.DefaultVocabulary()), "Recommendations (model recs-v3) used your Purchases for Personalisation"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
