package web

// The messages of the page that asks before a wallet link replaces the browser's wallet
// session (wallet_switch.html), added to messages at start.
func init() {
	for lang, m := range map[string]map[string]string{"en": switchEN, "zh-CN": switchZH} {
		for k, v := range m {
			messages[lang][k] = v
		}
	}
}

var switchEN = map[string]string{
	"switch.title":        "Open another wallet?",
	"switch.explain":      "This browser is signed in to your wallet with %s. The link you followed opens a wallet with %s.",
	"switch.explain_same": "This browser is signed in to a wallet with %s. The link you followed opens a different person's wallet with the same brand.",
	"switch.warning":      "Only continue if you asked for this link yourself. A link someone else sent you may open their wallet, so that what you choose there would be recorded as theirs.",
	"switch.keep":         "Stay in my wallet with %s",
	"switch.switch":       "Open the wallet with %s",
}

var switchZH = map[string]string{
	"switch.title":        "打开另一个钱包？",
	"switch.explain":      "此浏览器已登录您在 %s 的数据钱包。您打开的链接会进入 %s 的钱包。",
	"switch.explain_same": "此浏览器已登录 %s 的一个数据钱包。您打开的链接会进入同一品牌下另一个人的钱包。",
	"switch.warning":      "只有在链接是您本人申请的情况下才继续。别人发给您的链接可能会打开他们的钱包，您在其中做出的选择会被记录为他们的选择。",
	"switch.keep":         "留在我在 %s 的钱包",
	"switch.switch":       "打开 %s 的钱包",
}
