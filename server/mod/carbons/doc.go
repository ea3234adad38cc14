// Package carbons implements Message Carbons (XEP-0280): a session enables
// or disables carbons for itself; a message a local resource sends is
// copied, wrapped in <sent/>, to the account's other carbons-enabled
// resources, and a message delivered to one resource is copied, wrapped in
// <received/>, to the carbons-enabled resources that did not get it. The
// eligibility rules of §6.1 (advertised as urn:xmpp:carbons:rules:0), the
// <private/> element and the XEP-0334 <no-copy/> hint are respected.
//
// Received copies rely on the router's PhaseDelivered hook, which names
// the sessions a message went to, so a resource never gets a copy of what
// it already received (bare-JID messages tied in priority reach several
// resources directly).
package carbons
