package segment

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Size limits.
const (
	MaxMessageBytes = 32 << 10  // 32 KB per message, as Segment
	MaxBatchBytes   = 500 << 10 // 500 KB per batch request, as Segment
	// MaxBatchMessages caps the messages of one batch. Segment documents no count limit; the
	// SDKs send 10 (analytics.js) to 100 (server libraries) at a time, and 500 KB of the
	// smallest valid messages would be over ten thousand, so this bounds per-request work.
	MaxBatchMessages = 2500
)

// Message types.
const (
	TypeTrack    = "track"
	TypeIdentify = "identify"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeAlias    = "alias"
	TypeGroup    = "group"
)

// Limits on interpreted strings, in bytes.
const (
	maxIDBytes   = 255
	maxNameBytes = 200 // event and page/screen name
	maxDepth     = 64  // nesting of a message, counting the message object itself
)

// Message is one validated Segment call.
//
// The json.RawMessage fields are sub-slices of Raw: do not modify them.
type Message struct {
	Type        string
	MessageID   string // as sent; "" if the client sent none (caller decides)
	UserID      string
	AnonymousID string
	PreviousID  string          // alias
	GroupID     string          // group
	Event       string          // track
	Name        string          // page/screen name
	Properties  json.RawMessage // nil when absent
	// Traits are the top-level traits (identify/group); context.traits is not copied here.
	Traits json.RawMessage
	// Context is the message's own context, or else the batch-level one.
	Context json.RawMessage
	// Integrations is the message's own integrations object, or else the batch-level one.
	Integrations      json.RawMessage
	Timestamp         time.Time // zero when absent
	SentAt            time.Time // the message's, or else the batch's; zero when neither
	OriginalTimestamp time.Time // zero when absent (the mobile SDKs send it)
	// WriteKey is the message's own "writeKey" (analytics.js sends one in every message);
	// it is removed from Raw.
	WriteKey string
	// On a rejected message only Type (when it was valid), MessageID (when readable) and Err
	// are set.
	// Raw is the message's JSON exactly as it should be stored: the object as the client sent
	// it, with batch-level context/integrations merged in only when the message lacked its own,
	// with a "type" field added for single-call endpoints (where the type comes from the path),
	// and without "writeKey". It is never re-encoded. nil when Err is set.
	//
	// The Raws of one batch share one backing array (each capped at its own length, so an
	// append to one cannot clobber another): holding one keeps the batch's memory alive.
	Raw []byte
	// Err is non-nil when this one message is invalid; the rest of the batch still counts.
	Err *MessageError
	// Consent holds the consent signals the message carries (see Consent); nil when it
	// carries none.
	Consent *Consent
}

// MessageError says why one message was rejected.
type MessageError struct {
	// Reason is a short machine code: not_an_object, too_large, too_deep, invalid_utf8,
	// invalid_type, invalid_field, missing_id, missing_event, invalid_timestamp.
	Reason string
	Detail string // for humans
}

func (e *MessageError) Error() string { return "segment: " + e.Reason + ": " + e.Detail }

// Batch is a parsed request body.
type Batch struct {
	Messages []Message
	WriteKey string    // from the body's "writeKey", if any
	SentAt   time.Time // the batch-level "sentAt"; zero for single calls or when absent
}

// BatchError rejects a whole request.
type BatchError struct {
	// Reason is a short machine code: invalid_json, too_large, not_a_batch, not_an_object
	// (single calls), too_many_messages, invalid_type (unknown single-call type),
	// invalid_field, invalid_utf8, invalid_timestamp (batch-level fields).
	Reason string
	Detail string // for humans
}

func (e *BatchError) Error() string { return "segment: " + e.Reason + ": " + e.Detail }

// Indexes of the message fields we interpret.
const (
	fType = iota
	fMessageID
	fUserID
	fAnonymousID
	fPreviousID
	fGroupID
	fEvent
	fName
	fProperties
	fTraits
	fContext
	fIntegrations
	fTimestamp
	fSentAt
	fOriginalTimestamp
	fWriteKey
	fGDPRConsent
	nFields
)

var fieldNames = [nFields]string{
	"type", "messageId", "userId", "anonymousId", "previousId", "groupId", "event", "name",
	"properties", "traits", "context", "integrations", "timestamp", "sentAt", "originalTimestamp",
	"writeKey", "gdpr_consent",
}

