// Package demo seeds a realistic demo brand — Aurora Hotels & Resorts, a hotel group with rooms,
// dining and a spa — with members, their consent decisions and their stays, all through the same
// services the API uses (so the consent gate applies to the demo data too).
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/recommendation"
	"github.com/symbiont/symbiont/recommender"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/tenant"
)

// BrandName is the demo brand.
const BrandName = "Aurora Hotels & Resorts"

const brandSetting = "demo_brand_id"

// Plan is the demo tracking plan.
var Plan = map[string]map[string]string{
	"events": {
		"Room Booked": "purchases", "Stay Completed": "purchases", "Dining Reservation Made": "purchases",
		"Spa Treatment Booked": "purchases", "Room Preference Updated": "preferences", "Review Submitted": "feedback",
		"Checked In": "location", "Dietary Need Noted": "health", "App Opened": "device",
	},
	"traits": {
		"email": "contact", "phone": "contact", "name": "profile", "firstName": "profile", "lastName": "profile",
		"birthday": "profile", "language": "profile", "roomType": "preferences", "pillow": "preferences",
		"dietary": "health", "city": "location",
	},
}

type member struct {
	id, first, last, email, phone, lang, city, room string
}

var members = []member{
	{"guest-0001", "Mei", "Chen", "mei.chen@example.com", "+86 138 0013 8000", "zh-CN", "Shanghai", "Harbour-view king"},
	{"guest-0002", "James", "Walker", "james.walker@example.com", "+1 415 555 0102", "en-US", "San Francisco", "Twin deluxe"},
	{"guest-0003", "Li", "Wang", "li.wang@example.com", "+86 139 1234 5678", "zh-CN", "Beijing", "Garden suite"},
	{"guest-0004", "Sofia", "Rossi", "sofia.rossi@example.com", "+39 06 555 0104", "en-US", "Rome", "Junior suite"},
	{"guest-0005", "Hiroshi", "Tanaka", "hiroshi.tanaka@example.com", "+81 3 5555 0105", "en-US", "Tokyo", "Quiet king"},
	{"guest-0006", "Amara", "Okafor", "amara.okafor@example.com", "+44 20 7946 0106", "en-US", "London", "Family room"},
	{"guest-0007", "Xiao", "Liu", "xiao.liu@example.com", "+86 137 5555 0107", "zh-CN", "Shenzhen", "Executive king"},
	{"guest-0008", "Emma", "Schmidt", "emma.schmidt@example.com", "+49 30 5555 0108", "en-US", "Berlin", "Spa suite"},
}

// Demo is what Seed made, for printing.
type Demo struct {
	BrandID     string
	SecretKey   string
	WriteKey    string
	WalletURL   string
	WalletUser  string
	Members     int
	Events      int
	Reused      bool
	WalletToken string
}

// Seed creates the demo brand and data, or, when the data directory already has them, issues
// fresh keys for the existing demo brand.
func Seed(ctx context.Context, p *platform.Platform) (*Demo, error) {
	existing, err := p.Tenants.Setting(ctx, brandSetting)
	if err != nil {
		return nil, err
	}
	d := &Demo{WalletUser: members[0].first + " " + members[0].last + " (" + members[0].id + ")", Members: len(members)}
	var brandID int64
	if existing != nil {
		b, err := p.Tenants.BrandByPublicID(ctx, string(existing))
		if err != nil {
			return nil, err
		}
		brandID, d.BrandID, d.Reused = b.ID, b.PublicID, true
		// Fresh keys each start; the previous run's demo keys stop working.
		keys, err := p.Tenants.Keys(ctx, b.ID)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if (k.Name == "demo" || k.Name == "default") && k.RevokedAt.IsZero() {
				if err := p.Tenants.RevokeKey(ctx, b.ID, k.ID); err != nil {
					return nil, err
				}
			}
		}
		if d.SecretKey, _, err = p.Tenants.CreateKey(ctx, b.ID, tenant.KindSecret, "demo", nil); err != nil {
			return nil, err
		}
		if d.WriteKey, _, err = p.Tenants.CreateKey(ctx, b.ID, tenant.KindWrite, "demo", nil); err != nil {
			return nil, err
		}
	} else {
		nb, err := p.Tenants.CreateBrand(ctx, BrandName)
		if err != nil {
			return nil, err
		}
		brandID, d.BrandID, d.SecretKey, d.WriteKey = nb.Brand.ID, nb.Brand.PublicID, nb.SecretKey, nb.WriteKey
		// Before the story: its trainings and lists read the bookings as interactions.
		readAsAurora(p, brandID)
		if err := seedData(ctx, p, brandID, d); err != nil {
			return nil, err
		}
		if err := p.Tenants.PutSetting(ctx, brandSetting, []byte(d.BrandID)); err != nil {
			return nil, err
		}
	}
	readAsAurora(p, brandID) // again, for a reused brand
	cid, err := p.Directory.Consumer(ctx, brandID, identity.KindUserID, members[0].id)
	if err != nil {
		return nil, err
	}
	// Integrate what the seeding recorded, so the wallet's proofs are ready at once.
	if _, err := p.Ledger.Integrate(ctx); err != nil {
		return nil, err
	}
	sess, err := p.Tenants.OpenSession(ctx, brandID, cid, tenant.MaxSessionTTL)
	if err != nil {
		return nil, err
	}
	d.WalletToken = sess.Token
	d.WalletURL = p.Config.BaseURL + "/wallet?token=" + sess.Token
	return d, nil
}

