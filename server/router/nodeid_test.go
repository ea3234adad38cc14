package router

import "testing"

func TestNodeOfID(t *testing.T) {
	for id, want := range map[string]string{"srv-node1-5": "node1", "srv-a-b-c-zz": "a-b-c", "srv-5": "", "x-node-5": "", "srv--5": "", "": ""} {
		if got := nodeOfID(id); got != want {
			t.Errorf("nodeOfID(%q) = %q, want %q", id, got, want)
		}
	}
}
