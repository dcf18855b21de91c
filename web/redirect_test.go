package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzLocalPath: whatever localPath accepts is a path on this site under /wallet or /console
// that a browser resolves to this site (backslashes read as slashes, as browsers do), and
// accepting it again gives the same answer.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/wallet", "/wallet/", "/console/consumers/a", "/wallet/../%5Cevil.com", `/\evil.com`, "//evil.com",
		"/wallet/%2e%2e/x", "/wallet?code=1#x", "/wallet/%252F", "/\t/x", "https://evil.com/wallet", "/console/consumers/张"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://site.example/lang")
	f.Fuzz(func(t *testing.T, raw string) {
		out, ok := localPath(raw)
		if !ok {
			return
		}
		if !(out == "/wallet" || out == "/console" || strings.HasPrefix(out, "/wallet/") || strings.HasPrefix(out, "/wallet?") ||
			strings.HasPrefix(out, "/console/") || strings.HasPrefix(out, "/console?")) {
			t.Fatalf("localPath(%q) = %q: not under /wallet or /console", raw, out)
		}
		if strings.ContainsAny(out, "\\\t\r\n\x00") {
			t.Fatalf("localPath(%q) = %q holds a backslash or a control character", raw, out)
		}
		u, err := url.Parse(strings.ReplaceAll(out, `\`, "/"))
		if err != nil || base.ResolveReference(u).Host != base.Host {
			t.Fatalf("localPath(%q) = %q leaves the site (%v)", raw, out, err)
		}
		if again, ok := localPath(out); !ok || again != out {
			t.Fatalf("localPath(%q) = %q, but localPath(%q) = %q, %v", raw, out, out, again, ok)
		}
	})
}
