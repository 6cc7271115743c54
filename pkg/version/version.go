// Package version holds brine's release version.
package version

// Version is brine's release version.
const Version = "0.1.0"
