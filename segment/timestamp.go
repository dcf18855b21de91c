package segment

import "time"

// parseTimestamp parses the ISO-8601 forms Segment's SDKs and server libraries send and returns
// the instant in UTC:
//
//	2024-05-01T12:34:56.789Z        analytics.js, analytics-node (Date.toISOString)
//	2024-05-01T12:34:56.789+02:00   RFC 3339 offsets (Python isoformat, Ruby iso8601)
//	2024-05-01T12:34:56.789+0200    basic-format offsets (older iOS/Java formatters)
//	2024-05-01T12:34:56             no offset: taken as UTC (servers run in UTC)
//	2024-05-01                      a date alone: midnight UTC
//
// Fractions may have any number of digits (nanoseconds are kept), "," may stand for ".",
// "t", "z" and a space separator are accepted as RFC 3339 allows. It is hand-written because
// time.Parse needs one layout per variant and allocates its errors, and every message has one.
func parseTimestamp(b []byte) (time.Time, bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec, offset int
	i := 10
	if i < len(b) {
		if c := b[i]; c != 'T' && c != 't' && c != ' ' {
			return time.Time{}, false
		}
		i++
		if len(b) < i+5 || b[i+2] != ':' {
			return time.Time{}, false
		}
		h, okh := num(b[i : i+2])
		m, okm := num(b[i+3 : i+5])
		if !okh || !okm || h > 23 || m > 59 {
			return time.Time{}, false
		}
		hour, minute = h, m
		i += 5
		if i < len(b) && b[i] == ':' {
			if len(b) < i+3 {
				return time.Time{}, false
			}
			s, ok := num(b[i+1 : i+3])
			if !ok || s > 60 { // 60: a leap second, which time.Date folds into the next minute
				return time.Time{}, false
			}
			sec = s
			i += 3
			if i < len(b) && (b[i] == '.' || b[i] == ',') {
				i++
				start := i
				scale := 100000000
				for i < len(b) && isDigit(b[i]) {
					nsec += int(b[i]-'0') * scale // digits past nanoseconds add 0
					scale /= 10
					i++
				}
				if i == start {
					return time.Time{}, false
				}
			}
		}
		if i < len(b) {
			switch b[i] {
			case 'Z', 'z':
				i++
			case '+', '-':
				sign := 1
				if b[i] == '-' {
					sign = -1
				}
				i++
				if len(b) < i+2 {
					return time.Time{}, false
				}
				oh, ok := num(b[i : i+2])
				if !ok || oh > 23 {
					return time.Time{}, false
				}
				i += 2
				om := 0
				if i < len(b) {
					if b[i] == ':' {
						i++
					}
					if len(b) != i+2 {
						return time.Time{}, false
					}
					m, ok := num(b[i : i+2])
					if !ok || m > 59 {
						return time.Time{}, false
					}
					om = m
					i += 2
				}
				offset = sign * (oh*3600 + om*60)
			default:
				return time.Time{}, false
			}
		}
		if i != len(b) {
			return time.Time{}, false
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

// num parses a run of ASCII digits.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// EventTime returns when the message's event happened, given when Symbiont received it, by
// Segment's rule ("Timestamps in Segment", segment-docs src/connections/spec/common.md):
//
//   - timestamp, when sent, as sent: the sender states the time (server libraries, imports
//     of past events).
//   - else originalTimestamp (the device's clock when the call was made; RudderStack's SDKs and
//     Segment's mobile libraries send it instead of timestamp) corrected for the device's
//     clock skew with sentAt (the device's clock when the request left; the message's, or the
//     batch's): receivedAt − (sentAt − originalTimestamp). sentAt and receivedAt are taken to
//     be the same instant, so their difference is the skew.
//   - A device clock cannot place an event after it arrived: when sentAt precedes
//     originalTimestamp (the device's clock was set back between the call and the send), the
//     gap means nothing and the event time is receivedAt; without sentAt, originalTimestamp is
//     used as is, but never later than receivedAt.
//   - else receivedAt.
func (m *Message) EventTime(receivedAt time.Time) time.Time {
	switch {
	case !m.Timestamp.IsZero():
		return m.Timestamp
	case m.OriginalTimestamp.IsZero():
		return receivedAt
	case m.SentAt.IsZero():
		if m.OriginalTimestamp.After(receivedAt) {
			return receivedAt
		}
		return m.OriginalTimestamp
	case m.SentAt.Before(m.OriginalTimestamp):
		return receivedAt
	}
	// Shifted by the skew; the cap only matters when a clock centuries off saturates Sub.
	t := m.OriginalTimestamp.Add(receivedAt.Sub(m.SentAt))
	if t.After(receivedAt) {
		return receivedAt
	}
	return t
}
