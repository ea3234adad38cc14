package jid

import "testing"

func BenchmarkParseASCII(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("juliet@capulet.example.com/balcony-1234"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseUnicode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("Ｊｕｌｉｅｔ@BÜCHER.example/Balkon\u00a0♚"); err != nil {
			b.Fatal(err)
		}
	}
}
