// Package caps implements the verification string of XEP-0115 (Entity
// Capabilities) §5: the canonical string S built from a XEP-0030 disco#info
// result (identities, features and XEP-0128 forms), its hash, the
// well-formedness checks of the processing method (§5.4), and the <c/>
// element carried in presence and stream features.
package caps
