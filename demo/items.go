package demo

import (
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/recommendation"
)

// Items is Aurora's catalogue: rooms, dining, spa and packages across its four hotels, with
// the price breakdown of each priced item (what the guest pays for).
var Items = func() []*catalog.Item {
	type row struct {
		id, title, category, hotel string
		tags                       []string
		attrs                      map[string]string
		price                      int64
		costs                      []catalog.Cost
	}
	split := func(base, tax int64) []catalog.Cost {
		return []catalog.Cost{{Label: "Room or service", Amount: base}, {Label: "Taxes", Amount: tax}}
	}
	rows := []row{
		{"room:shanghai-bund-suite", "Bund View Suite", "rooms", "Aurora Shanghai Bund", []string{"suite", "river-view", "city"}, map[string]string{"view": "river", "beds": "1"}, 98000, split(89000, 9000)},
		{"room:shanghai-deluxe", "Deluxe King Room", "rooms", "Aurora Shanghai Bund", []string{"city"}, map[string]string{"view": "city", "beds": "1"}, 52000, split(47300, 4700)},
		{"room:kyoto-garden", "Garden Ryokan Room", "rooms", "Aurora Kyoto Gardens", []string{"garden", "tatami", "quiet"}, map[string]string{"view": "garden", "beds": "2"}, 68000, split(61800, 6200)},
		{"room:kyoto-onsen-suite", "Private Onsen Suite", "rooms", "Aurora Kyoto Gardens", []string{"suite", "onsen", "quiet"}, map[string]string{"view": "garden", "beds": "1"}, 125000, split(113600, 11400)},
		{"room:lisbon-river", "Tagus River Room", "rooms", "Aurora Lisbon Riverside", []string{"river-view"}, map[string]string{"view": "river", "beds": "2"}, 31000, split(28200, 2800)},
		{"room:lisbon-family", "Family Loft", "rooms", "Aurora Lisbon Riverside", []string{"family", "loft"}, map[string]string{"view": "city", "beds": "3"}, 44000, split(40000, 4000)},
		{"room:sanya-ocean-villa", "Ocean Villa with Pool", "rooms", "Aurora Sanya Bay", []string{"villa", "sea-view", "pool"}, map[string]string{"view": "sea", "beds": "2"}, 156000, split(141800, 14200)},
		{"room:sanya-garden", "Tropical Garden Room", "rooms", "Aurora Sanya Bay", []string{"garden", "family"}, map[string]string{"view": "garden", "beds": "2"}, 39000, split(35500, 3500)},
		{"dining:shanghai-dim-sum", "Dim Sum Brunch", "dining", "Aurora Shanghai Bund", []string{"brunch", "cantonese"}, nil, 38800, nil},
		{"dining:kyoto-kaiseki", "Seasonal Kaiseki Dinner", "dining", "Aurora Kyoto Gardens", []string{"dinner", "japanese", "tasting-menu"}, nil, 28000, nil},
		{"dining:lisbon-seafood", "Riverside Seafood Dinner", "dining", "Aurora Lisbon Riverside", []string{"dinner", "seafood", "vegetarian-option"}, nil, 6500, nil},
		{"dining:sanya-beach-bbq", "Beach Barbecue", "dining", "Aurora Sanya Bay", []string{"dinner", "family", "outdoor"}, nil, 9800, nil},
		{"spa:hot-stone", "Hot Stone Massage", "spa", "Aurora Kyoto Gardens", []string{"massage", "90-min"}, nil, 18000, nil},
		{"spa:tcm-foot", "Traditional Foot Therapy", "spa", "Aurora Shanghai Bund", []string{"massage", "60-min"}, nil, 6800, nil},
		{"spa:ocean-facial", "Ocean Mineral Facial", "spa", "Aurora Sanya Bay", []string{"facial"}, nil, 9500, nil},
		{"spa:yoga-sunrise", "Sunrise Yoga", "spa", "Aurora Lisbon Riverside", []string{"yoga", "morning", "group"}, nil, 2500, nil},
		{"package:kyoto-autumn", "Autumn Leaves Weekend", "packages", "Aurora Kyoto Gardens", []string{"weekend", "culture", "dinner-included"}, map[string]string{"nights": "2"}, 198000,
			[]catalog.Cost{{Label: "Two nights, Garden Ryokan Room", Amount: 123600}, {Label: "Kaiseki dinner for two", Amount: 56000}, {Label: "Taxes", Amount: 18400}}},
		{"package:sanya-family", "Family Beach Week", "packages", "Aurora Sanya Bay", []string{"family", "week", "kids-club"}, map[string]string{"nights": "7"}, 298000,
			[]catalog.Cost{{Label: "Seven nights, Tropical Garden Room", Amount: 248500}, {Label: "Kids club", Amount: 22400}, {Label: "Taxes", Amount: 27100}}},
		{"package:lisbon-city-break", "Lisbon City Break", "packages", "Aurora Lisbon Riverside", []string{"weekend", "city", "breakfast-included"}, map[string]string{"nights": "3"}, 99000,
			[]catalog.Cost{{Label: "Three nights, Tagus River Room", Amount: 84600}, {Label: "Breakfast", Amount: 5400}, {Label: "Taxes", Amount: 9000}}},
		{"package:shanghai-spa-retreat", "Bund Spa Retreat", "packages", "Aurora Shanghai Bund", []string{"spa", "weekend", "couples"}, map[string]string{"nights": "2"}, 142000,
			[]catalog.Cost{{Label: "Two nights, Deluxe King Room", Amount: 94600}, {Label: "Two spa treatments", Amount: 34000}, {Label: "Taxes", Amount: 13400}}},
	}
	items := make([]*catalog.Item, len(rows))
	for i, r := range rows {
		attrs := map[string]string{"hotel": r.hotel, "city": hotelCity(r.hotel)}
		for k, v := range r.attrs {
			attrs[k] = v
		}
		currency := map[string]string{"Shanghai": "CNY", "Kyoto": "JPY", "Lisbon": "EUR", "Sanya": "CNY"}[hotelCity(r.hotel)]
		items[i] = &catalog.Item{ID: r.id, Title: r.title, Category: r.category, Tags: r.tags, Attributes: attrs, Locale: "en",
			Price: &catalog.Price{Amount: r.price, Currency: currency}, Costs: r.costs}
	}
	return items
}()

// EventKinds maps Aurora's events to the interactions recommendations learn from: each
// booking names its catalogue item (properties.product_id).
var EventKinds = recommendation.EventKinds{
	"Room Booked":             recommendation.KindPurchase,
	"Dining Reservation Made": recommendation.KindPurchase,
	"Spa Treatment Booked":    recommendation.KindPurchase,
}

// Phrases word Aurora's explanations as a hotel does: guests book.
var Phrases = map[string]map[string]string{
	"en":    {recommendation.KindPurchase: "Because you booked %s"},
	"zh-CN": {recommendation.KindPurchase: "因为您预订了%s"},
}

// itemAt is the n-th (modulo) catalogue item of a category at a hotel; a hotel without one
// gets the category's first.
func itemAt(category, hotel string, n int) string {
	var at, all []string
	for _, it := range Items {
		if it.Category != category {
			continue
		}
		all = append(all, it.ID)
		if it.Attributes["hotel"] == hotel {
			at = append(at, it.ID)
		}
	}
	if len(at) == 0 {
		at = all
	}
	return at[n%len(at)]
}
