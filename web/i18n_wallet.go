package web

import (
	"errors"
	"strings"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/rewards"
)

// The wallet's sentences that are built from data: statement lines, tiers, identifiers, who
// used the data, and the errors a consumer's own action can meet. Each says its data in the
// page's language, with the brand's labels for categories and purposes, never a raw id.

func init() {
	for lang, m := range map[string]map[string]string{"en": walletEN, "zh-CN": walletZH} {
		for k, v := range m {
			messages[lang][k] = v
		}
	}
}

var walletEN = map[string]string{
	"stmt.bonus":                     "Bonus for sharing %s for %s",
	"stmt.accrual":                   "%d days of sharing %s for %s, at %d points per 30 days",
	"stmt.accrual_one":               "%d day of sharing %s for %s, at %d points per 30 days",
	"stmt.factor":                    ", ×%s for a %d-day grant",
	"stmt.cap":                       " (at most %d points per grant)",
	"stmt.redemption":                "Redeemed: %s",
	"stmt.expiry":                    "%d points earned on %s expired",
	"stmt.other":                     "Points moved",
	"rewards.tier_why.points_12m":    "%s: from %d points earned in the last 12 months",
	"rewards.tier_why.active_grants": "%s: from %d active grants",
	"rewards.next.points_12m":        "Next: %s, from %d points earned in the last 12 months",
	"rewards.next.active_grants":     "Next: %s, from %d active grants",
	"ident.ext":                      "Id in %s",
	"use.feature.other":              "A Symbiont feature (%s)",
	"use.kind.other":                 "Something else was recorded",
	"wallet.err.explicit":            "%s is sensitive data: tick the box to agree explicitly, then share.",
	"wallet.err.separate":            "%s is sensitive data: share it on its own.",
	"wallet.err.gpc":                 "Your browser's Global Privacy Control refuses %s; you can still grant it here yourself.",
	"wallet.err.no_grant":            "You do not share %s for %s, so there is nothing to stop.",
	"wallet.err.unknown_pair":        "This choice is not offered.",
	"wallet.err.insufficient_points": "%s costs %d points; your balance is %d.",
	"wallet.err.out_of_stock":        "%s is out of stock.",
	"wallet.err.inactive":            "%s is not available any more.",
	"wallet.err.limit_reached":       "You have redeemed %s the most times allowed.",
	"wallet.err.already":             "This redemption was already made.",
	"wallet.err.reward_not_found":    "This reward is not in the catalogue.",
	"wallet.err.idempotency":         "This form was already sent. Reload the page and try again.",
}

var walletZH = map[string]string{
	"stmt.bonus":                     "分享%s用于%s的首次授权奖励",
	"stmt.accrual":                   "分享%[2]s用于%[3]s %[1]d 天，每 30 天 %[4]d 积分",
	"stmt.factor":                    "，授权 %[2]d 天 ×%[1]s",
	"stmt.cap":                       "（每次授权最多 %d 积分）",
	"stmt.redemption":                "兑换：%s",
	"stmt.expiry":                    "%[2]s 获得的 %[1]d 积分已过期",
	"stmt.other":                     "积分变动",
	"rewards.tier_why.points_12m":    "%s：过去 12 个月获得 %d 积分起",
	"rewards.tier_why.active_grants": "%s：%d 项有效授权起",
	"rewards.next.points_12m":        "下一级：%s，过去 12 个月获得 %d 积分起",
	"rewards.next.active_grants":     "下一级：%s，%d 项有效授权起",
	"ident.ext":                      "%s 中的 ID",
	"use.feature.other":              "Symbiont 功能（%s）",
	"use.kind.other":                 "记录了其他事项",
	"wallet.err.explicit":            "%s属于敏感个人信息：请先勾选明确同意，再授权。",
	"wallet.err.separate":            "%s属于敏感个人信息：请单独授权。",
	"wallet.err.gpc":                 "您的浏览器发送的全球隐私控制（GPC）信号拒绝了%s；您仍可在此亲自授权。",
	"wallet.err.no_grant":            "您没有授权%s用于%s，无需停止。",
	"wallet.err.unknown_pair":        "没有提供此选项。",
	"wallet.err.insufficient_points": "%s 需要 %d 积分；您的余额为 %d。",
	"wallet.err.out_of_stock":        "%s 已兑完。",
	"wallet.err.inactive":            "%s 已下架。",
	"wallet.err.limit_reached":       "%s 的兑换次数已达上限。",
	"wallet.err.already":             "此次兑换已完成。",
	"wallet.err.reward_not_found":    "目录中没有此奖励。",
	"wallet.err.idempotency":         "此表单已提交过。请刷新页面后重试。",
}

