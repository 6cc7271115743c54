package master

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/wire"
)

// fileServer answers minions' requests for state tree files and for the
// master's job signing key. It serves the state tree only: pillar never
// leaves the master except inside the job of the minion it belongs to.
type fileServer struct {
	roots []fs.FS
}

func newFileServer(dirs []string) *fileServer {
	f := &fileServer{}
	for _, d := range dirs {
		f.roots = append(f.roots, os.DirFS(d))
	}
	return f
}

// read returns a file of the state tree; names are cleaned and may not
// leave the tree.
func (f *fileServer) read(name string) ([]byte, error) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if !fs.ValidPath(name) || name == "." {
		return nil, fs.ErrInvalid
	}
	for _, root := range f.roots {
		b, err := fs.ReadFile(root, name)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fs.ErrNotExist
}

func (f *fileServer) handler(m *Master) nats.MsgHandler {
	return func(msg *nats.Msg) {
		id, _ := bus.SubjectID(msg.Subject)
		var req wire.FileRequest
		var resp wire.FileResponse
		if err := json.Unmarshal(msg.Data, &req); err != nil {
			resp.Error = "bad request: " + err.Error()
		} else {
			switch req.Op {
			case wire.OpMasterKey:
				resp.PublicKey = m.pub
			case wire.OpRead:
				data, err := f.read(req.Path)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					resp.NotFound = true
				case err != nil:
					resp.Error = err.Error()
				default:
					resp.Data = data
				}
			default:
				resp.Error = "unknown operation " + req.Op
			}
		}
		b, err := json.Marshal(resp)
		if err == nil {
			err = msg.Respond(b)
		}
		if err != nil {
			m.log.Warn("file server reply", "minion", id, "err", err)
		}
	}
}