// readAsAurora makes the recommender read Aurora's bookings as interactions (the spec's
// events) and word its explanations as a hotel does.
func readAsAurora(p *platform.Platform, brandID int64) {
	// Aurora's bookings are its interactions: the recommender reads them with the spec's events.
	kinds := maps.Clone(recommendation.DefaultEventKinds)
	maps.Copy(kinds, EventKinds)
	p.Recommender.Kinds = func(id int64) recommendation.EventKinds {
		if id == brandID {
			return kinds
		}
		return recommendation.DefaultEventKinds
	}
	p.Recommender.Phrases = func(id int64, locale string) map[string]string {
		if id == brandID {
			return Phrases[locale]
		}
		return nil
	}
}

func seedData(ctx context.Context, p *platform.Platform, brandID int64, d *Demo) error {
	plan, _ := json.Marshal(Plan)
	if _, err := p.Ingest.PutPlan(ctx, brandID, plan); err != nil {
		return err
	}
	if _, err := p.Rewards.PutRateCard(ctx, brandID, []byte(RateCard)); err != nil {
		return err
	}
	for _, r := range Catalog {
		if err := p.Rewards.PutReward(ctx, brandID, r); err != nil {
			return err
		}
	}
	if _, err := p.Catalog.PutBatch(ctx, brandID, Items); err != nil {
		return err
	}
	// The story is played day by day over the last four months, as it would have happened:
	// members join one after another and grant, their stays arrive as they happen, the
	// recommendations feature reads what it may every week, points accrue monthly, some
	// members redeem, one changes their mind. With a clock that cannot travel it all happens
	// now.
	now := p.Config.Clock.Now()
	travel := func(time.Duration) {}
	if c, ok := p.Config.Clock.(interface{ Advance(time.Duration) }); ok {
		travel = c.Advance
	}
	const days = 120
	const day = 24 * time.Hour
	travel(-days * day)
	travelled := 0
	defer func() { travel(time.Duration(days-travelled) * day) }() // back to now, whatever happens
	st := &story{p: p, brandID: brandID, rng: rand.New(rand.NewPCG(2026, 11)), d: d,
		actor: symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: brandID, KeyID: "demo-seed"}}
	queue := make([][]map[string]any, len(members))
	for i, m := range members {
		q := memberEvents(m, i, st.rng, now)
		sort.SliceStable(q, func(a, b int) bool { return eventTime(q[a]).Before(eventTime(q[b])) })
		queue[i] = q // anything dated after now is never sent
	}
	for t := 0; t <= days; t++ {
		at := p.Config.Clock.Now()
		for i, m := range members {
			if t < i*6 {
				continue // joins on day i*6
			}
			if t == i*6 {
				if err := st.join(ctx, i, m); err != nil {
					return err
				}
			}
			// Events whose time has come (history before joining arrives on the day they join).
			var due []map[string]any
			for len(queue[i]) > 0 && !eventTime(queue[i][0]).After(at) {
				due, queue[i] = append(due, queue[i][0]), queue[i][1:]
			}
			if err := st.send(ctx, append(due, st.daily(m, at)...)); err != nil {
				return err
			}
			if (t-i*6)%7 == 0 || t == days {
				if err := st.recommend(ctx, m.id); err != nil {
					return err
				}
			}
		}
		if err := st.events(ctx, t); err != nil {
			return err
		}
		// The recommendations model is retrained monthly on what members let it learn from;
		// each training is in each contributing member's ledger.
		if t > 0 && t%30 == 0 {
			if _, err := p.Recommender.Train(ctx, brandID); err != nil {
				return err
			}
		}
		if t < days {
			travel(day)
			travelled++
		}
	}
	return nil
}

