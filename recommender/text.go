package recommender

import (
	"fmt"
	"strings"

	"github.com/symbiont/symbiont/recommendation"
)

// The explanations, per locale: keyed by interaction kind ("Because you bought %s") and by
// why kind. A brand may word them as its trade does (Service.Phrases: "booked").
var phrases = map[string]map[string]string{
	"en": {
		recommendation.KindPurchase: "Because you bought %s",
		recommendation.KindCart:     "Because you added %s to your cart",
		recommendation.KindView:     "Because you looked at %s",
		recommendation.KindRating:   "Because you rated %s highly",
		WhyTrending:                 "Popular with members this week",
		WhyPopular:                  "Popular with members",
		WhyDifferent:                "Something different from your usual",
		WhyNew:                      "New in the catalogue",
	},
	"zh-CN": {
		recommendation.KindPurchase: "因为您购买了%s",
		recommendation.KindCart:     "因为您把%s加入了购物车",
		recommendation.KindView:     "因为您浏览过%s",
		recommendation.KindRating:   "因为您给%s打了高分",
		WhyTrending:                 "本周会员热门",
		WhyPopular:                  "会员热门",
		WhyDifferent:                "换换口味：与您平时的选择不同",
		WhyNew:                      "目录新品",
	},
}

// texts returns the phrases of a locale, the brand's own first: zh (any region) reads zh-CN,
// anything else en.
func (s *Service) texts(brandID int64, requested string) map[string]string {
	locale := "en"
	if strings.HasPrefix(strings.ToLower(requested), "zh") {
		locale = "zh-CN"
	}
	if s.Phrases == nil {
		return phrases[locale]
	}
	own := s.Phrases(brandID, locale)
	if len(own) == 0 {
		return phrases[locale]
	}
	out := make(map[string]string, len(phrases[locale]))
	for k, v := range phrases[locale] {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

func sprintf(format, title string) string {
	if !strings.Contains(format, "%s") {
		return format
	}
	return fmt.Sprintf(format, title)
}
