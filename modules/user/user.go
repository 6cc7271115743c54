// Package user provides the user execution module (user.info) and the
// account database brine's user states use: it reads /etc/passwd,
// /etc/shadow and /etc/group and changes them with the shadow tools
// (useradd, usermod, userdel, chpasswd).
package user

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/modules/group"
)

// Files of the account database.
const (
	PasswdFile = "/etc/passwd"
	ShadowFile = "/etc/shadow"
)

// User is one entry of the password database.
type User struct {
	Name  string
	UID   int
	GID   int
	GECOS string // "Full Name,Room,Work phone,Home phone,Other"
	Home  string
	Shell string
}

// Fullname is the first field of the GECOS.
func (u User) Fullname() string {
	name, _, _ := strings.Cut(u.GECOS, ",")
	return name
}

// WithFullname returns the GECOS with its first field replaced, keeping
// room and phone numbers.
func (u User) WithFullname(name string) string {
	_, rest, ok := strings.Cut(u.GECOS, ",")
	if !ok {
		return name
	}
	return name + "," + rest
}

// ParsePasswd reads a file in passwd(5) format.
func ParsePasswd(r io.Reader) ([]User, error) {
	var out []User
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 {
			return nil, fmt.Errorf("line %d: %d fields, want 7", n, len(f))
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: bad uid or gid", n)
		}
		out = append(out, User{Name: f[0], UID: uid, GID: gid, GECOS: f[4], Home: f[5], Shell: f[6]})
	}
	return out, sc.Err()
}

func readPasswd() ([]User, error) {
	f, err := os.Open(PasswdFile)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer f.Close()
	us, err := ParsePasswd(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", PasswdFile, err)
	}
	return us, nil
}

// Lookup finds a user by name; ok is false when it does not exist.
func Lookup(name string) (u User, ok bool, err error) {
	us, err := readPasswd()
	if err != nil {
		return User{}, false, err
	}
	for _, u := range us {
		if u.Name == name {
			return u, true, nil
		}
	}
	return User{}, false, nil
}

// Password returns the user's password hash from the shadow file ("" when
// the user has no entry there).
func Password(name string) (string, error) {
	f, err := os.Open(ShadowFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read password hashes: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, rest, ok := strings.Cut(sc.Text(), ":"); ok && n == name {
			hash, _, _ := strings.Cut(rest, ":")
			return hash, nil
		}
	}
	return "", sc.Err()
}

// Groups returns the groups listing the user as a member (its
// supplementary groups), sorted.
func Groups(name string) ([]string, error) {
	gs, err := group.All()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range gs {
		if slices.Contains(g.Members, name) {
			out = append(out, g.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Info is the user as Salt's user.info returns it; groups include the
// primary group.
func Info(u User) (map[string]any, error) {
	groups, err := Groups(u.Name)
	if err != nil {
		return nil, err
	}
	if g, ok, err := group.LookupGID(u.GID); err != nil {
		return nil, err
	} else if ok && !slices.Contains(groups, g.Name) {
		groups = append(groups, g.Name)
		sort.Strings(groups)
	}
	list := make([]any, len(groups))
	for i, g := range groups {
		list[i] = g
	}
	gecos := append(strings.Split(u.GECOS, ","), "", "", "", "", "")
	return map[string]any{
		"name": u.Name, "uid": u.UID, "gid": u.GID, "home": u.Home, "shell": u.Shell, "passwd": "x",
		"fullname": gecos[0], "roomnumber": gecos[1], "workphone": gecos[2], "homephone": gecos[3], "other": gecos[4],
		"groups": list,
	}, nil
}

// SetPassword sets the user's password hash with chpasswd -e, which reads
// it from stdin so it never shows on a command line.
func SetPassword(ctx context.Context, name, hash string) error {
	if strings.ContainsAny(hash, ":\n") {
		return errors.New("a password hash cannot contain ':' or a newline")
	}
	return group.Shadow(ctx, name+":"+hash+"\n", "chpasswd", "-e")
}

type infoArgs struct {
	Name string `arg:"name,required"`
}

func init() {
	modules.Register("user.info", modules.Func[infoArgs]{
		ReadOnly: true,
		Doc:      "Return a user's name, uid, gid, home, shell, GECOS fields and groups; an empty mapping when it does not exist.",
		Params:   []string{"name"},
		Call: func(_ context.Context, _ *modules.Runtime, a *infoArgs) (any, error) {
			u, ok, err := Lookup(a.Name)
			if err != nil || !ok {
				return map[string]any{}, err
			}
			return Info(u)
		},
	})
}
