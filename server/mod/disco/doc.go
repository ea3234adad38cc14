// Package disco is the server module for XEP-0030 (Service Discovery) and
// the server's XEP-0115 (Entity Capabilities) stream feature.
//
// It answers disco#info and disco#items requests addressed to a served
// domain and, on behalf of local accounts, to their bare JIDs. The answer
// lists exactly what modules advertised through Registrar.Identity and
// Registrar.Feature (Host.DiscoInfo), plus the identities this module
// itself registers: server/im for the domain and account/registered for
// accounts.
//
// Per XEP-0030 §8, disco#info to an account is answered only for the
// account itself or for an entity the account shares its presence with
// (roster subscription "from" or "both"); anyone else gets
// <service-unavailable/>, exactly as for an account that does not exist,
// so the reply cannot be used to harvest accounts. disco#items has no
// items yet and always returns an empty result for the bare query.
//
// The caps stream feature (XEP-0115 §6.3) needs the server's complete
// feature list, which exists only once every module has registered, and
// which can change at run time: the features of a component a namespace
// is delegated to are nested in it while the component is connected
// (XEP-0355 §9.2, module.Host.NestDisco). The module therefore computes
// the 'ver' from the current view of the server's disco#info
// (module.Host.DiscoView) whenever that view's generation changed, and
// offers the <c/> of the current 'ver' (Registrar.StreamFeatureFunc).
// The same 'ver' makes the caps node "node#ver" answerable by disco#info.
// The server's domain sends no presence, so a new 'ver' reaches clients
// only through the stream features of their next login.
package disco
