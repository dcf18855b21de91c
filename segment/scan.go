package segment

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a validating JSON scanner over one buffer. It accepts exactly what RFC 8259 (and
// encoding/json.Valid) accepts, never allocates on success, and reports byte spans instead of
// decoded values, so that a message is read once and stored byte for byte as it was sent.
//
// We do not use encoding/json for the top level of a message because it matches keys without
// regard to case ("USERID" would fill UserID while Raw still says "USERID") and silently keeps
// the last of duplicate keys; both would let the stored payload and the parsed fields disagree.
type scanner struct {
	b []byte
	i int
	// badUTF8 is set when a string held bytes that are not UTF-8. The caller resets it per
	// message: it is a message error, not a syntax error (encoding/json.Valid accepts them).
	badUTF8 bool
	// Set by scanScalar for the value just scanned.
	esc   bool // string had a backslash escape
	isInt bool // number had no fraction or exponent
	// stack holds the open containers of scanContainer; kept to reuse its memory.
	stack []byte
}

// Kinds of JSON values, as returned by scanValue.
const (
	kindObject = '{'
	kindArray  = '['
	kindString = '"'
	kindNumber = '0'
	kindTrue   = 't'
	kindFalse  = 'f'
	kindNull   = 'n'
)

type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

func (s *scanner) errAt(msg string) error { return &syntaxError{off: s.i, msg: msg} }

func (s *scanner) eof() error { return &syntaxError{off: s.i, msg: "unexpected end of JSON input"} }

// strSafe marks the bytes that may appear in a string without further thought.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// scanString scans the string starting at s.b[s.i] == '"' and leaves s.i after its closing quote.
func (s *scanner) scanString() error {
	b := s.b
	i := s.i + 1
	s.esc = false
	for {
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return s.eof()
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			s.esc = true
			if i+1 >= len(b) {
				s.i = i + 1
				return s.eof()
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					s.i = i
					return s.errAt("invalid \\u escape in string")
				}
				i += 6
			default:
				s.i = i
				return s.errAt("invalid escape in string")
			}
		case c < 0x20:
			s.i = i
			return s.errAt("control character in string")
		default: // c >= 0x80
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				s.badUTF8 = true
			}
			i += size
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (s *scanner) scanNumber() error {
	b := s.b
	i := s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		s.i = i
		return s.eof()
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		s.i = i
		return s.errAt("invalid number")
	}
	s.isInt = true
	if i < len(b) && b[i] == '.' {
		s.isInt = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return s.errAt("invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		s.isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return s.errAt("invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return nil
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) {
		if string(s.b[s.i:]) == lit[:len(s.b)-s.i] {
			s.i = len(s.b)
			return s.eof()
		}
		return s.errAt("invalid literal")
	}
	if string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errAt("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// scanScalar scans a string, number or literal at s.i (whitespace already skipped).
func (s *scanner) scanScalar() (kind byte, err error) {
	if s.i >= len(s.b) {
		return 0, s.eof()
	}
	switch c := s.b[s.i]; c {
	case '"':
		return kindString, s.scanString()
	case 't':
		return kindTrue, s.literal("true")
	case 'f':
		return kindFalse, s.literal("false")
	case 'n':
		return kindNull, s.literal("null")
	default:
		if c == '-' || isDigit(c) {
			return kindNumber, s.scanNumber()
		}
		return 0, s.errAt("invalid character")
	}
}

// scanValue skips whitespace and scans one complete value. depth is its nesting depth:
// 0 for a scalar, 1 for {} or [], 2 for {"a":[]}, and so on.
func (s *scanner) scanValue() (kind byte, depth int, err error) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, 0, s.eof()
	}
	if c := s.b[s.i]; c == '{' || c == '[' {
		depth, err = s.scanContainer()
		return c, depth, err
	}
	kind, err = s.scanScalar()
	return kind, 0, err
}

// scanKey scans `"key" :` and the whitespace after it, leaving s.i at the member's value.
func (s *scanner) scanKey() error {
	if s.i >= len(s.b) {
		return s.eof()
	}
	if s.b[s.i] != '"' {
		return s.errAt("expected string key")
	}
	if err := s.scanString(); err != nil {
		return err
	}
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

// scanContainer scans the object or array at s.i. It is iterative, with an explicit stack, so
// that hostile nesting costs memory proportional to the (size-capped) input, never Go stack;
// the depth is reported and judged by the caller.
func (s *scanner) scanContainer() (depth int, err error) {
	b := s.b
	stack := s.stack[:0]
	defer func() { s.stack = stack }()
	for {
		// s.i < len(b) and points at the start of a value.
		if c := b[s.i]; c == '{' || c == '[' {
			stack = append(stack, c)
			depth = max(depth, len(stack))
			s.i++
			s.ws()
			if s.i >= len(b) {
				return depth, s.eof()
			}
			if b[s.i] != c+2 { // '{'+2 == '}', '['+2 == ']'
				if c == '{' {
					if err := s.scanKey(); err != nil {
						return depth, err
					}
				}
				continue
			}
			s.i++
			stack = stack[:len(stack)-1]
		} else if _, err := s.scanScalar(); err != nil {
			return depth, err
		}
		// A value is complete: close containers until one continues with a comma.
		for {
			if len(stack) == 0 {
				return depth, nil
			}
			s.ws()
			if s.i >= len(b) {
				return depth, s.eof()
			}
			c, top := b[s.i], stack[len(stack)-1]
			if c == ',' {
				s.i++
				s.ws()
				if top == '{' {
					if err := s.scanKey(); err != nil {
						return depth, err
					}
				} else if s.i >= len(b) {
					return depth, s.eof()
				}
				break
			}
			if c != top+2 {
				if top == '{' {
					return depth, s.errAt("expected ',' or '}' in object")
				}
				return depth, s.errAt("expected ',' or ']' in array")
			}
			s.i++
			stack = stack[:len(stack)-1]
		}
	}
}

// appendUnquoted appends the decoded content of a string literal (without its quotes; already
// validated by scanString). ok is false when it holds an unpaired UTF-16 surrogate escape,
// which has no UTF-8 form and is replaced by U+FFFD.
func appendUnquoted(dst, src []byte) (out []byte, ok bool) {
	ok = true
	for i := 0; i < len(src); {
		c := src[i]
		if c != '\\' {
			j := i + 1
			for j < len(src) && src[j] != '\\' {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
			continue
		}
		switch src[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(src, i+2)
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if r < 0xDC00 && i+6 <= len(src) && src[i] == '\\' && src[i+1] == 'u' {
					r2, _ = hex4(src, i+2)
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r, ok = utf8.RuneError, false
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, src[i+1])
		}
		i += 2
	}
	return dst, ok
}
