package wpusers

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Spec describes a Directory: a database (DSN set) or a static users file
// (Users set), plus cache settings.
type Spec struct {
	DSN          string
	Users        []byte
	TablePrefix  string
	Multisite    bool
	BlogID       int64
	TTL          time.Duration
	QueryTimeout time.Duration
}

func (s Spec) key() [32]byte {
	h := sha256.New()
	w := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	w([]byte(s.DSN))
	w(s.Users)
	w([]byte(s.TablePrefix))
	ms := "0"
	if s.Multisite {
		ms = "1"
	}
	w([]byte(ms))
	var n [24]byte
	binary.BigEndian.PutUint64(n[0:], uint64(s.BlogID))
	binary.BigEndian.PutUint64(n[8:], uint64(s.TTL))
	binary.BigEndian.PutUint64(n[16:], uint64(s.QueryTimeout))
	w(n[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Pool keeps one Directory per Spec across policy reloads, so a reload
// neither reconnects to the database nor empties the caches. Safe for
// concurrent use.
type Pool struct {
	mu   sync.Mutex
	dirs map[[32]byte]*Directory
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{dirs: map[[32]byte]*Directory{}} }

// Directory returns the Directory for spec, opening it on first use.
func (p *Pool) Directory(spec Spec) (*Directory, error) {
	k := spec.key()
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.dirs[k]; ok {
		return d, nil
	}
	d, err := Open(spec)
	if err != nil {
		return nil, err
	}
	p.dirs[k] = d
	return d, nil
}

// Open builds a Directory for spec without pooling.
func Open(spec Spec) (*Directory, error) {
	var src Source
	if spec.DSN != "" {
		s, err := OpenSQL(SQLConfig{DSN: spec.DSN, TablePrefix: spec.TablePrefix, Multisite: spec.Multisite, BlogID: spec.BlogID})
		if err != nil {
			return nil, err
		}
		src = s
	} else {
		s, err := ParseStatic(spec.Users)
		if err != nil {
			return nil, err
		}
		src = s
	}
	return New(src, Config{TTL: spec.TTL, QueryTimeout: spec.QueryTimeout}), nil
}

// Retain closes every pooled Directory not in keep (those of policies that
// are gone after a reload).
func (p *Pool) Retain(keep []*Directory) {
	in := map[*Directory]bool{}
	for _, d := range keep {
		in[d] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, d := range p.dirs {
		if !in[d] {
			_ = d.Close()
			delete(p.dirs, k)
		}
	}
}

// ForgetUser drops a user from every Directory's caches (user IDs are
// per site; forgetting in the others costs one re-read at most).
func (p *Pool) ForgetUser(id int64) {
	p.mu.Lock()
	dirs := make([]*Directory, 0, len(p.dirs))
	for _, d := range p.dirs {
		dirs = append(dirs, d)
	}
	p.mu.Unlock()
	for _, d := range dirs {
		d.Forget(id)
	}
}

// Close closes every Directory.
func (p *Pool) Close() { p.Retain(nil) }