// story is the demo's state while it plays.
type story struct {
	p       *platform.Platform
	brandID int64
	rng     *rand.Rand
	actor   symbiont.Actor
	d       *Demo
}

var demoNotice = consent.Notice{ID: "aurora-membership-privacy", Version: "2026-10", Hash: "sha256:3f1c9a", Language: "en"}

// join records a member's consent decisions when they join.
func (st *story) join(ctx context.Context, i int, m member) error {
	grants := []struct {
		cat, purpose string
		share        float64
	}{
		{"purchases", "personalization", 1}, {"preferences", "personalization", 0.9}, {"profile", "service", 1},
		{"contact", "service", 1}, {"browsing", "analytics", 0.7}, {"contact", "marketing", 0.5},
		{"feedback", "product_research", 0.5}, {"location", "personalization", 0.4}, {"device", "analytics", 0.6},
	}
	ref := consent.ConsumerRef{Kind: identity.KindUserID, Value: m.id}
	for _, g := range grants {
		if i > 0 && st.rng.Float64() > g.share {
			continue
		}
		days := []int{90, 180, 365, 730}[st.rng.IntN(4)]
		if i == 0 {
			days = 365 // the member the demo prints a wallet link for shares everything for a year
		}
		if _, err := st.p.Consent.Apply(ctx, []*consent.Change{{BrandID: st.brandID, Consumer: ref, Category: g.cat, Purpose: g.purpose,
			State: consent.StateGiven, DurationDays: days, Notice: demoNotice, Method: consent.MethodBrand, Actor: st.actor, Jurisdiction: jurisdiction(m)}}, ""); err != nil {
			return err
		}
	}
	// Most members also let their bookings train the recommendations (a grant of its own: one
	// may be given without the other). Decided without the story's random draws, so the rest
	// of the story is as it was.
	if i%5 != 4 {
		if _, err := st.p.Consent.Apply(ctx, []*consent.Change{{BrandID: st.brandID, Consumer: ref, Category: "purchases", Purpose: "model_training",
			State: consent.StateGiven, DurationDays: 365, Notice: demoNotice, Method: consent.MethodBrand, Actor: st.actor, Jurisdiction: jurisdiction(m)}}, ""); err != nil {
			return err
		}
	}
	// Health data (dietary needs) needs explicit, separate consent: some members give it.
	if i%3 == 0 {
		if _, err := st.p.Consent.Apply(ctx, []*consent.Change{{BrandID: st.brandID, Consumer: ref, Category: "health", Purpose: "service",
			State: consent.StateGiven, DurationDays: 365, Explicit: true, Notice: consent.Notice{ID: "aurora-dietary-needs", Version: "1", Language: "en"},
			Method: consent.MethodBrand, Actor: st.actor, Jurisdiction: jurisdiction(m)}}, ""); err != nil {
			return err
		}
	}
	return nil
}

// send ingests a member's messages through the consent gate, like the brand's SDKs would.
func (st *story) send(ctx context.Context, msgs []map[string]any) error {
	if len(msgs) == 0 {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"batch": msgs})
	batch, err := segment.ParseBatch(body)
	if err != nil {
		return err
	}
	res, err := st.p.Ingest.Ingest(ctx, st.brandID, batch, false, st.actor)
	if err != nil {
		return err
	}
	st.d.Events += res.Accepted
	return nil
}

func (st *story) consumer(ctx context.Context, id string) (int64, error) {
	return st.p.Directory.Consumer(ctx, st.brandID, identity.KindUserID, id)
}

