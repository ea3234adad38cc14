-- prosody-migrator configuration for interop/xep0227_test.go: from the
-- internal store to XEP-0227 files (one per account). {{DIR}} is the
-- test's folder.
input {
	type = "internal";
	path = "{{DIR}}/data";
	hosts = { ["localhost"] = { "accounts", "roster", "vcard", "private" } };
}
output {
	type = "xep0227";
}