// statementText says a statement line in the page's language. names are the catalogue's
// reward names by id (a line carries the name it was redeemed under; a renamed reward shows
// its name now).
func (p *Page) statementText(l rewards.StatementLine, v symbiont.Vocabulary, names map[string]string) string {
	d := l.Detail
	if d == nil {
		return p.T("stmt.other")
	}
	switch d.Kind {
	case rewards.LineBonus:
		return p.T("stmt.bonus", p.label("cat", d.Category, v), p.label("pur", d.Purpose, v))
	case rewards.LineAccrual:
		s := p.T("stmt.accrual", d.Days, p.label("cat", d.Category, v), p.label("pur", d.Purpose, v), d.PointsPer30)
		if d.Factor != "" {
			s += p.T("stmt.factor", d.Factor, d.GrantDays)
		}
		if d.Cap > 0 {
			s += p.T("stmt.cap", d.Cap)
		}
		return s
	case rewards.LineRedemption:
		name := d.RewardName
		if n, ok := names[d.Reward]; ok && n != "" {
			name = n
		}
		return p.T("stmt.redemption", name)
	case rewards.LineExpiry:
		return p.T("stmt.expiry", -l.Points, d.EarnedOn)
	}
	return p.T("stmt.other")
}

// tierWhy says what the consumer's tier needs; tierNext what the next one does.
func (p *Page) tierWhy(t *rewards.TierView) string {
	if t.Basis == "active_grants" {
		return p.T("rewards.tier_why.active_grants", t.Name, t.Min)
	}
	return p.T("rewards.tier_why.points_12m", t.Name, t.Min)
}

func (p *Page) tierNext(t *rewards.TierView) string {
	if t.Next == nil {
		return ""
	}
	if t.Basis == "active_grants" {
		return p.T("rewards.next.active_grants", t.Next.Name, t.Next.Min)
	}
	return p.T("rewards.next.points_12m", t.Next.Name, t.Next.Min)
}

// IdentKind names a kind of identifier: the brand's own kinds are ext:<system>.
func (p *Page) IdentKind(kind string) string {
	if sys, ok := strings.CutPrefix(kind, "ext:"); ok {
		return p.T("ident.ext", sys)
	}
	return p.TOr("ident."+kind, kind)
}

// feature names a Symbiont feature that used data (actor system:<feature>).
func (p *Page) feature(name string) string {
	if _, ok := messages["en"]["use.feature."+name]; ok {
		return p.T("use.feature." + name)
	}
	return p.T("use.feature.other", name)
}

// walletError puts an error a consumer's own action met (a choice, a redemption) in the
// page's language; the services say them in English for the API. The code, and so the
// status, stay.
func (p *Page) walletError(err error, v symbiont.Vocabulary, category, purpose, reward string) error {
	var e *symbiont.Error
	if !errors.As(err, &e) {
		return err
	}
	cat, pur := p.label("cat", category, v), p.label("pur", purpose, v)
	num := func(k string) int64 {
		switch n := e.Details[k].(type) {
		case int64:
			return n
		case int:
			return int64(n)
		}
		return 0
	}
	msg := ""
	switch reason, _ := e.Details["reason"].(string); {
	case reason == "explicit_consent_required":
		msg = p.T("wallet.err.explicit", cat)
	case reason == "separate_consent_required":
		msg = p.T("wallet.err.separate", cat)
	case reason == "gpc_refusal":
		msg = p.T("wallet.err.gpc", pur)
	case reason == "insufficient_points":
		msg = p.T("wallet.err.insufficient_points", reward, num("cost"), num("balance"))
	case reason == "out_of_stock":
		msg = p.T("wallet.err.out_of_stock", reward)
	case reason == "inactive":
		msg = p.T("wallet.err.inactive", reward)
	case reason == "limit_reached":
		msg = p.T("wallet.err.limit_reached", reward)
	case reason == "idempotency_key_reused" || reason == "duplicate":
		msg = p.T("wallet.err.idempotency")
	case e.Code == symbiont.ENOTFOUND && reward != "":
		msg = p.T("wallet.err.reward_not_found")
	case e.Code == symbiont.ENOTFOUND && category != "":
		msg = p.T("wallet.err.no_grant", cat, pur)
	case e.Code == symbiont.EINVALID && (e.Details["field"] == "category" || e.Details["field"] == "purpose"):
		msg = p.T("wallet.err.unknown_pair")
	case e.Code == symbiont.EINVALID && e.Details["field"] == "idempotency_key":
		msg = p.T("wallet.err.idempotency")
	case e.Code == symbiont.ECONFLICT && reward != "":
		msg = p.T("wallet.err.already")
	default:
		return err
	}
	return &symbiont.Error{Code: e.Code, Message: msg, Details: e.Details, Err: e.Err}
}
