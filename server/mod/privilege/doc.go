// Package privilege is the server side of XEP-0356 (Privileged Entity,
// version 0.4) for external components: messages a component sends from
// the bare JID of a user (or the server) wrapped in <privilege/> (§5),
// and IQs it sends in a user's name wrapped in <privileged_iq/> (§6),
// each only when the component was granted it in the configuration and
// only for the served domains; anything else is refused with
// <forbidden/>. Roster access and presence (§4, §7) are the roster
// module's; the <privilege/> advertisement is sent by the component
// listener when the component connects.
//
// It also delegates namespaces to components (XEP-0355, version 0.5, in
// admin mode): IQ requests of a delegated namespace to a served domain or
// to a user's bare JID go to the component, and its answers back.
package privilege