// messageField returns the index of an interpreted message key, or -1.
func messageField(key []byte) int {
	switch string(key) {
	case "type":
		return fType
	case "messageId":
		return fMessageID
	case "userId":
		return fUserID
	case "anonymousId":
		return fAnonymousID
	case "previousId":
		return fPreviousID
	case "groupId":
		return fGroupID
	case "event":
		return fEvent
	case "name":
		return fName
	case "properties":
		return fProperties
	case "traits":
		return fTraits
	case "context":
		return fContext
	case "integrations":
		return fIntegrations
	case "timestamp":
		return fTimestamp
	case "sentAt":
		return fSentAt
	case "originalTimestamp":
		return fOriginalTimestamp
	case "writeKey":
		return fWriteKey
	case "gdpr_consent":
		return fGDPRConsent
	}
	return -1
}

// Indexes of the batch-level fields we interpret.
const (
	bBatch = iota
	bContext
	bIntegrations
	bWriteKey
	bSentAt
	nBatchFields
)

func batchField(key []byte) int {
	switch string(key) {
	case "batch":
		return bBatch
	case "context":
		return bContext
	case "integrations":
		return bIntegrations
	case "writeKey":
		return bWriteKey
	case "sentAt":
		return bSentAt
	}
	return -1
}

// field is where a value lies in the body. int32 keeps rawMsg small: bodies are ≤ 500 KB.
type field struct {
	start, end int32 // the value's span; strings include their quotes
	kind       byte  // 0 when the key is absent
	esc        bool  // a string with escapes
	isInt      bool  // a number without fraction or exponent
	bad        bool  // invalid UTF-8 inside (batch-level fields only)
	depth      int32 // nesting depth (batch-level fields only)
}

// rawMsg is one message as found by the scan.
type rawMsg struct {
	start, end int32 // the object's span
	notObject  bool
	badUTF8    bool
	depth      int32
	members    int32
	dup        int8 // index of an interpreted key seen twice, or -1
	f          [nFields]field
	// del is the span to cut to remove the "writeKey" member with one adjacent comma.
	del [2]int32
}

// key reads the object key at s.i (a '"'), decoding it only if it has escapes, and leaves s.i
// at the value, after the colon and whitespace. The result may alias buf or the body; callers
// switch on it at once (string(b) in a switch does not allocate).
func (s *scanner) key(buf *[128]byte) ([]byte, error) {
	start := s.i
	if s.b[start] != '"' {
		return nil, s.errAt("expected string key")
	}
	if err := s.scanString(); err != nil {
		return nil, err
	}
	raw, esc := s.b[start+1:s.i-1], s.esc
	if err := s.colon(); err != nil {
		return nil, err
	}
	if !esc {
		return raw, nil
	}
	if len(raw) > len(buf) {
		return nil, nil // longer than any key we interpret, even fully escaped
	}
	k, _ := appendUnquoted(buf[:0], raw)
	return k, nil
}

func (s *scanner) colon() error {
	s.ws()
	if s.i >= len(s.b) {
		return s.eof()
	}
	if s.b[s.i] != ':' {
		return s.errAt("expected ':' after key")
	}
	s.i++
	s.ws()
	if s.i >= len(s.b) {
		return s.eof()
	}
	return nil
}

// next moves past the ',' between members or elements, or the closing byte. It reports
// whether the container continues.
func (s *scanner) next(closer byte) (more bool, err error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, s.eof()
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.ws()
		if s.i >= len(s.b) {
			return false, s.eof()
		}
		return true, nil
	case closer:
		s.i++
		return false, nil
	}
	return false, s.errAt("expected ',' or '" + string(closer) + "'")
}

