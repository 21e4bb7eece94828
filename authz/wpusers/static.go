package wpusers

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// StaticFile is the users file format: users in WordPress's own formats,
// for demos (`make run`) and tests, where no WordPress database exists.
//
//	usingApplicationPasswords: true
//	users:
//	  - id: 2
//	    login: jane
//	    email: jane@example.com
//	    displayName: Jane Doe
//	    pass: $wp$2y$10$...             # user_pass, any format WordPress wrote
//	    roles: [editor]
//	    applicationPasswords:
//	      - {name: laptop, uuid: ..., hash: $generic$...}
type StaticFile struct {
	UsingApplicationPasswords bool         `json:"usingApplicationPasswords"`
	Users                     []StaticUser `json:"users"`
}

// StaticUser is one user of a StaticFile.
type StaticUser struct {
	ID                   int64               `json:"id"`
	Login                string              `json:"login"`
	Email                string              `json:"email,omitempty"`
	Nicename             string              `json:"nicename,omitempty"`
	DisplayName          string              `json:"displayName,omitempty"`
	Pass                 string              `json:"pass"`
	Roles                []string            `json:"roles,omitempty"`
	ApplicationPasswords []StaticAppPassword `json:"applicationPasswords,omitempty"`
}

// StaticAppPassword is one application password of a StaticUser.
type StaticAppPassword struct {
	Name string `json:"name,omitempty"`
	UUID string `json:"uuid,omitempty"`
	Hash string `json:"hash"`
}

// Static is a Source over a fixed list. Logins and emails match as the
// database would compare them under WordPress's default collation
// (utf8mb4_unicode_520_ci: case, accents, width and trailing spaces
// ignored): by their primary collation weights (collationKey).
type Static struct {
	inUse   bool
	byID    map[int64]*User
	byLogin map[string]*User
	byEmail map[string]*User
}

// ParseStatic reads a users file (YAML or JSON; unknown fields are errors).
func ParseStatic(data []byte) (*Static, error) {
	var f StaticFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("wpusers: users file: %v", err)
	}
	s := &Static{inUse: f.UsingApplicationPasswords, byID: map[int64]*User{}, byLogin: map[string]*User{}, byEmail: map[string]*User{}}
	for i, su := range f.Users {
		if su.ID <= 0 || su.Login == "" {
			return nil, fmt.Errorf("wpusers: users file: users[%d] needs an id > 0 and a login", i)
		}
		u := &User{ID: su.ID, Login: su.Login, Email: su.Email, Nicename: su.Nicename, DisplayName: su.DisplayName,
			PassHash: su.Pass, Roles: append([]string(nil), su.Roles...)}
		if u.Nicename == "" {
			u.Nicename = strings.ToLower(su.Login)
		}
		if u.DisplayName == "" {
			u.DisplayName = su.Login
		}
		for _, ap := range su.ApplicationPasswords {
			u.AppPasswords = append(u.AppPasswords, AppPassword{Name: ap.Name, UUID: ap.UUID, Hash: ap.Hash})
		}
		login := string(collationKey(su.Login))
		if _, dup := s.byID[u.ID]; dup {
			return nil, fmt.Errorf("wpusers: users file: users[%d]: id %d is listed twice", i, u.ID)
		}
		if _, dup := s.byLogin[login]; dup {
			return nil, fmt.Errorf("wpusers: users file: users[%d]: login %q is listed twice", i, su.Login)
		}
		s.byID[u.ID], s.byLogin[login] = u, u
		if u.Email != "" {
			if email := string(collationKey(u.Email)); s.byEmail[email] == nil {
				s.byEmail[email] = u
			}
		}
	}
	return s, nil
}

func clone(u *User) *User {
	c := *u
	c.Roles = append([]string(nil), u.Roles...)
	c.AppPasswords = append([]AppPassword(nil), u.AppPasswords...)
	return &c
}

func (s *Static) FindByName(_ context.Context, name string) (*User, error) {
	key := string(collationKey(name))
	if u, ok := s.byLogin[key]; ok {
		return clone(u), nil
	}
	if looksLikeEmail(name) {
		if u, ok := s.byEmail[key]; ok {
			return clone(u), nil
		}
	}
	return nil, ErrNotFound
}

func (s *Static) FindByID(_ context.Context, id int64) (*User, error) {
	if u, ok := s.byID[id]; ok {
		return clone(u), nil
	}
	return nil, ErrNotFound
}

func (s *Static) AppPasswordsInUse(context.Context) (bool, error) { return s.inUse, nil }

func (s *Static) HashFormats(context.Context) (HashFormats, error) {
	var f HashFormats
	for _, u := range s.byID {
		f.Passwords = append(f.Passwords, hashFormat(u.PassHash))
		for _, ap := range u.AppPasswords {
			if !strings.HasPrefix(ap.Hash, "$generic$") {
				f.AppPasswords = append(f.AppPasswords, hashFormat(ap.Hash))
			}
		}
	}
	return f, nil
}

func (s *Static) Close() error { return nil }
