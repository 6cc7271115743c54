// Package proto holds the protobuf definitions of brine's gRPC API; the
// generated Go code lives in proto/brinepb and is committed, so a build
// never needs protoc. Regenerate with `go generate ./proto` (needs Debian's
// protobuf-compiler; the Go plugins are pinned as tools in go.mod).
package proto

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=module=github.com/brinecm/brine/proto --go-grpc_out=. --go-grpc_opt=module=github.com/brinecm/brine/proto brine.proto"