// scanMessage scans the object at s.i into m. Only syntax errors are returned; everything else
// is recorded in m for check.
func (s *scanner) scanMessage(m *rawMsg) error {
	var kbuf [128]byte
	m.start = int32(s.i)
	m.dup = -1
	m.depth = 1
	m.del = [2]int32{-1, -1}
	s.badUTF8 = false
	s.i++
	s.ws()
	if s.i >= len(s.b) {
		return s.eof()
	}
	if s.b[s.i] == '}' {
		s.i++
		m.end = int32(s.i)
		return nil
	}
	prevEnd, wkKey, wkEnd, wkPrev, wkNext := -1, -1, -1, -1, -1
	for {
		keyStart := s.i
		if wkKey >= 0 && wkNext < 0 {
			wkNext = keyStart
		}
		k, err := s.key(&kbuf)
		if err != nil {
			return err
		}
		idx := messageField(k)
		valStart := s.i
		kind, depth, err := s.scanValue()
		if err != nil {
			return err
		}
		m.members++
		m.depth = max(m.depth, int32(depth)+1)
		if idx >= 0 {
			if f := &m.f[idx]; f.kind != 0 {
				if m.dup < 0 {
					m.dup = int8(idx)
				}
			} else {
				*f = field{start: int32(valStart), end: int32(s.i), kind: kind, esc: s.esc, isInt: s.isInt}
				if idx == fWriteKey {
					wkKey, wkEnd, wkPrev = keyStart, s.i, prevEnd
				}
			}
		}
		prevEnd = s.i
		more, err := s.next('}')
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	m.end = int32(s.i)
	m.badUTF8 = s.badUTF8
	switch {
	case wkKey < 0:
	case wkNext >= 0: // cut `"writeKey":…, ` up to the next key
		m.del = [2]int32{int32(wkKey), int32(wkNext)}
	case wkPrev >= 0: // the last member: cut `, "writeKey":…` from the previous value's end
		m.del = [2]int32{int32(wkPrev), int32(wkEnd)}
	default: // the only member
		m.del = [2]int32{int32(wkKey), int32(wkEnd)}
	}
	return nil
}

// scanElement scans one element of the batch array into m.
func (s *scanner) scanElement(m *rawMsg) error {
	if s.b[s.i] == '{' {
		return s.scanMessage(m)
	}
	m.start = int32(s.i)
	_, _, err := s.scanValue()
	m.end = int32(s.i)
	m.notObject = true
	return err
}

// parser holds the state of one call.
type parser struct {
	s scanner
	// arena collects the bytes of every string of the batch; they become one string at the
	// end and each field a substring of it, so a batch costs one allocation for its strings.
	arena []byte
	pend  []pending
	// consents holds the Consent of every message that carries one (capacity set in build).
	consents []Consent
}

type pending struct {
	dst  *string
	s, e int32
}

// batchLevel is what a batch contributes to each of its messages.
type batchLevel struct {
	ctx, integ []byte // nil when absent
	sentAt     time.Time
	// consent are the consent members of ctx; consentDup names one given twice.
	consent    consentSpans
	consentDup string
}

func invalidJSON(err error) *BatchError {
	return &BatchError{Reason: "invalid_json", Detail: err.Error()}
}

// ParseBatch parses a POST /v1/batch body. A body that is not a JSON object with a "batch" array,
// too large, or with too many messages is an error for the whole request (a *BatchError).
// Messages that are individually invalid are returned with Err set (and MessageID if readable).
func ParseBatch(body []byte) (*Batch, error) {
	if len(body) > MaxBatchBytes {
		return nil, &BatchError{Reason: "too_large", Detail: fmt.Sprintf("body is %d bytes, over the %d-byte batch limit", len(body), MaxBatchBytes)}
	}
	p := &parser{s: scanner{b: body}}
	s := &p.s
	s.ws()
	if s.i >= len(body) {
		return nil, invalidJSON(s.eof())
	}
	if body[s.i] != '{' {
		if err := s.whole(); err != nil {
			return nil, invalidJSON(err)
		}
		return nil, &BatchError{Reason: "not_a_batch", Detail: "body is not a JSON object"}
	}

	var (
		bf    [nBatchFields]field
		dup   = -1
		raws  []rawMsg
		kbuf  [128]byte
		isArr bool
	)
	s.i++
	s.ws()
	if s.i >= len(body) {
		return nil, invalidJSON(s.eof())
	}
	if body[s.i] != '}' {
		for {
			k, err := s.key(&kbuf)
			if err != nil {
				return nil, invalidJSON(err)
			}
			idx := batchField(k)
			if idx >= 0 && bf[idx].kind != 0 && dup < 0 {
				dup = idx
			}
			start := s.i
			s.badUTF8 = false
			var kind byte
			var depth int
			if idx == bBatch && body[s.i] == '[' {
				kind, isArr = kindArray, true
				if raws, err = s.scanBatchArray(raws); err != nil {
					return nil, err
				}
			} else if kind, depth, err = s.scanValue(); err != nil {
				return nil, invalidJSON(err)
			}
			if idx >= 0 && bf[idx].kind == 0 {
				bf[idx] = field{start: int32(start), end: int32(s.i), kind: kind, esc: s.esc, bad: s.badUTF8, depth: int32(depth)}
				if idx == bBatch && kind != kindArray {
					isArr = false
				}
			}
			more, err := s.next('}')
			if err != nil {
				return nil, invalidJSON(err)
			}
			if !more {
				break
			}
		}
	} else {
		s.i++
	}
	if err := s.end(); err != nil {
		return nil, invalidJSON(err)
	}

	if dup >= 0 {
		return nil, &BatchError{Reason: "invalid_field", Detail: fmt.Sprintf("duplicate key %q", []string{"batch", "context", "integrations", "writeKey", "sentAt"}[dup])}
	}
	if bf[bBatch].kind == 0 || !isArr {
		return nil, &BatchError{Reason: "not_a_batch", Detail: `body has no "batch" array`}
	}
	bl := batchLevel{}
	var err *BatchError
	if bl.ctx, err = p.batchObject(&bf[bContext], "context"); err != nil {
		return nil, err
	}
	if bl.integ, err = p.batchObject(&bf[bIntegrations], "integrations"); err != nil {
		return nil, err
	}
	if bl.ctx != nil {
		bl.consentDup = findContextConsent(bl.ctx, &bl.consent, &p.s.stack)
	}
	b := &Batch{}
	if f := &bf[bWriteKey]; f.kind != 0 && f.kind != kindNull {
		if f.kind != kindString || f.bad {
			return nil, &BatchError{Reason: "invalid_field", Detail: "writeKey must be a UTF-8 string"}
		}
		wk, _ := appendUnquoted(nil, body[f.start+1:f.end-1])
		b.WriteKey = string(wk)
	}
	if f := &bf[bSentAt]; f.kind != 0 && f.kind != kindNull {
		t, ok := p.timestamp(f)
		if !ok {
			return nil, &BatchError{Reason: "invalid_timestamp", Detail: "sentAt is not an ISO-8601 timestamp"}
		}
		bl.sentAt, b.SentAt = t, t
	}
	b.Messages = p.build(raws, &bl, "")
	return b, nil
}

// batchObject validates a batch-level context or integrations value and returns its bytes.
func (p *parser) batchObject(f *field, name string) ([]byte, *BatchError) {
	switch {
	case f.kind == 0 || f.kind == kindNull:
		return nil, nil
	case f.kind != kindObject:
		return nil, &BatchError{Reason: "invalid_field", Detail: "batch-level " + name + " must be an object"}
	case f.bad:
		return nil, &BatchError{Reason: "invalid_utf8", Detail: "batch-level " + name + " has invalid UTF-8"}
	case f.depth+1 > maxDepth: // +1: it lands inside each message
		return nil, &BatchError{Reason: "invalid_field", Detail: "batch-level " + name + " is nested too deeply"}
	}
	return p.s.b[f.start:f.end], nil
}

// scanBatchArray scans the "batch" array at s.i, appending its elements to raws.
func (s *scanner) scanBatchArray(raws []rawMsg) ([]rawMsg, error) {
	s.i++
	s.ws()
	if s.i >= len(s.b) {
		return raws, invalidJSON(s.eof())
	}
	if s.b[s.i] == ']' {
		s.i++
		return raws, nil
	}
	if raws == nil {
		// A guess that avoids most regrowth without overshooting much: SDK messages are
		// mostly 0.5 to 2 KB.
		raws = make([]rawMsg, 0, min(len(s.b)/512+1, MaxBatchMessages))
	}
	for {
		if len(raws) == MaxBatchMessages {
			return raws, &BatchError{Reason: "too_many_messages", Detail: fmt.Sprintf("a batch holds at most %d messages", MaxBatchMessages)}
		}
		raws = append(raws, rawMsg{})
		if err := s.scanElement(&raws[len(raws)-1]); err != nil {
			return raws, invalidJSON(err)
		}
		more, err := s.next(']')
		if err != nil {
			return raws, invalidJSON(err)
		}
		if !more {
			return raws, nil
		}
	}
}

// whole scans one value and checks that nothing follows it.
func (s *scanner) whole() error {
	if _, _, err := s.scanValue(); err != nil {
		return err
	}
	return s.end()
}

// end checks that only whitespace is left.
func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return s.errAt("invalid character after top-level value")
	}
	return nil
}

