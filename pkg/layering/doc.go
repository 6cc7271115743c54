// Package layering holds no code: its test enforces how brine's packages
// may depend on one another. The shared libraries under pkg/ are the floor:
// they must not import the state engine and modules (states, modules), the
// daemons (master, minion) or the binary (cmd), so every one of those can
// use any library without an import cycle, and a library links none of
// them into whatever uses it. What a library needs from above moves down
// into pkg/ (as the state results live in pkg/result).
package layering