// recommend is the member's "for you" list, served as in production: the recommender reads
// their history for personalisation through the one door (recorded in their ledger chain with
// the model version; withheld what consent no longer allows). Before the first model it reads
// nothing.
func (st *story) recommend(ctx context.Context, id string) error {
	cid, err := st.consumer(ctx, id)
	if err != nil {
		return err
	}
	_, err = st.p.Recommender.Recommend(ctx, recommender.Request{BrandID: st.brandID, ConsumerID: cid, N: 6, Surface: "app",
		Actor: symbiont.Actor{Kind: symbiont.ActorSystem, BrandID: st.brandID, KeyID: "recommendations"}})
	return err
}

// events are the story's dated events: monthly accrual, a withdrawal, redemptions.
func (st *story) events(ctx context.Context, t int) error {
	if t%30 == 0 && t > 0 {
		if _, err := st.p.Rewards.Accrue(ctx); err != nil {
			return err
		}
	}
	if t == 64 {
		// One member changed their mind about marketing.
		ref := consent.ConsumerRef{Kind: identity.KindUserID, Value: members[3].id}
		if _, err := st.p.Consent.Apply(ctx, []*consent.Change{{BrandID: st.brandID, Consumer: ref, Category: "contact", Purpose: "marketing",
			State: consent.StateWithdrawn, Method: consent.MethodBrand, Actor: st.actor}}, ""); err != nil && symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
			return err
		}
	}
	redemptions := map[int][][2]string{ // day -> member, reward
		65:  {{"guest-0002", "plant-a-tree"}, {"guest-0005", "plant-a-tree"}},
		95:  {{"guest-0001", "late-checkout"}, {"guest-0003", "late-checkout"}},
		108: {{"guest-0001", "plant-a-tree"}},
	}
	for i, r := range redemptions[t] {
		cid, err := st.consumer(ctx, r[0])
		if err != nil {
			return err
		}
		if _, _, err := st.p.Rewards.Redeem(ctx, st.brandID, cid, r[1], fmt.Sprintf("demo-%d-%d", t, i)); err != nil && symbiont.ErrorCode(err) != symbiont.ECONFLICT {
			return err
		}
	}
	return nil
}

// daily is a member's everyday activity: looking at offers on the site, opening the app. Only
// what the member consented to is stored; the rest is dropped at the gate and counted.
func (st *story) daily(m member, at time.Time) []map[string]any {
	var out []map[string]any
	ctx := map[string]any{"library": map[string]any{"name": "aurora-web", "version": "5.1.0"}, "locale": m.lang}
	ts := at.Add(-time.Duration(st.rng.IntN(12*60)) * time.Minute).UTC().Format(time.RFC3339)
	if st.rng.IntN(2) == 0 {
		page := []string{"Offers", "Spa", "Dining", "Rooms"}[st.rng.IntN(4)]
		out = append(out, map[string]any{"type": "page", "userId": m.id, "name": page, "timestamp": ts, "context": ctx,
			"messageId": fmt.Sprintf("demo-%s-page-%d", m.id, at.Unix()), "properties": map[string]any{"path": "/" + strings.ToLower(page)}})
	}
	if st.rng.IntN(3) == 0 {
		out = append(out, map[string]any{"type": "track", "userId": m.id, "event": "App Opened", "timestamp": ts, "context": ctx,
			"messageId": fmt.Sprintf("demo-%s-app-%d", m.id, at.Unix()), "properties": map[string]any{"os": "iOS 19", "app_version": "4.2"}})
	}
	return out
}

func eventTime(m map[string]any) time.Time {
	t, _ := time.Parse(time.RFC3339, m["timestamp"].(string))
	return t
}

