package cluster

// KeyOf is keyOf, for the tests of package cluster_test.
var KeyOf = keyOf

// CompKey is compKey, for the tests of package cluster_test.
var CompKey = compKey

// PickWeb is pickWeb, for the tests of package cluster_test.
var PickWeb = pickWeb
