package ingest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store"
)

// stitch applies an identify or alias call to the identity graph in its own transaction:
// linking the anonymous and user ids, merging two consumers that turn out to be one person,
// and linking email, phone and external ids (under the over-merge guard). Only people the
// brand already knows as consumers (they decided on consent, or had a wallet opened for them)
// are stitched; strangers leave no trace. It reports whether the
// call changed or confirmed a link.
func (s *Service) stitch(ctx context.Context, brandID int64, m *segment.Message, now time.Time) (bool, error) {
	var merged []int64
	var into int64
	linked := false
	var holds []func() // a merge changes both consumers' consent: no reload applies meanwhile
	defer func() {
		for _, release := range holds {
			release()
		}
	}()
	err := s.store.Update(ctx, func(tx store.Tx) error {
		merged, into, linked = nil, 0, false
		look := func(kind, value string) (int64, []byte, error) {
			if value == "" {
				return 0, nil, nil
			}
			h, ok := s.graph.HashValue(brandID, kind, value)
			if !ok {
				return 0, nil, nil
			}
			ids, err := tx.LookupIdentifier(ctx, brandID, kind, h)
			if err != nil || len(ids) == 0 {
				return 0, h, err
			}
			return ids[0], h, nil
		}
		var a, b int64 // a merges into b
		var aKind, aValue string
		var aHash []byte
		uid, uHash, err := look(identity.KindUserID, m.UserID)
		if err != nil {
			return err
		}
		switch m.Type {
		case segment.TypeIdentify:
			aKind, aValue = identity.KindAnonymousID, m.AnonymousID
			if a, aHash, err = look(aKind, aValue); err != nil {
				return err
			}
		case segment.TypeAlias:
			// previousId is an earlier userId or an anonymousId.
			aKind, aValue = identity.KindUserID, m.PreviousID
			if a, aHash, err = look(aKind, aValue); err != nil {
				return err
			}
			if a == 0 {
				aKind = identity.KindAnonymousID
				if a, aHash, err = look(aKind, aValue); err != nil {
					return err
				}
			}
		}
		b = uid
		switch {
		case a == 0 && b == 0:
			return nil // nobody we know
		case a != 0 && b != 0 && a != b:
			holds = append(holds, s.consent.Index.Hold(brandID, a), s.consent.Index.Hold(brandID, b))
			if err := s.graph.Merge(ctx, tx, brandID, a, b, now); err != nil {
				return err
			}
			merged, into = []int64{a}, b
		case a != 0 && b == 0 && uHash != nil:
			if _, err := s.graph.Link(ctx, tx, brandID, a, identity.KindUserID, uHash, nil, 0, now); err != nil {
				return err
			}
			b = a
		case a == 0 && b != 0 && aHash != nil:
			if _, err := s.graph.Link(ctx, tx, brandID, b, aKind, aHash, nil, 0, now); err != nil {
				return err
			}
		}
		if b == 0 {
			b = a
		}
		linked = true
		if m.Type == segment.TypeIdentify {
			return s.linkTraits(ctx, tx, brandID, b, m, now)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if len(merged) > 0 {
		// Consent follows the person: rebuild the merged consumer's grants in memory.
		s.graph.Forget()
		for _, id := range merged {
			s.consent.Index.Forget(brandID, id)
		}
		for _, release := range holds {
			release() // before the reload, which waits for them
		}
		if err := s.consent.Refresh(ctx, brandID, into); err != nil {
			return false, err
		}
	}
	return linked, nil
}

// linkTraits links the email, phone and external ids of an identify call. Email and phone are
// contact data: they are linked only while the consumer has an active grant for contact.
func (s *Service) linkTraits(ctx context.Context, tx store.Tx, brandID, cid int64, m *segment.Message, now time.Time) error {
	var traits struct {
		Email string `json:"email"`
		Phone string `json:"phone"`
	}
	if len(m.Traits) > 0 {
		_ = json.Unmarshal(m.Traits, &traits) // non-string values are simply not identifiers
	}
	var ctxIDs struct {
		ExternalIDs []struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			Collection string `json:"collection"`
		} `json:"externalIds"`
	}
	if len(m.Context) > 0 {
		_ = json.Unmarshal(m.Context, &ctxIDs)
	}
	type link struct{ kind, value string }
	var links []link
	if s.consent.Index.AllowedAny(brandID, cid, "contact", now) {
		links = append(links, link{identity.KindEmail, traits.Email}, link{identity.KindPhone, traits.Phone})
	}
	for _, e := range ctxIDs.ExternalIDs {
		if kind := "ext:" + e.Type; identity.ValidKind(kind) {
			links = append(links, link{kind, e.ID})
		}
	}
	for _, l := range links {
		if l.value == "" {
			continue
		}
		n, ok := identity.Normalize(l.kind, l.value)
		if !ok {
			continue
		}
		h := s.graph.Hash(brandID, l.kind, n)
		sealed, err := s.vault.Seal(ctx, brandID, cid, []byte(n), h)
		if err != nil {
			return err
		}
		if _, err := s.graph.Link(ctx, tx, brandID, cid, l.kind, h, sealed, cid, now); err != nil {
			return err
		}
	}
	return nil
}
