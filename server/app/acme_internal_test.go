package app

import (
	"reflect"
	"testing"
)

func TestCertificateNamesGroupServicesUnderTheirDomain(t *testing.T) {
	got := certificateNames([]string{"example.org", "chat.example"},
		[]string{"conference.example.org", "irc.other.net", "upload.chat.example", "example.org"})
	want := [][]string{{"example.org", "conference.example.org"}, {"chat.example", "upload.chat.example"}, {"irc.other.net"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("certificateNames = %v, want %v", got, want)
	}
}
