package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/tenant"
)

// The console's catalogue: the brand's items (what recommendations rank), listed a page at a
// time, one added or updated through a form, one deleted (softly) with a button — all through
// catalog.Service, as PUT /v1/items does.

// catalogPage is how many items one page lists.
const catalogPage = 50

// ItemRow is an item as the catalogue lists it.
type ItemRow struct {
	*catalog.Item
	Price     string // "980.00 CNY", or "" without a price
	Available bool
}

// ItemForm is the add or update form: an item's fields as typed.
type ItemForm struct {
	ID, Title, Category, Amount, Currency string
	Available                             bool
	Editing                               bool   // the id names an item already there
	Field                                 string // the field in error
}

// minorDigits is how many digits a currency's minor unit has (ISO 4217), 2 unless listed.
var minorDigits = map[string]int{"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XAF": 0, "XOF": 0, "PYG": 0,
	"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "IQD": 3, "LYD": 3}

func digits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

// formatAmount writes minor units as the currency's major units ("980.00").
func formatAmount(amount int64, currency string) string {
	d := digits(currency)
	if d == 0 {
		return strconv.FormatInt(amount, 10)
	}
	return strconv.FormatFloat(float64(amount)/math.Pow10(d), 'f', d, 64)
}

// parseAmount reads major units ("980", "980.5", "980.50") as minor units of the currency.
func parseAmount(s, currency string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	whole, frac, _ := strings.Cut(s, ".")
	d := digits(currency)
	if whole == "" || len(frac) > d || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, false
	}
	frac += strings.Repeat("0", d-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n < 0 || n > catalog.MaxAmount {
		return 0, false
	}
	return n, true
}

func (s *Server) catalogPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeCatalog); err != nil {
		return err
	}
	form := ItemForm{Available: true}
	if id := r.URL.Query().Get("edit"); id != "" {
		it, err := s.Catalog.Get(r.Context(), cs.brand.ID, id)
		if err != nil {
			return err
		}
		form = ItemForm{ID: it.ID, Title: it.Title, Category: it.Category, Available: it.IsAvailable(), Editing: true}
		if it.Price != nil {
			form.Amount, form.Currency = formatAmount(it.Price.Amount, it.Price.Currency), it.Price.Currency
		}
	}
	return s.renderCatalog(w, r, cs, p, form, 0)
}

func (s *Server) renderCatalog(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page, form ItemForm, status int) error {
	p.Title = p.T("console.nav.catalog")
	after := r.URL.Query().Get("after")
	items, next, err := s.Catalog.List(r.Context(), cs.brand.ID, after, catalogPage)
	if err != nil {
		return err
	}
	rows := make([]ItemRow, len(items))
	for i, it := range items {
		rows[i] = ItemRow{Item: it, Available: it.IsAvailable()}
		if it.Price != nil {
			rows[i].Price = formatAmount(it.Price.Amount, it.Price.Currency) + " " + it.Price.Currency
		}
	}
	p.Status = status
	p.Data = map[string]any{"Items": rows, "Next": next, "After": after, "Form": form}
	s.render(w, "console_catalog", p)
	return nil
}

// saveItem adds an item or updates one. An update keeps what the form does not show (tags,
// attributes, locale, the price breakdown), so the form never erases them.
func (s *Server) saveItem(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeCatalog); err != nil {
		return err
	}
	f := r.PostForm
	form := ItemForm{ID: strings.TrimSpace(f.Get("id")), Title: strings.TrimSpace(f.Get("title")), Category: strings.TrimSpace(f.Get("category")),
		Amount: strings.TrimSpace(f.Get("amount")), Currency: strings.ToUpper(strings.TrimSpace(f.Get("currency"))), Available: f.Get("available") == "yes",
		Editing: f.Get("editing") == "yes"}
	fail := func(field, msg string) error {
		form.Field, p.Error = field, msg
		return s.renderCatalog(w, r, cs, p, form, http.StatusBadRequest)
	}
	it := &catalog.Item{}
	if form.ID != "" {
		old, err := s.Catalog.Get(r.Context(), cs.brand.ID, form.ID)
		switch {
		case err == nil:
			*it = *old
			it.Version, it.UpdatedAt, it.DeletedAt = 0, old.UpdatedAt, nil
		case symbiont.ErrorCode(err) != symbiont.ENOTFOUND:
			return err
		}
	}
	it.ID, it.Title, it.Category = form.ID, form.Title, form.Category
	available := form.Available
	it.Available = &available
	switch {
	case form.Amount == "" && form.Currency == "":
		it.Price = nil
	case form.Amount == "":
		return fail("amount", p.T("console.catalog.err.amount"))
	case len(form.Currency) != 3:
		return fail("currency", p.T("console.catalog.err.currency"))
	default:
		n, ok := parseAmount(form.Amount, form.Currency)
		if !ok {
			return fail("amount", p.T("console.catalog.err.amount"))
		}
		it.Price = &catalog.Price{Amount: n, Currency: form.Currency}
	}
	if _, err := s.Catalog.Put(r.Context(), cs.brand.ID, it); err != nil {
		var e *symbiont.Error
		if st, ok := formError(err); ok && errors.As(err, &e) {
			field, _ := e.Details["field"].(string)
			switch field {
			case "price.amount":
				field = "amount"
			case "price.currency":
				field = "currency"
			}
			msg := symbiont.ErrorMessage(err)
			if _, ok := messages["en"]["console.catalog.err."+field]; ok && field != "" {
				msg = p.T("console.catalog.err." + field)
			}
			form.Field, p.Error = field, msg
			return s.renderCatalog(w, r, cs, p, form, st)
		}
		return err
	}
	redirect(w, r, "/console/catalog", "item_saved")
	return nil
}

// deleteItem deletes an item softly: no longer listed or recommended; saving it again brings
// it back.
func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeCatalog); err != nil {
		return err
	}
	if err := s.Catalog.Delete(r.Context(), cs.brand.ID, r.PostForm.Get("id")); err != nil {
		return err
	}
	redirect(w, r, "/console/catalog", "item_deleted")
	return nil
}
