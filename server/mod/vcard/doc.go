// Package vcard is the server module for XEP-0054 (vcard-temp): users
// store their vCard on the server and anyone may read it from their bare
// JID, the server answering on the account's behalf.
//
// Retrieval of one's own vCard returns an empty <vCard/> when none is
// stored (§3.1). Retrieval of another account's vCard returns
// <service-unavailable/> when none is stored, the same condition the
// router returns for an account that does not exist, so that the reply
// cannot be used to harvest accounts (§3.3). Only the account itself may
// set its vCard (<forbidden/> otherwise, §3.2); a set with an empty
// <vCard/> deletes it, and a vCard larger than the module's size limit is
// refused with <not-acceptable/>.
package vcard
