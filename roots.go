package main

// The controller's image is FROM scratch, with no CA bundle: these roots
// (Mozilla's, as Go's fallback) are used when the system has none, so the
// controller can reach a public ACME CA such as Let's Encrypt. A system
// bundle, where there is one, takes precedence.
import _ "golang.org/x/crypto/x509roots/fallback"
