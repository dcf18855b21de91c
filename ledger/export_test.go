package ledger

// CanonicalChainFields is canonicalChainFields, for FuzzChainFields.
var CanonicalChainFields = canonicalChainFields
