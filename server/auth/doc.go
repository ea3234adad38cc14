// Package auth manages account credentials on top of storage.Accounts and
// throttles failed logins.
//
// Passwords are never stored: [Authenticator.Create] and
// [Authenticator.SetPassword] derive one salted SCRAM verifier (RFC 5802 §3)
// per configured hash function, each with a fresh random salt. SCRAM
// mechanisms read the verifiers with [Authenticator.SCRAMKey]; PLAIN checks a
// password with [Authenticator.CheckPassword], which re-derives StoredKey from
// the stored salt and iteration count and compares in constant time.
//
// Throttling counts wrong passwords per (account, client address) and per
// client address (IPv6 addresses are grouped by /64) in a sliding window,
// and slows later logins of a key down with a doubling, capped delay
// ([Authenticator.LoginDelay]); it never refuses, so failures from one
// address never touch an account's logins from another. The tables are
// bounded: entries expire with the window and their number is capped.
package auth
