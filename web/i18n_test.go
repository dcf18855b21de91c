package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMessages: every message key used with a literal in the templates and the Go code exists
// in English, and every English message has a Chinese translation.
func TestMessages(t *testing.T) {
	used := map[string]string{}
	tmpl := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	code := regexp.MustCompile(`(?:\.T|translate\([a-zA-Z.()]+,)\s*\(?"([a-z_]+\.[a-z_.]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		for _, m := range tmpl.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range code.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	if len(used) < 50 {
		t.Fatalf("found only %d message keys in use: the patterns are broken", len(used))
	}
	for k, where := range used {
		if strings.HasSuffix(k, ".") {
			continue // a prefix completed at run time
		}
		if _, ok := messages["en"][k]; !ok {
			t.Errorf("%s uses message %q, which has no English text", where, k)
		}
	}
	for k := range messages["en"] {
		if strings.HasSuffix(k, "_one") {
			continue // a singular form: Chinese needs none
		}
		if _, ok := messages["zh-CN"][k]; !ok {
			t.Errorf("message %q has no zh-CN translation", k)
		}
	}
}
