package web

import (
	"fmt"

	"github.com/symbiont/symbiont"
)

// Messages in English and Simplified Chinese. A key missing in Chinese falls back to English;
// a key missing in both shows the key (a test checks that none is missing).
var messages = map[string]map[string]string{
	"en": {
		"app.name":                    "Symbiont",
		"app.wallet":                  "Data wallet",
		"app.console":                 "Console",
		"app.skip":                    "Skip to content",
		"app.language":                "Language",
		"nav.share":                   "What I share",
		"nav.data":                    "My data",
		"nav.activity":                "Who used my data",
		"nav.for_you":                 "For you",
		"nav.rewards":                 "My rewards",
		"error.title":                 "Something went wrong",
		"error.internal":              "Something went wrong on our side. Nothing was changed; please try again.",
		"error.back":                  "Back",
		"wallet.no_session":           "Open your wallet from the link your brand gave you (your account page, or an email). Wallet links are valid for up to 24 hours.",
		"wallet.bad_link":             "This wallet link is not valid. Ask for a new one from your account page.",
		"wallet.expired":              "This wallet link has expired or was revoked. Ask for a new one from your account page.",
		"wallet.intro":                "You decide what %s may use, and for what. Each choice below is yours to change at any time: withdrawing is as easy as granting and takes effect at once.",
		"wallet.fairness":             "Sharing is optional: refusing or withdrawing never limits the service you get, and withdrawing never takes back points already earned.",
		"wallet.gpc":                  "Your browser sends Global Privacy Control: we treat it as a refusal of marketing and partner sharing unless you grant them here yourself.",
		"share.active_count":          "You share %d of these.",
		"share.what":                  "What is collected",
		"share.use":                   "What it is used for",
		"share.collected":             "Recorded from",
		"share.pages_viewed":          "pages and screens viewed",
		"share.earns":                 "What it earns",
		"share.earn_rate":             "%d points per 30 days",
		"share.earn_bonus":            "+ %d points bonus on the first grant",
		"share.earn_year":             "%d points in the first year (worth %s %s)",
		"share.multiplier":            "×%s for grants of %d days or more",
		"share.cap":                   "at most %d points per grant",
		"share.estimate":              "We estimate this data is worth %s %s a year to us.",
		"share.method":                "How we estimate:",
		"share.no_reward":             "No points for this one.",
		"share.state.on":              "Shared",
		"share.state.off":             "Not shared",
		"share.state.withdrawn":       "Withdrawn",
		"share.state.expired":         "Expired",
		"share.state.refused":         "Refused",
		"share.since":                 "since %s",
		"share.until":                 "until %s",
		"share.grant":                 "Share",
		"share.withdraw":              "Stop sharing",
		"share.duration":              "For how long",
		"share.days":                  "%d days",
		"share.sensitive":             "Sensitive data: asked for separately, and only used with your explicit consent.",
		"share.explicit":              "I explicitly agree to this use of sensitive data.",
		"share.receipt":               "Signed receipt",
		"share.receipt_help":          "This receipt is signed by %s. Anyone can check it against the brand's published key.",
		"share.notice":                "%s for %s. What is collected: %s What it is used for: %s",
		"share.bad_duration":          "Choose how long to share: between 1 and 3650 days.",
		"share.unknown_pair":          "This choice is not offered.",
		"share.bad_action":            "Choose to share or to stop sharing.",
		"flash.granted":               "Done: you now share this. Your signed receipt is below.",
		"flash.withdrawn":             "Done: you no longer share this. It stopped with this request.",
		"flash.redeemed":              "Redeemed. Your code is below.",
		"flash.erased":                "Your data was erased.",
		"data.intro":                  "Everything %s holds about you, by category. Looking at it here is recorded in your access history, like every use.",
		"data.total":                  "%d records",
		"data.total_one":              "%d record",
		"data.none":                   "Nothing is held about you.",
		"data.identifiers":            "Identifiers linked to you",
		"data.export":                 "Download everything (JSON)",
		"data.export_help":            "A complete, machine-readable copy of your data, your consent history and receipts (GDPR Art. 20, PIPL Art. 45).",
		"data.erase":                  "Erase everything…",
		"data.show":                   "Show details",
		"erase.title":                 "Erase everything?",
		"erase.explain":               "This destroys the key that encrypts your data and deletes it. Nothing readable remains, not even in backups. It cannot be undone.",
		"erase.points":                "Your %d points and your rewards membership end with it.",
		"erase.ledger":                "The public ledger keeps only unreadable commitments; its record that an erasure happened stays, so you can prove it.",
		"erase.confirm":               "Erase everything",
		"erase.cancel":                "Cancel",
		"erase.unconfirmed":           "Nothing was erased: confirm by ticking the box.",
		"erase.done_title":            "Your data was erased",
		"erase.done":                  "Your data was erased and this wallet session has ended. You can close this page.",
		"activity.intro":              "Every use of your data and every consent decision is recorded in a public, append-only ledger. Each line below is checked against the ledger's signed checkpoint.",
		"activity.summary":            "%d of these records verified against checkpoint %d of %s.",
		"activity.verified":           "Verified",
		"activity.pending":            "Being added to the ledger",
		"activity.failed":             "Failed verification",
		"activity.download":           "Download the proof bundle",
		"activity.verify_help":        "Check it yourself, offline, with:",
		"activity.none":               "Nothing recorded yet.",
		"activity.entry":              "entry %d",
		"use.read":                    "%s used your %s for %s",
		"use.train":                   "Your %s trained the model %[3]s of %[2]s (%[4]s)",
		"use.export":                  "%s downloaded a copy of your data",
		"use.erase":                   "%s erased your data",
		"use.consent.given":           "You shared %s for %s (recorded by %s)",
		"use.consent.withdrawn":       "You stopped sharing %s for %s (recorded by %s)",
		"use.consent.expired":         "Your consent to %s for %s expired",
		"use.consent.refused":         "You refused %s for %s (recorded by %s)",
		"use.rewards.accrual":         "%d points credited for what you share",
		"use.rewards.redemption":      "%d points redeemed",
		"use.rewards.expiry":          "%d points expired",
		"use.nothing":                 "nothing",
		"use.and":                     ", ",
		"use.brand":                   "The brand",
		"use.brand_by":                "the brand",
		"use.export_self":             "You looked at or downloaded your data",
		"rewards.reward":              "Reward",
		"rewards.code":                "Code",
		"ident.user_id":               "Account id",
		"ident.anonymous_id":          "Device or browser id",
		"ident.email":                 "Email",
		"ident.phone":                 "Phone",
		"ident.hashed":                "stored only as a keyed hash",
		"ident.since":                 "linked %s",
		"use.you":                     "You",
		"use.feature.recommendations": "Recommendations",
		"use.feature.analytics":       "Analytics",
		"use.feature.content":         "Content personalisation",
		"use.feature.expiry":          "Symbiont",
		"rewards.balance":             "Balance",
		"rewards.points":              "%d points",
		"rewards.tier":                "Tier",
		"rewards.no_tier":             "Not yet",
		"rewards.benefits":            "Benefits:",
		"rewards.statement":           "Statement",
		"rewards.when":                "When",
		"rewards.why":                 "Why",
		"rewards.pts":                 "Points",
		"rewards.none":                "No points yet. Sharing earns points under the rate card shown on each card.",
		"rewards.catalog":             "Rewards",
		"rewards.cost":                "%d points",
		"rewards.stock":               "%d left",
		"rewards.redeem":              "Redeem",
		"rewards.short":               "%d more points needed",
		"rewards.your_code":           "Your code for %s",
		"rewards.redemptions":         "Your redemptions",
		"rewards.kind.coupon":         "Coupon",
		"rewards.kind.upgrade":        "Upgrade",
		"rewards.kind.experience":     "Experience",
		"rewards.kind.donation":       "Donation",
	},
	"zh-CN": {
		"app.name":                    "Symbiont",
		"app.wallet":                  "数据钱包",
		"app.console":                 "控制台",
		"app.skip":                    "跳到正文",
		"app.language":                "语言",
		"nav.share":                   "我的授权",
		"nav.data":                    "我的数据",
		"nav.activity":                "谁使用了我的数据",
		"nav.for_you":                 "为您推荐",
		"nav.rewards":                 "我的奖励",
		"error.title":                 "出错了",
		"error.internal":              "我们这边出了问题。没有做任何更改，请重试。",
		"error.back":                  "返回",
		"wallet.no_session":           "请通过品牌提供的链接（账户页面或邮件）打开数据钱包。钱包链接最长有效 24 小时。",
		"wallet.bad_link":             "此钱包链接无效。请在账户页面重新获取。",
		"wallet.expired":              "此钱包链接已过期或已被撤销。请在账户页面重新获取。",
		"wallet.intro":                "由您决定 %s 可以使用哪些数据、用于什么目的。以下每项选择都可随时更改：撤回与授权一样简单，并立即生效。",
		"wallet.fairness":             "分享完全自愿：拒绝或撤回不会影响您获得的服务，撤回也不会收回已获得的积分。",
		"wallet.gpc":                  "您的浏览器发送了全球隐私控制（GPC）信号：除非您在此亲自授权，否则我们视为拒绝营销和向合作方共享。",
		"share.active_count":          "您已授权其中 %d 项。",
		"share.what":                  "收集哪些数据",
		"share.use":                   "用于什么目的",
		"share.collected":             "数据来源",
		"share.pages_viewed":          "浏览的页面和屏幕",
		"share.earns":                 "可获得的奖励",
		"share.earn_rate":             "每 30 天 %d 积分",
		"share.earn_bonus":            "首次授权额外奖励 %d 积分",
		"share.earn_year":             "第一年共 %d 积分（价值 %s %s）",
		"share.multiplier":            "授权 %[2]d 天及以上 ×%[1]s",
		"share.cap":                   "每次授权最多 %d 积分",
		"share.estimate":              "我们估计这些数据每年对我们的价值为 %s %s。",
		"share.method":                "估算方法：",
		"share.no_reward":             "此项没有积分。",
		"share.state.on":              "已授权",
		"share.state.off":             "未授权",
		"share.state.withdrawn":       "已撤回",
		"share.state.expired":         "已过期",
		"share.state.refused":         "已拒绝",
		"share.since":                 "自 %s 起",
		"share.until":                 "至 %s",
		"share.grant":                 "授权",
		"share.withdraw":              "停止授权",
		"share.duration":              "授权期限",
		"share.days":                  "%d 天",
		"share.sensitive":             "敏感个人信息：单独征求同意，仅在您明确同意后使用。",
		"share.explicit":              "我明确同意以上述方式使用敏感个人信息。",
		"share.receipt":               "签名回执",
		"share.receipt_help":          "此回执由 %s 签名。任何人都可以用品牌公布的公钥验证。",
		"share.notice":                "%s，用于%s。收集哪些数据：%s 用于什么目的：%s",
		"share.bad_duration":          "请选择授权期限：1 到 3650 天。",
		"share.unknown_pair":          "没有提供此选项。",
		"share.bad_action":            "请选择授权或停止授权。",
		"flash.granted":               "已完成：您已授权此项。签名回执见下方。",
		"flash.withdrawn":             "已完成：您已停止授权此项，本次请求起即生效。",
		"flash.redeemed":              "兑换成功。您的兑换码见下方。",
		"flash.erased":                "您的数据已删除。",
		"data.intro":                  "%s 持有的关于您的全部数据，按类别列出。在此查看也会像每次使用一样记入访问记录。",
		"data.total":                  "%d 条记录",
		"data.none":                   "没有持有关于您的任何数据。",
		"data.identifiers":            "与您关联的标识",
		"data.export":                 "下载全部数据（JSON）",
		"data.export_help":            "您的数据、授权历史和回执的完整机器可读副本（GDPR 第 20 条，《个人信息保护法》第 45 条）。",
		"data.erase":                  "删除全部数据…",
		"data.show":                   "显示详情",
		"erase.title":                 "删除全部数据？",
		"erase.explain":               "这会销毁加密您数据的密钥并删除数据。不会留下任何可读内容，备份中也没有。此操作无法撤销。",
		"erase.points":                "您的 %d 积分和会员资格也将随之结束。",
		"erase.ledger":                "公开账本只保存不可读的承诺值；删除操作本身的记录会保留，以便您证明删除已发生。",
		"erase.confirm":               "删除全部数据",
		"erase.cancel":                "取消",
		"erase.unconfirmed":           "未删除任何数据：请勾选确认。",
		"erase.done_title":            "您的数据已删除",
		"erase.done":                  "您的数据已删除，本次钱包会话已结束。您可以关闭此页面。",
		"activity.intro":              "每次使用您的数据、每次授权决定都记录在一个公开、只可追加的账本中。下面每一行都已根据账本的签名检查点进行核验。",
		"activity.summary":            "其中 %d 条记录已根据 %[3]s 的第 %[2]d 号检查点核验。",
		"activity.verified":           "已核验",
		"activity.pending":            "正在写入账本",
		"activity.failed":             "核验失败",
		"activity.download":           "下载证明包",
		"activity.verify_help":        "您可以离线自行核验：",
		"activity.none":               "暂无记录。",
		"activity.entry":              "第 %d 条",
		"use.read":                    "%s 为「%[3]s」使用了您的%[2]s",
		"use.train":                   "您的%[1]s训练了%[2]s的模型 %[3]s（%[4]s）",
		"use.export":                  "%s 下载了您的数据副本",
		"use.erase":                   "%s 删除了您的数据",
		"use.consent.given":           "您授权了%s用于%s（由%s记录）",
		"use.consent.withdrawn":       "您停止授权%s用于%s（由%s记录）",
		"use.consent.expired":         "您对%s用于%s的授权已到期",
		"use.consent.refused":         "您拒绝了%s用于%s（由%s记录）",
		"use.rewards.accrual":         "因您分享的数据获得 %d 积分",
		"use.rewards.redemption":      "兑换使用 %d 积分",
		"use.rewards.expiry":          "%d 积分已过期",
		"use.nothing":                 "无",
		"use.and":                     "、",
		"use.brand":                   "品牌",
		"use.brand_by":                "品牌",
		"use.export_self":             "您查看或下载了您的数据",
		"rewards.reward":              "奖励",
		"rewards.code":                "兑换码",
		"ident.user_id":               "账户 ID",
		"ident.anonymous_id":          "设备或浏览器 ID",
		"ident.email":                 "电子邮箱",
		"ident.phone":                 "电话",
		"ident.hashed":                "仅以带密钥的哈希值保存",
		"ident.since":                 "关联于 %s",
		"use.you":                     "您",
		"use.feature.recommendations": "推荐功能",
		"use.feature.analytics":       "分析功能",
		"use.feature.content":         "内容个性化",
		"use.feature.expiry":          "Symbiont",
		"rewards.balance":             "余额",
		"rewards.points":              "%d 积分",
		"rewards.tier":                "会员等级",
		"rewards.no_tier":             "尚未达到",
		"rewards.benefits":            "权益：",
		"rewards.statement":           "积分明细",
		"rewards.when":                "时间",
		"rewards.why":                 "原因",
		"rewards.pts":                 "积分",
		"rewards.none":                "暂无积分。按各授权卡片上的积分规则分享即可获得积分。",
		"rewards.catalog":             "可兑换奖励",
		"rewards.cost":                "%d 积分",
		"rewards.stock":               "剩余 %d",
		"rewards.redeem":              "兑换",
		"rewards.short":               "还差 %d 积分",
		"rewards.your_code":           "%s 的兑换码",
		"rewards.redemptions":         "我的兑换",
		"rewards.kind.coupon":         "优惠券",
		"rewards.kind.upgrade":        "升级",
		"rewards.kind.experience":     "体验",
		"rewards.kind.donation":       "捐赠",
		// The default vocabulary.
		"cat.profile": "个人资料", "cat.contact": "联系方式", "cat.browsing": "浏览记录", "cat.purchases": "购买记录",
		"cat.location": "大致位置", "cat.preferences": "偏好", "cat.feedback": "反馈", "cat.device": "设备信息",
		"cat.health": "健康信息", "cat.precise_location": "精确位置", "cat.biometrics": "生物识别信息", "cat.minors": "未成年人信息",
		"catd.profile": "姓名、生日、语言等关于您的信息。", "catd.contact": "电子邮箱、电话号码、邮寄地址。",
		"catd.browsing": "您在品牌网站和应用中浏览的页面。", "catd.purchases": "您购买和预订的内容及消费金额。",
		"catd.location": "城市或地区，例如您入住的酒店所在地。", "catd.preferences": "您的喜好：房型、餐饮、入住时间。",
		"catd.feedback": "您给出的评分、评价和问卷答案。", "catd.device": "设备类型、操作系统、应用版本。",
		"catd.health": "过敏、饮食需求、无障碍需求。", "catd.precise_location": "精确位置，例如应用获取的 GPS 坐标。",
		"catd.biometrics": "用于识别您的面部、指纹或声音。", "catd.minors": "未达到数字同意年龄的儿童的数据。",
		"pur.service": "提供服务", "pur.personalization": "个性化", "pur.analytics": "统计分析", "pur.marketing": "营销",
		"pur.product_research": "产品研究", "pur.model_training": "模型训练", "pur.partner_sharing": "与合作方共享",
		"purd.service": "提供您所要求的服务：预订、订单、账户。", "purd.personalization": "为您定制优惠、内容和推荐。",
		"purd.analytics": "以汇总方式了解服务的使用情况。", "purd.marketing": "向您发送优惠和资讯。",
		"purd.product_research": "改进和开发产品与服务。", "purd.model_training": "训练品牌的人工智能模型。",
		"purd.partner_sharing": "与品牌的合作伙伴共享，用于其自身目的。",
	},
}

