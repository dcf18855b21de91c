package web_test

import (
	"net/http"
	"testing"
)

// accessibleNames lists, for the page open in the tab, every control without an accessible
// name (a label, aria-label, aria-labelledby, its text, or a title), every role=img SVG without
// a title or label, and a page without exactly one h1 or without a language.
const accessibleNames = `(function () {
  var bad = [];
  function named(el) {
    var n = el.getAttribute('aria-label') || '';
    var by = el.getAttribute('aria-labelledby');
    if (!n.trim() && by) n = by.split(/\s+/).map(function (id) { var e = document.getElementById(id); return e ? e.textContent : ''; }).join(' ');
    if (!n.trim() && el.labels && el.labels.length) n = Array.prototype.map.call(el.labels, function (l) { return l.textContent; }).join(' ');
    if (!n.trim() && (el.tagName === 'BUTTON' || el.tagName === 'A' || el.tagName === 'SUMMARY')) n = el.textContent;
    if (!n.trim()) n = el.getAttribute('title') || '';
    return n.trim() !== '';
  }
  document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], summary').forEach(function (el) {
    if (!named(el)) bad.push(el.outerHTML.slice(0, 160));
  });
  document.querySelectorAll('svg[role=img]').forEach(function (s) {
    if (!s.getAttribute('aria-label') && !s.getAttribute('aria-labelledby') && !s.querySelector('title')) bad.push(s.outerHTML.slice(0, 100));
  });
  var h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) bad.push(h1 + ' h1 elements');
  if (!document.documentElement.lang) bad.push('no lang on <html>');
  return bad;
})()`

// TestBrowserAccessibleNames: on every wallet and console page, in both languages, every
// control a person can reach has a name a screen reader can say, charts are labelled, and the
// page has one main heading and a language.
func TestBrowserAccessibleNames(t *testing.T) {
	s, tb := openWallet(t)
	check := func(path string) {
		t.Helper()
		if st := tb.open(path); st != http.StatusOK {
			t.Errorf("%s: status %d", path, st)
			return
		}
		for _, b := range eval[[]string](tb, accessibleNames) {
			t.Errorf("%s (%s): %s", path, eval[string](tb, "document.documentElement.lang"), b)
		}
	}
	wallet := []string{"/wallet", "/wallet/for-you", "/wallet/data", "/wallet/activity", "/wallet/rewards", "/wallet/erase"}
	console := []string{"/console", "/console?days=90", "/console/consumers", "/console/consumers?q=guest-0001",
		"/console/consumers/guest-0001?purpose=personalization", "/console/plan", "/console/rate-card",
		"/console/catalog", "/console/catalog?edit=room:kyoto-garden", "/console/recommendations", "/console/keys"}
	for _, lang := range []string{"en", "zh-CN"} {
		tb.open("/lang?lang=" + lang + "&back=/wallet")
		for _, p := range wallet {
			check(p)
		}
	}
	tb.open("/lang?lang=en&back=/console/login")
	for _, b := range eval[[]string](tb, accessibleNames) {
		t.Errorf("/console/login: %s", b)
	}
	if st := tb.signIn(s.Demo.SecretKey); st != http.StatusOK {
		t.Fatalf("console sign-in: status %d", st)
	}
	for _, lang := range []string{"en", "zh-CN"} {
		tb.open("/lang?lang=" + lang + "&back=/console")
		for _, p := range console {
			check(p)
		}
	}
}
