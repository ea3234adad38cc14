package cluster

// KeyOf is keyOf, for the tests of package cluster_test.
var KeyOf = keyOf
