// Package segment parses and validates the bodies of Segment's HTTP Tracking API
// (POST /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/alias, /v1/group), so that
// Segment's own SDKs (analytics.js, @segment/analytics-node, the mobile SDKs) can send events to
// Symbiont unchanged. It does no I/O and knows nothing of HTTP, consent or storage.
//
// # Compatibility choices
//
// The package follows Segment's public spec (https://segment.com/docs/connections/spec/) and
// is lenient wherever the SDKs are known to differ from it, strict wherever leniency would let
// the stored payload and the parsed fields disagree:
//
//   - Limits are Segment's: 32 KB per message (MaxMessageBytes) and 500 KB per batch request
//     (MaxBatchBytes). A single-call body over 32 KB, like a batch body over 500 KB, fails the
//     whole request, as Segment answers 400 to both. MaxBatchMessages (2500) is our own cap:
//     Segment documents none, the SDKs send 10 to 100 messages a batch, and it bounds the work
//     one request can cause.
//   - A malformed body, or one that is not an object with a "batch" array, fails the whole
//     request (*BatchError). A message that is individually invalid fails alone (Message.Err)
//     and the rest of the batch still counts, as with Segment, which accepts the request and
//     drops the bad event.
//   - Every message needs "userId" or "anonymousId"; "alias" needs "userId" and "previousId";
//     "track" needs "event"; "group" needs "groupId". null counts as absent (analytics.js sends
//     "userId": null for anonymous visitors), and so does "". IDs may be JSON numbers (some SDKs
//     send numeric user ids): they become their decimal text.
//   - "properties", "traits", "context" and "integrations" must be objects when present.
//   - Timestamps are the ISO-8601 forms the SDKs send (see parseTimestamp); all parsed times
//     are in UTC.
//   - Strings must be UTF-8. Raw invalid UTF-8 anywhere in a message rejects it. An escaped
//     unpaired UTF-16 surrogate ("\ud800"), which JavaScript produces when it truncates an
//     emoji, is accepted in free-form values but rejected in the fields we interpret, where
//     decoding it to U+FFFD could make two different user ids equal.
//   - Keys match exactly (encoding/json would also match "UserId" and "USERID"), and a key we
//     interpret may appear only once, so that anything that reads Raw later reads the same
//     message we validated.
//   - Nesting deeper than 64 levels is rejected (reason "too_deep"); no SDK payload comes close,
//     and it keeps later decoders of Raw out of trouble.
//   - Unknown fields (_metadata, receivedAt, category, custom ones) are kept in Raw and not
//     interpreted. originalTimestamp, which the mobile SDKs and RudderStack's send, is validated
//     like the other timestamps and reported in Message.OriginalTimestamp; Message.EventTime
//     combines it with sentAt as Segment does.
//   - Batch-level "context" and "integrations" apply to every message of the batch that has
//     none of its own (Segment: "the context and integrations objects apply to all calls in the
//     request"); a message's own object wins whole, it is not deep-merged. Batch-level "sentAt"
//     fills Message.SentAt when the message has none.
//   - "writeKey" may come in the body (analytics.js puts it in every message and at the batch
//     level). It is reported in Batch.WriteKey and Message.WriteKey and removed from Raw: it is
//     a credential and must not be stored with the event.
//   - "messageId" is reported as sent and never generated: deduplication is the caller's job.
//   - Consent signals are found, not interpreted (Message.Consent): Segment's context.consent
//     (with its categoryPreferences and tcf), RudderStack's context.consentManagement, and an
//     IAB TC string's "gdpr_consent" at the top level, in context or in properties. Each is the
//     raw value as sent, of any JSON kind. A consent member given twice at its level rejects
//     the message (invalid_field), as a duplicated top-level key does; "gdpr_consent" is an
//     interpreted top-level key. Messages without "consent" in their context or
//     "gdpr_consent" in their properties pay one substring search for this.
//
// Raw is each message's JSON exactly as sent, edited only where said above (merged batch
// context/integrations, the path's "type" added for single calls, "writeKey" removed); it is
// never re-encoded, so numbers, key order and escapes are kept. The parser is a hand-written
// single-pass scanner: each message is read once, without reflection or maps, and all Raw
// slices and strings of a batch share two allocations.
package segment