// translate looks a message up in lang (falling back to English) and formats it. A message
// whose first argument is the number 1 uses the key's "_one" form when there is one.
func translate(lang, key string, args ...any) string {
	if len(args) > 0 && (args[0] == 1 || args[0] == int64(1)) {
		if _, ok := messages[lang][key+"_one"]; ok {
			key += "_one"
		}
	}
	m, ok := messages[lang][key]
	if !ok {
		if m, ok = messages["en"][key]; !ok {
			m = key
		}
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// TOr is T with a fallback for keys that may have no message (e.g. a brand's own kinds).
func (p *Page) TOr(key, fallback string) string {
	if _, ok := messages["en"][key]; !ok {
		return fallback
	}
	return p.T(key)
}

// label is a category's or purpose's name in the page's language: the translation of a default
// term, else the brand's own label, else its name.
func (p *Page) label(kind, name string, v symbiont.Vocabulary) string {
	if m, ok := messages[p.lang][kind+"."+name]; ok {
		return m
	}
	if kind == "cat" {
		if c, ok := v.Category(name); ok && c.Label != "" {
			return c.Label
		}
	} else if d, ok := v.Purpose(name); ok && d.Label != "" {
		return d.Label
	}
	return name
}

// describe is a category's or purpose's plain-language description.
func (p *Page) describe(kind, name string, v symbiont.Vocabulary) string {
	if m, ok := messages[p.lang][kind+"d."+name]; ok {
		return m
	}
	if kind == "cat" {
		if c, ok := v.Category(name); ok {
			return c.Description
		}
	} else if d, ok := v.Purpose(name); ok {
		return d.Description
	}
	return ""
}
