// Package form is the jabber:x:data payload of XEP-0004 (Data Forms):
// typed forms and fields decoded from and encoded to stanza elements, the
// hidden FORM_TYPE field of XEP-0068, and the validation XEP-0004 §3.3 asks
// of field types and values.
package form