// ParseSingle parses the body of POST /v1/{type} for one message of the given type (the path's
// type wins; a body "type" that disagrees is a message error). The body's "writeKey", if any,
// is returned in Batch.WriteKey.
func ParseSingle(typ string, body []byte) (*Batch, error) {
	if !validType(typ) {
		return nil, &BatchError{Reason: "invalid_type", Detail: fmt.Sprintf("unknown message type %q", typ)}
	}
	if len(body) > MaxMessageBytes {
		return nil, &BatchError{Reason: "too_large", Detail: fmt.Sprintf("body is %d bytes, over the %d-byte message limit", len(body), MaxMessageBytes)}
	}
	p := &parser{s: scanner{b: body}}
	s := &p.s
	s.ws()
	if s.i >= len(body) {
		return nil, invalidJSON(s.eof())
	}
	if body[s.i] != '{' {
		if err := s.whole(); err != nil {
			return nil, invalidJSON(err)
		}
		return nil, &BatchError{Reason: "not_an_object", Detail: "body is not a JSON object"}
	}
	raws := make([]rawMsg, 1)
	if err := s.scanMessage(&raws[0]); err != nil {
		return nil, invalidJSON(err)
	}
	if err := s.end(); err != nil {
		return nil, invalidJSON(err)
	}
	// writeKey authenticates the request, so a bad one fails the request, not the message.
	if f := &raws[0].f[fWriteKey]; f.kind != 0 && f.kind != kindNull && (f.kind != kindString || !utf8.Valid(body[f.start:f.end])) {
		return nil, &BatchError{Reason: "invalid_field", Detail: "writeKey must be a UTF-8 string"}
	}
	b := &Batch{Messages: p.build(raws, &batchLevel{}, typ)}
	if f := &raws[0].f[fWriteKey]; f.kind == kindString {
		wk, _ := appendUnquoted(nil, body[f.start+1:f.end-1])
		b.WriteKey = string(wk)
	}
	return b, nil
}

