package web_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// shownText is every text on screen that the page says in its own language: text nodes that
// are rendered (checkVisibility), outside what is marked translate="no" (the brand's own
// words: names, catalogue, tiers; and data: codes, receipts, records) and outside what is
// marked as another language (the link to the other language).
const shownText = `(function () {
  var lang = document.documentElement.lang, out = [];
  var w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (var n; (n = w.nextNode());) {
    var e = n.parentElement, t = n.textContent.replace(/\s+/g, ' ').trim();
    if (!t || e.closest('[translate="no"], script, style, noscript')) continue;
    var l = e.closest('[lang]');
    if (l && l.getAttribute('lang') !== lang) continue;
    if (!e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    out.push(t);
  }
  return out;
})()`

// latinAllowed are the words a Chinese page may show in Latin letters: names of standards
// and of the product, and UTC after a time.
var latinAllowed = []string{"Symbiont", "GPC", "JSON", "GDPR", "ID", "UTC"}

var latinWord = regexp.MustCompile(`[A-Za-z][A-Za-z'’_-]*`)

// TestBrowserWalletChinese renders every wallet page in Chinese with the demo's data (its
// statement, tier, history and records), every disclosure open, and fails on any category
// or purpose id, and on any word in Latin letters that is not the brand's own text, a standard's
// name or data: a sentence left in English, or an id shown where a label belongs.
func TestBrowserWalletChinese(t *testing.T) {
	s, tb := openWallet(t)
	ctx := context.Background()
	bid := brandID(t, s)
	// What the brand wrote is the brand's to translate: its name, catalogue, tiers, estimate
	// method, event names.
	var brand []string
	b, err := s.P.Tenants.Brand(ctx, bid)
	if err != nil {
		t.Fatal(err)
	}
	brand = append(brand, b.Name)
	cat, err := s.P.Rewards.Catalog(ctx, bid, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cat {
		brand = append(brand, r.Name, r.Description)
	}
	// The catalogue's items (what "For you" lists): their titles and categories.
	items, _, err := s.P.Catalog.List(ctx, bid, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		brand = append(brand, it.Title, it.Category)
	}
	card, err := s.P.Rewards.RateCard(ctx, bid, 0)
	if err != nil || card == nil {
		t.Fatalf("the demo's rate card: %v", err)
	}
	// The card's currency code (ISO 4217) and the ledger's origin are data too.
	brand = append(brand, card.EstimateMethod, card.Currency, s.P.Ledger.Origin())
	for _, l := range card.Tiers.Levels {
		brand = append(brand, l.Name)
		brand = append(brand, l.Benefits...)
	}
	vocab, err := s.P.Consent.Vocabulary(ctx, bid)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range vocab.Categories {
		ids = append(ids, c.Name)
		if c.Custom {
			brand = append(brand, c.Label, c.Description)
		}
	}
	for _, p := range vocab.Purposes {
		ids = append(ids, p.Name)
		if p.Custom {
			brand = append(brand, p.Label, p.Description)
		}
	}
	// Longest first, so that a name inside a longer text goes with it.
	sort.Slice(brand, func(i, j int) bool { return len(brand[i]) > len(brand[j]) })

	tb.click("link", "Language: 中文")
	if l := eval[string](tb, "document.documentElement.lang"); l != "zh-CN" {
		t.Fatalf("after switching: lang %q", l)
	}
	checked := 0
	for _, path := range []string{"/wallet", "/wallet/for-you", "/wallet/data", "/wallet/activity", "/wallet/rewards", "/wallet/erase"} {
		if st := tb.open(path); st != http.StatusOK {
			t.Errorf("%s: status %d", path, st)
			continue
		}
		tb.openDetails()
		for _, line := range eval[[]string](tb, shownText) {
			rest := line
			for _, bt := range brand {
				if bt != "" {
					rest = strings.ReplaceAll(rest, bt, " ")
				}
			}
			for _, id := range ids {
				if regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(id) + `($|[^A-Za-z0-9_])`).MatchString(rest) {
					t.Errorf("%s shows the id %q: %q", path, id, line)
				}
			}
			for _, w := range latinWord.FindAllString(rest, -1) {
				if !slices.Contains(latinAllowed, w) {
					t.Errorf("%s shows %q in Latin letters: %q", path, w, line)
					break
				}
			}
			checked++
		}
	}
	if checked < 100 {
		t.Errorf("only %d lines of text checked on the wallet pages", checked)
	}
}
