package recommendation

import (
	"slices"
	"strings"
	"testing"
)

func TestReadRatings(t *testing.T) {
	for _, tt := range []struct {
		name, format, in string
		users, items     int
		pairs, dups      int
		err              string
	}{
		{"ml-100k", FormatMovieLens, "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t878887116\n", 2, 2, 3, 0, ""},
		{"ml-1m", FormatMovieLens, "1::1193::5::978300760\r\n1::661::3::978302109\r\n2::1193::4::978298413\r\n", 2, 2, 3, 0, ""},
		{"duplicate pair", FormatMovieLens, "1\t2\t5\t0\n1\t2\t4\t1\n", 1, 1, 1, 1, ""},
		{"csv with header", FormatCSV, "userId,movieId,rating\n a , x ,5\nb,x\n\n", 2, 1, 2, 0, ""},
		{"csv without header", FormatCSV, "u1,i1\nu1,i2\n", 1, 2, 2, 0, ""},
		{"one field", FormatMovieLens, "1\t2\n", 0, 0, 0, 0, "line 1"},
		{"empty user", FormatCSV, "u,i\n,x\n", 0, 0, 0, 0, "line 2"},
		{"control character", FormatCSV, "u\x01,i\n", 0, 0, 0, 0, "line 1"},
		{"too long", FormatCSV, strings.Repeat("x", MaxRatingLine+1) + ",i\n", 0, 0, 0, 0, "longer than"},
		{"unknown format", "tsv", "", 0, 0, 0, 0, "unknown ratings format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadRatings(strings.NewReader(tt.in), tt.format)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Users) != tt.users || r.Items != tt.items || r.Count() != tt.pairs || r.Duplicates != tt.dups {
				t.Errorf("users %d items %d pairs %d dups %d; want %d %d %d %d", len(r.Users), r.Items, r.Count(), r.Duplicates, tt.users, tt.items, tt.pairs, tt.dups)
			}
		})
	}
}

// FuzzReadRatings: any input is read or refused with a line number, never a panic; what is
// read has dense, in-range, distinct indexes, and ids map back one to one.
func FuzzReadRatings(f *testing.F) {
	f.Add("196\t242\t3\t881250949\n1::1193::5::978300760\n", FormatMovieLens)
	f.Add("userId,movieId\nu,i\nu,j\n", FormatCSV)
	f.Fuzz(func(t *testing.T, in, format string) {
		r, err := ReadRatings(strings.NewReader(in), format)
		if err != nil {
			return
		}
		if len(r.UserIDs) != len(r.Users) || len(r.ItemIDs) != r.Items {
			t.Fatalf("%d user ids for %d users, %d item ids for %d items", len(r.UserIDs), len(r.Users), len(r.ItemIDs), r.Items)
		}
		for u, h := range r.Users {
			s := slices.Clone(h)
			slices.Sort(s)
			if len(slices.Compact(s)) != len(h) {
				t.Fatalf("user %d has an item twice: %v", u, h)
			}
			for _, i := range h {
				if i < 0 || i >= r.Items {
					t.Fatalf("item index %d out of range %d", i, r.Items)
				}
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(r.ItemIDs)))) != len(r.ItemIDs) {
			t.Fatal("two indexes share an item id")
		}
	})
}