func validType(t string) bool {
	switch t {
	case TypeTrack, TypeIdentify, TypePage, TypeScreen, TypeAlias, TypeGroup:
		return true
	}
	return false
}

// canonicalType returns the package constant equal to t, so that Type never allocates.
func canonicalType(t []byte) string {
	switch string(t) {
	case TypeTrack:
		return TypeTrack
	case TypeIdentify:
		return TypeIdentify
	case TypePage:
		return TypePage
	case TypeScreen:
		return TypeScreen
	case TypeAlias:
		return TypeAlias
	case TypeGroup:
		return TypeGroup
	}
	return ""
}

// Kinds of edit to a message's bytes on the way to Raw.
const (
	opInsert       = iota + 1 // after '{': the added type/context/integrations members
	opType                    // replace a null "type" with the path's type
	opContext                 // replace a null "context" with the batch's
	opIntegrations            // replace a null "integrations" with the batch's
	opDelete                  // cut the writeKey member
)

type op struct {
	start, end int32 // replaced span of the body; start == end for an insertion
	n          int32 // length of the replacement
	what       byte
}

// plan says how to turn a message's bytes into its Raw.
type plan struct {
	ops                [5]op
	nops               int
	insType            string
	insCtx, insInteg   bool
	insComma           bool
	rawLen             int
	ctxMerged, integMg bool
	consent            consentSpans // relative to the context and properties objects
}

func (pl *plan) add(o op) {
	// Insertion sort: ops are few and must be in body order; an insertion at the same offset
	// as a cut goes first.
	i := pl.nops
	for i > 0 && (pl.ops[i-1].start > o.start || pl.ops[i-1].start == o.start && o.what == opInsert) {
		pl.ops[i] = pl.ops[i-1]
		i--
	}
	pl.ops[i] = o
	pl.nops++
}

// build checks every scanned message and assembles the results.
func (p *parser) build(raws []rawMsg, bl *batchLevel, single string) []Message {
	msgs := make([]Message, len(raws))
	plans := make([]plan, len(raws))
	nConsent := 0
	p.pend = make([]pending, 0, 4*len(raws))
	total := 0
	for i := range raws {
		if err := p.check(&raws[i], &msgs[i], &plans[i], bl, single); err != nil {
			// Keep only what identifies the message; MessageID is filled in below.
			msgs[i] = Message{Type: msgs[i].Type, Err: err}
			continue
		}
		total += plans[i].rawLen
		if plans[i].consent.any() || raws[i].f[fGDPRConsent].kind != 0 {
			nConsent++
		}
	}
	if nConsent > 0 {
		p.consents = make([]Consent, 0, nConsent) // one allocation for the batch's signals
	}
	buf := make([]byte, 0, total)
	for i := range raws {
		if msgs[i].Err == nil {
			buf = p.emit(buf, &raws[i], &msgs[i], &plans[i], bl)
		}
	}
	str := string(p.arena)
	for _, pd := range p.pend {
		*pd.dst = str[pd.s:pd.e]
	}
	return msgs
}