// RateCard is the demo brand's rate card: what each grant earns, its tiers, and the estimate
// of the data's value the wallet shows before a member grants.
const RateCard = `{
  "currency": "USD", "point_value": 0.01, "points_expire_after_days": 730,
  "rates": [
    {"category": "purchases", "purpose": "personalization", "points_per_30_days": 40, "bonus": 100,
     "multipliers": [{"min_days": 365, "factor": 1.25}]},
    {"category": "preferences", "purpose": "personalization", "points_per_30_days": 20},
    {"category": "browsing", "purpose": "analytics", "points_per_30_days": 10},
    {"category": "contact", "purpose": "marketing", "points_per_30_days": 30, "bonus": 50,
     "multipliers": [{"min_days": 180, "factor": 1.2}, {"min_days": 365, "factor": 1.5}]},
    {"category": "feedback", "purpose": "product_research", "points_per_30_days": 60, "cap": 300},
    {"category": "location", "purpose": "personalization", "points_per_30_days": 25},
    {"category": "device", "purpose": "analytics", "points_per_30_days": 5}
  ],
  "tiers": {"basis": "points_12m", "levels": [
    {"name": "Member", "min": 0, "benefits": ["Member rates", "Free Wi-Fi"]},
    {"name": "Silver", "min": 300, "benefits": ["Late checkout until 14:00", "Welcome drink"]},
    {"name": "Gold", "min": 800, "benefits": ["Room upgrade when available", "Late checkout until 16:00", "Breakfast included"]}]},
  "estimate_method": "Aurora's 2025 revenue uplift from personalised offers and research, divided by active members and by the data each offer used.",
  "data_value_per_year": {"purchases/personalization": 7.2, "preferences/personalization": 2.4, "contact/marketing": 4.8,
    "browsing/analytics": 1.1, "feedback/product_research": 3.0, "location/personalization": 2.0, "device/analytics": 0.5}
}`

// Catalog is the demo brand's rewards.
var Catalog = []*rewards.Reward{
	{ID: "plant-a-tree", Name: "Plant a tree in Yunnan", Kind: "donation", Description: "Aurora plants and tends a native tree with the Yunnan reforestation fund.", Cost: 50, Stock: -1, Active: true},
	{ID: "late-checkout", Name: "Late checkout (16:00)", Kind: "upgrade", Description: "Keep your room until 16:00 on your next stay.", Cost: 150, Stock: -1, PerConsumer: 4, Active: true},
	{ID: "spa-voucher", Name: "Spa voucher: 60-minute treatment", Kind: "coupon", Description: "One 60-minute treatment at any Aurora spa.", Cost: 400, Stock: 25, PerConsumer: 2, Active: true},
	{ID: "suite-upgrade", Name: "Suite upgrade", Kind: "upgrade", Description: "An upgrade to a suite for one stay, subject to availability.", Cost: 900, Stock: 5, PerConsumer: 1, Active: true},
	{ID: "chefs-table", Name: "Chef's table for two", Kind: "experience", Description: "A tasting menu at the chef's table, Aurora Shanghai Bund.", Cost: 1200, Stock: 3, PerConsumer: 1, Active: true},
}

func jurisdiction(m member) string {
	switch m.lang {
	case "zh-CN":
		return "CN"
	}
	return map[string]string{"San Francisco": "US-CA", "London": "GB", "Tokyo": "JP"}[m.city] + map[bool]string{true: "EU"}[m.city == "Rome" || m.city == "Berlin"]
}

