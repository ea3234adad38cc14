// Package privilege holds the payloads of XEP-0356 (Privileged Entity,
// version 0.4, namespace urn:xmpp:privilege:2) and XEP-0355 (Namespace
// Delegation, version 0.5, urn:xmpp:delegation:2): the grants a server
// advertises to a component in a <privilege/> message, the namespaces in
// a <delegation/> message, and the XEP-0297 <forwarded/> wrapper both
// use to carry a stanza inside another.
package privilege