func merr(reason, format string, args ...any) *MessageError {
	return &MessageError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// check validates one message, fills its parsed fields and plans its Raw.
func (p *parser) check(m *rawMsg, out *Message, pl *plan, bl *batchLevel, single string) *MessageError {
	if m.notObject {
		return merr("not_an_object", "message is not a JSON object")
	}
	// Read messageId first so that a rejected message can still be reported by its id.
	var pend [8]pending
	np := 0
	put := func(dst *string, s, e int) {
		pend[np] = pending{dst, int32(s), int32(e)}
		np++
	}
	ms, me, mok, midErr := p.id(m, fMessageID)
	if mok && utf8.Valid(p.arena[ms:me]) {
		p.pend = append(p.pend, pending{&out.MessageID, int32(ms), int32(me)})
	}

	if n := m.end - m.start; n > MaxMessageBytes {
		return merr("too_large", "message is %d bytes, over the %d-byte limit", n, MaxMessageBytes)
	}
	if m.dup >= 0 {
		return merr("invalid_field", "duplicate key %q", fieldNames[m.dup])
	}
	if m.depth > maxDepth {
		return merr("too_deep", "message is nested more than %d levels deep", maxDepth)
	}
	if m.badUTF8 {
		return merr("invalid_utf8", "message has a string that is not valid UTF-8")
	}

	// Type: from the body in a batch, from the path in a single call.
	body := p.s.b
	tf := &m.f[fType]
	var typ string
	switch tf.kind {
	case 0, kindNull:
	case kindString:
		raw := body[tf.start+1 : tf.end-1]
		if tf.esc {
			raw, _ = appendUnquoted(nil, raw)
		}
		if typ = canonicalType(raw); typ == "" {
			if len(raw) > 40 { // the detail may be logged; keep it short
				raw = append(raw[:40:40], "..."...)
			}
			return merr("invalid_type", "unknown message type %q", raw)
		}
	default:
		return merr("invalid_type", "type must be a string")
	}
	switch {
	case single != "" && typ != "" && typ != single:
		return merr("invalid_type", "type %q in the body disagrees with %q in the path", typ, single)
	case single != "":
		if tf.kind == 0 {
			pl.insType = single
		} else if tf.kind == kindNull {
			pl.add(op{start: tf.start, end: tf.end, n: int32(len(single) + 2), what: opType})
		}
		typ = single
	case typ == "":
		return merr("invalid_type", "message has no type")
	}
	out.Type = typ

	// Identifiers.
	if midErr != nil {
		return midErr
	}
	var have [nFields]bool
	for _, idx := range [...]int{fUserID, fAnonymousID, fPreviousID, fGroupID} {
		s, e, ok, err := p.id(m, idx)
		if err != nil {
			return err
		}
		if ok {
			have[idx] = e > s
			put(idStrings(out, idx), s, e)
		}
	}
	switch typ {
	case TypeAlias:
		if !have[fUserID] || !have[fPreviousID] {
			return merr("missing_id", "alias needs userId and previousId")
		}
	default:
		if !have[fUserID] && !have[fAnonymousID] {
			return merr("missing_id", "%s needs userId or anonymousId", typ)
		}
	}
	if typ == TypeGroup && !have[fGroupID] {
		return merr("missing_id", "group needs groupId")
	}

	// event and name.
	for _, idx := range [...]int{fEvent, fName} {
		f := &m.f[idx]
		switch f.kind {
		case 0, kindNull:
			continue
		case kindString:
		default:
			return merr("invalid_field", "%s must be a string", fieldNames[idx])
		}
		s, e, ok := p.str(f)
		if !ok {
			return merr("invalid_field", "%s has an unpaired UTF-16 surrogate", fieldNames[idx])
		}
		if e-s > maxNameBytes {
			return merr("invalid_field", "%s is longer than %d bytes", fieldNames[idx], maxNameBytes)
		}
		have[idx] = e > s
		if idx == fEvent {
			put(&out.Event, s, e)
		} else {
			put(&out.Name, s, e)
		}
	}
	if typ == TypeTrack && !have[fEvent] {
		return merr("missing_event", "track needs a non-empty event")
	}

	for _, idx := range [...]int{fProperties, fTraits, fContext, fIntegrations} {
		if k := m.f[idx].kind; k != 0 && k != kindNull && k != kindObject {
			return merr("invalid_field", "%s must be an object", fieldNames[idx])
		}
	}

	for _, idx := range [...]int{fTimestamp, fSentAt, fOriginalTimestamp} {
		f := &m.f[idx]
		if f.kind == 0 || f.kind == kindNull {
			continue
		}
		t, ok := p.timestamp(f)
		if !ok {
			return merr("invalid_timestamp", "%s is not an ISO-8601 timestamp", fieldNames[idx])
		}
		switch idx {
		case fTimestamp:
			out.Timestamp = t
		case fSentAt:
			out.SentAt = t
		default:
			out.OriginalTimestamp = t
		}
	}
	if out.SentAt.IsZero() {
		out.SentAt = bl.sentAt
	}

	if f := &m.f[fWriteKey]; f.kind != 0 {
		switch f.kind {
		case kindNull:
		case kindString:
			s, e, _ := p.str(f)
			put(&out.WriteKey, s, e)
		default:
			return merr("invalid_field", "writeKey must be a string")
		}
		pl.add(op{start: m.del[0], end: m.del[1], what: opDelete})
	}

	// Batch-level objects for messages without their own.
	if bl.ctx != nil {
		switch f := &m.f[fContext]; f.kind {
		case 0:
			pl.insCtx, pl.ctxMerged = true, true
		case kindNull:
			pl.add(op{start: f.start, end: f.end, n: int32(len(bl.ctx)), what: opContext})
			pl.ctxMerged = true
		}
	}
	if bl.integ != nil {
		switch f := &m.f[fIntegrations]; f.kind {
		case 0:
			pl.insInteg, pl.integMg = true, true
		case kindNull:
			pl.add(op{start: f.start, end: f.end, n: int32(len(bl.integ)), what: opIntegrations})
			pl.integMg = true
		}
	}
	if dup := p.findConsent(m, pl, bl); dup != "" {
		return merr("invalid_field", "duplicate key %q", dup)
	}
	if pl.insType != "" || pl.insCtx || pl.insInteg {
		n, parts := 0, 0
		if pl.insType != "" {
			n += len(`"type":""`) + len(pl.insType)
			parts++
		}
		if pl.insCtx {
			n += len(`"context":`) + len(bl.ctx)
			parts++
		}
		if pl.insInteg {
			n += len(`"integrations":`) + len(bl.integ)
			parts++
		}
		remaining := m.members
		if m.f[fWriteKey].kind != 0 {
			remaining--
		}
		pl.insComma = remaining > 0
		n += parts - 1
		if pl.insComma {
			n++
		}
		pl.add(op{start: m.start + 1, end: m.start + 1, n: int32(n), what: opInsert})
	}
	pl.rawLen = int(m.end - m.start)
	for _, o := range pl.ops[:pl.nops] {
		pl.rawLen += int(o.n) - int(o.end-o.start)
	}
	if pl.rawLen > MaxMessageBytes {
		return merr("too_large", "message is %d bytes with the batch's context, over the %d-byte limit", pl.rawLen, MaxMessageBytes)
	}
	p.pend = append(p.pend, pend[:np]...)
	return nil
}

func idStrings(out *Message, idx int) *string {
	switch idx {
	case fUserID:
		return &out.UserID
	case fAnonymousID:
		return &out.AnonymousID
	case fPreviousID:
		return &out.PreviousID
	default:
		return &out.GroupID
	}
}

// str appends a string field's decoded text to the arena and returns its span there. ok is
// false if it held an unpaired surrogate escape.
func (p *parser) str(f *field) (s, e int, ok bool) {
	content := p.s.b[f.start+1 : f.end-1]
	s = len(p.arena)
	if !f.esc {
		p.arena = append(p.arena, content...)
		return s, len(p.arena), true
	}
	p.arena, ok = appendUnquoted(p.arena, content)
	return s, len(p.arena), ok
}

// id decodes an identifier: a string, or a number as its decimal text. ok is false when the
// field is absent or null.
func (p *parser) id(m *rawMsg, idx int) (s, e int, ok bool, err *MessageError) {
	f := &m.f[idx]
	switch f.kind {
	case 0, kindNull:
		return 0, 0, false, nil
	case kindString:
		var good bool
		if s, e, good = p.str(f); !good {
			return 0, 0, false, merr("invalid_field", "%s has an unpaired UTF-16 surrogate", fieldNames[idx])
		}
	case kindNumber:
		// JSON integers are already canonical decimal text (no leading zeros); others are
		// rewritten as JavaScript's String(n) would for ordinary magnitudes: 1e3 → "1000".
		lit := p.s.b[f.start:f.end]
		s = len(p.arena)
		if f.isInt {
			p.arena = append(p.arena, lit...)
		} else {
			v, perr := strconv.ParseFloat(string(lit), 64)
			if perr != nil {
				return 0, 0, false, merr("invalid_field", "%s is a number out of range", fieldNames[idx])
			}
			p.arena = strconv.AppendFloat(p.arena, v, 'f', -1, 64)
		}
		e = len(p.arena)
	default:
		return 0, 0, false, merr("invalid_field", "%s must be a string", fieldNames[idx])
	}
	if e-s > maxIDBytes {
		return 0, 0, false, merr("invalid_field", "%s is longer than %d bytes", fieldNames[idx], maxIDBytes)
	}
	return s, e, true, nil
}

// timestamp parses a string field as a timestamp; anything but a string fails.
func (p *parser) timestamp(f *field) (time.Time, bool) {
	if f.kind != kindString {
		return time.Time{}, false
	}
	content := p.s.b[f.start+1 : f.end-1]
	if f.esc {
		var buf [64]byte
		if len(content) > len(buf) {
			return time.Time{}, false
		}
		content, _ = appendUnquoted(buf[:0], content)
	}
	return parseTimestamp(content)
}

// emit appends m's Raw to buf as planned and points out's raw fields into it.
func (p *parser) emit(buf []byte, m *rawMsg, out *Message, pl *plan, bl *batchLevel) []byte {
	body := p.s.b
	base := len(buf)
	pos := m.start
	ctxAt, integAt := -1, -1
	for _, o := range pl.ops[:pl.nops] {
		buf = append(buf, body[pos:o.start]...)
		switch o.what {
		case opInsert:
			sep := false
			if pl.insType != "" {
				buf = append(buf, `"type":"`...)
				buf = append(buf, pl.insType...)
				buf = append(buf, '"')
				sep = true
			}
			if pl.insCtx {
				if sep {
					buf = append(buf, ',')
				}
				buf = append(buf, `"context":`...)
				ctxAt = len(buf) - base
				buf = append(buf, bl.ctx...)
				sep = true
			}
			if pl.insInteg {
				if sep {
					buf = append(buf, ',')
				}
				buf = append(buf, `"integrations":`...)
				integAt = len(buf) - base
				buf = append(buf, bl.integ...)
			}
			if pl.insComma {
				buf = append(buf, ',')
			}
		case opType:
			buf = append(buf, '"')
			buf = append(buf, out.Type...)
			buf = append(buf, '"')
		case opContext:
			ctxAt = len(buf) - base
			buf = append(buf, bl.ctx...)
		case opIntegrations:
			integAt = len(buf) - base
			buf = append(buf, bl.integ...)
		}
		pos = o.end
	}
	buf = append(buf, body[pos:m.end]...)
	raw := buf[base:len(buf):len(buf)]
	out.Raw = raw

	// at maps a body offset inside the message to its offset in raw.
	at := func(off int32) int {
		d := int(off - m.start)
		for _, o := range pl.ops[:pl.nops] {
			if o.end <= off {
				d += int(o.n) - int(o.end-o.start)
			}
		}
		return d
	}
	sub := func(f *field) json.RawMessage {
		if f.kind != kindObject {
			return nil
		}
		i := at(f.start)
		j := i + int(f.end-f.start)
		return json.RawMessage(raw[i:j:j])
	}
	out.Properties = sub(&m.f[fProperties])
	out.Traits = sub(&m.f[fTraits])
	if pl.ctxMerged {
		out.Context = json.RawMessage(raw[ctxAt : ctxAt+len(bl.ctx) : ctxAt+len(bl.ctx)])
	} else {
		out.Context = sub(&m.f[fContext])
	}
	if pl.integMg {
		out.Integrations = json.RawMessage(raw[integAt : integAt+len(bl.integ) : integAt+len(bl.integ)])
	} else {
		out.Integrations = sub(&m.f[fIntegrations])
	}
	var top json.RawMessage
	if f := &m.f[fGDPRConsent]; f.kind != 0 {
		i := at(f.start)
		j := i + int(f.end-f.start)
		top = json.RawMessage(raw[i:j:j])
	}
	if pl.consent.any() || top != nil {
		p.consents = append(p.consents, Consent{})
		out.Consent = &p.consents[len(p.consents)-1]
		consentOf(out.Consent, &pl.consent, out.Context, out.Properties, top)
	}
	return buf
}

// findConsent finds the consent signals of a message in its context (its own, or the batch's)
// and properties. It returns the name of a consent member given twice, or "".
func (p *parser) findConsent(m *rawMsg, pl *plan, bl *batchLevel) string {
	body := p.s.b
	if f := &m.f[fContext]; f.kind == kindObject {
		if dup := findContextConsent(body[f.start:f.end], &pl.consent, &p.s.stack); dup != "" {
			return dup
		}
	} else if pl.ctxMerged {
		if bl.consentDup != "" {
			return bl.consentDup
		}
		pl.consent = bl.consent
	}
	if f := &m.f[fProperties]; f.kind == kindObject {
		return findPropertiesConsent(body[f.start:f.end], &pl.consent, &p.s.stack)
	}
	return ""
}