// memberEvents is a member's history: an identify call, then stays with dining and spa.
func memberEvents(m member, i int, rng *rand.Rand, now time.Time) []map[string]any {
	ctx := map[string]any{"library": map[string]any{"name": "aurora-backend", "version": "3.2.0"}, "locale": m.lang}
	n := 0
	msg := func(typ string, at time.Time, fields map[string]any) map[string]any {
		n++
		out := map[string]any{"type": typ, "userId": m.id, "messageId": fmt.Sprintf("demo-%s-%03d", m.id, n),
			"timestamp": at.UTC().Format(time.RFC3339), "context": ctx}
		for k, v := range fields {
			out[k] = v
		}
		return out
	}
	start := now.AddDate(0, -11, 0)
	out := []map[string]any{msg("identify", start, map[string]any{"traits": map[string]any{
		"firstName": m.first, "lastName": m.last, "email": m.email, "phone": m.phone, "language": m.lang, "city": m.city,
		"roomType": m.room, "dietary": []string{"none", "vegetarian", "gluten-free", "nut allergy"}[i%4],
	}})}
	hotels := []string{"Aurora Shanghai Bund", "Aurora Kyoto Gardens", "Aurora Lisbon Riverside", "Aurora Sanya Bay"}
	stays := 2 + rng.IntN(4)
	for s := 0; s < stays; s++ {
		at := start.Add(time.Duration(s+1) * time.Duration(40+rng.IntN(30)) * 24 * time.Hour)
		hotel := hotels[rng.IntN(len(hotels))]
		nights := 1 + rng.IntN(5)
		rate := 180 + rng.IntN(400)
		out = append(out,
			msg("track", at.Add(-14*24*time.Hour), map[string]any{"event": "Room Booked", "properties": map[string]any{
				"hotel": hotel, "room_type": m.room, "nights": nights, "revenue": float64(rate * nights), "currency": "USD", "booking_id": "AUR-" + strconv.Itoa(100000+rng.IntN(900000)),
				"product_id": itemAt("rooms", hotel, i+s)}}),
			msg("track", at, map[string]any{"event": "Checked In", "properties": map[string]any{"hotel": hotel, "city": hotelCity(hotel)}}),
			msg("track", at.Add(20*time.Hour), map[string]any{"event": "Dining Reservation Made", "properties": map[string]any{
				"restaurant": []string{"Lumen Grill", "Jade Garden", "Harbour Sushi"}[rng.IntN(3)], "covers": 1 + rng.IntN(4), "time": "19:30",
				"product_id": itemAt("dining", hotel, 0)}}),
			msg("track", at.Add(time.Duration(nights)*24*time.Hour), map[string]any{"event": "Stay Completed", "properties": map[string]any{
				"hotel": hotel, "nights": nights, "revenue": float64(rate * nights), "currency": "USD"}}),
		)
		if rng.IntN(2) == 0 {
			out = append(out, msg("track", at.Add(30*time.Hour), map[string]any{"event": "Spa Treatment Booked", "properties": map[string]any{
				"treatment": []string{"Hot stone massage", "Jade facial", "Aromatherapy"}[rng.IntN(3)], "minutes": 60, "revenue": 140.0, "currency": "USD",
				"product_id": itemAt("spa", hotel, 0)}}))
		}
		if rng.IntN(3) == 0 {
			out = append(out, msg("track", at.Add(time.Duration(nights+1)*24*time.Hour), map[string]any{"event": "Review Submitted", "properties": map[string]any{
				"hotel": hotel, "rating": 3 + rng.IntN(3), "text": "Lovely stay; the breakfast was excellent."}}))
		}
		out = append(out, msg("page", at.Add(-15*24*time.Hour), map[string]any{"name": "Offers", "properties": map[string]any{"path": "/offers/spring", "title": "Spring offers"}}))
	}
	out = append(out, msg("track", now.Add(-48*time.Hour), map[string]any{"event": "Room Preference Updated", "properties": map[string]any{"pillow": "buckwheat", "floor": "high"}}))
	return out
}

func hotelCity(h string) string {
	return map[string]string{"Aurora Shanghai Bund": "Shanghai", "Aurora Kyoto Gardens": "Kyoto", "Aurora Lisbon Riverside": "Lisbon", "Aurora Sanya Bay": "Sanya"}[h]
}

// Print writes the keys and links to try.
func (d *Demo) Print(w io.Writer, baseURL, adminToken string) {
	state := fmt.Sprintf("%d members and %d events seeded", d.Members, d.Events)
	if d.Reused {
		state = "existing demo data kept; fresh keys issued"
	}
	fmt.Fprintf(w, `
Symbiont demo: %s (%s)
  API             %s
  Operator token  %s
  Secret key      %s
  Write key       %s
  Wallet          %s
                  (for %s; valid 24 hours)
  Console         %s/console/login
                  (sign in with the secret key above, or the operator token)

Try:
  curl -s -H 'Authorization: Bearer %s' '%s/v1/consumers/guest-0001/data?purpose=personalization'
  curl -s -u '%s:' %s/v1/track -d '{"userId":"guest-0001","event":"Spa Treatment Booked","properties":{"treatment":"Jade facial"}}'
  curl -s -H 'Authorization: Bearer %s' %s/v1/me/export
  curl -s -X DELETE -H 'Authorization: Bearer %s' %s/v1/me/consents/purchases/personalization
  curl -s -H 'Authorization: Bearer %s' %s/v1/me/rewards

Verify what was done with %s's data against the public ledger (%s/ledger/):
  curl -s -H 'Authorization: Bearer %s' %s/v1/me/access-log > guest-0001-ledger.json && go run ./cmd/symbiont verify --ledger %s guest-0001-ledger.json

`, BrandName, state, baseURL, adminToken, d.SecretKey, d.WriteKey, d.WalletURL, d.WalletUser, baseURL,
		d.SecretKey, baseURL, d.WriteKey, baseURL, d.WalletToken, baseURL, d.WalletToken, baseURL, d.WalletToken, baseURL,
		members[0].first, baseURL, d.WalletToken, baseURL, baseURL)
}
