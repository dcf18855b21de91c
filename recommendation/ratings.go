package recommendation

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Rating file formats ReadRatings knows.
const (
	// FormatMovieLens is MovieLens' rating files: "user item rating timestamp" separated by a
	// tab (ML-100K u.data) or by "::" (ML-1M, ML-10M ratings.dat).
	FormatMovieLens = "movielens"
	// FormatCSV is "user,item[,…]" per line, with an optional header line naming user and item
	// (user_id / userId / user; item_id / itemId / item / movieId).
	FormatCSV = "csv"
)

// Limits of a ratings file.
const (
	MaxRatingLine = 4096
	MaxIDLen      = 256
)

// Ratings is a file's feedback mapped to dense indexes, with the ids each index stands for.
type Ratings struct {
	Interactions
	UserIDs, ItemIDs []string
	Lines            int // lines read (header and blank ones included)
	Duplicates       int // (user, item) pairs met again, counted once
}

// ReadRatings reads feedback in a format. Every rating counts as one interaction (implicit
// feedback), whatever its value; a pair met twice counts once. A malformed line fails the
// read, naming the line.
func ReadRatings(r io.Reader, format string) (*Ratings, error) {
	var split func(line string) (user, item string, ok bool)
	switch format {
	case FormatMovieLens:
		split = func(line string) (string, string, bool) {
			sep := "\t"
			if strings.Contains(line, "::") {
				sep = "::"
			}
			f := strings.Split(line, sep)
			if len(f) < 3 {
				return "", "", false
			}
			return f[0], f[1], true
		}
	case FormatCSV:
		split = func(line string) (string, string, bool) {
			f := strings.Split(line, ",")
			if len(f) < 2 {
				return "", "", false
			}
			return strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), true
		}
	default:
		return nil, fmt.Errorf("unknown ratings format %q (want %s or %s)", format, FormatMovieLens, FormatCSV)
	}
	out := &Ratings{}
	users, items := map[string]int{}, map[string]int{}
	seen := map[[2]int]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, MaxRatingLine), MaxRatingLine)
	for sc.Scan() {
		out.Lines++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		u, i, ok := split(line)
		if ok && format == FormatCSV && out.Lines == 1 && header(u, i) {
			continue
		}
		if !ok || u == "" || i == "" || len(u) > MaxIDLen || len(i) > MaxIDLen || !printableID(u) || !printableID(i) {
			return nil, fmt.Errorf("line %d: want %s fields user and item, got %q", out.Lines, format, truncate(line, 80))
		}
		ui, ok := users[u]
		if !ok {
			ui = len(out.UserIDs)
			users[u] = ui
			out.UserIDs = append(out.UserIDs, u)
			out.Users = append(out.Users, nil)
		}
		ii, ok := items[i]
		if !ok {
			ii = len(out.ItemIDs)
			items[i] = ii
			out.ItemIDs = append(out.ItemIDs, i)
		}
		if seen[[2]int{ui, ii}] {
			out.Duplicates++
			continue
		}
		seen[[2]int{ui, ii}] = true
		out.Users[ui] = append(out.Users[ui], ii)
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, fmt.Errorf("line %d: longer than %d bytes", out.Lines+1, MaxRatingLine)
		}
		return nil, err
	}
	out.Items = len(out.ItemIDs)
	return out, nil
}

func header(u, i string) bool {
	u, i = strings.ToLower(u), strings.ToLower(i)
	return (u == "user" || u == "user_id" || u == "userid") && (i == "item" || i == "item_id" || i == "itemid" || i == "movieid")
}

func printableID(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd })
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return string(bytes.ToValidUTF8([]byte(s[:n]), nil)) + "…"
}
