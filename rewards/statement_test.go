package rewards

import (
	"reflect"
	"testing"
)

// TestLegacyDetail: a line written before lines carried their detail is read back from its
// English description into the detail it would carry now, for every kind and option.
func TestLegacyDetail(t *testing.T) {
	for _, tc := range []struct {
		kind, ref string
		d         *Detail
	}{
		{KindAccrual, "rcpt_1", &Detail{Kind: LineBonus, Category: "purchases", Purpose: "personalization"}},
		{KindAccrual, "rcpt_1", &Detail{Kind: LineAccrual, Category: "purchases", Purpose: "personalization", Days: 30, PointsPer30: 40}},
		{KindAccrual, "rcpt_2", &Detail{Kind: LineAccrual, Category: "contact", Purpose: "marketing", Days: 1, PointsPer30: 30, Factor: "1.25", GrantDays: 365}},
		{KindAccrual, "rcpt_3", &Detail{Kind: LineAccrual, Category: "feedback", Purpose: "product_research", Days: 12, PointsPer30: 60, Cap: 300}},
		{KindAccrual, "rcpt_4", &Detail{Kind: LineAccrual, Category: "feedback", Purpose: "product_research", Days: 12, PointsPer30: 60, Factor: "1.5", GrantDays: 180, Cap: 300}},
		{KindRedemption, "plant-a-tree", &Detail{Kind: LineRedemption, Reward: "plant-a-tree", RewardName: "Plant a tree: in Yunnan (1 × sapling)"}},
		{KindExpiry, "lot-7", &Detail{Kind: LineExpiry, Points: 120, EarnedOn: "2026-03-04"}},
	} {
		l := StatementLine{Kind: tc.kind, Ref: tc.ref, Description: tc.d.English()}
		if got := legacyDetail(l); !reflect.DeepEqual(got, tc.d) {
			t.Errorf("%q: read back %+v, want %+v", l.Description, got, tc.d)
		}
	}
	if d := legacyDetail(StatementLine{Kind: KindAccrual, Description: "points issued"}); d != nil {
		t.Errorf("an unknown description gave %+v", d)
	}
}
