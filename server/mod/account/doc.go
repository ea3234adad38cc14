// Package account lets authenticated users manage their own account with
// In-Band Registration (XEP-0077): read their registration (§3.1, with
// <registered/>), change their password (§3.3) and cancel their
// registration (§3.2), which deletes the account with all its data and
// ends its sessions. Registration before authentication belongs to the
// c2s transport; both go through module.AccountService.
package account
