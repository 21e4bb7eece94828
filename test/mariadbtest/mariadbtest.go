// Package mariadbtest runs a throwaway MariaDB server for tests: Debian's
// mariadbd as a plain process on a free loopback port, with its own data
// directory made by mariadb-install-db, loaded with WordPress's real
// schema (testdata/wordpress-schema.sql, from wp-admin/includes/schema.php
// by hack/wp-vectors/schema.php), and stopped when the test ends.
//
// When MariaDB is not installed the test is skipped, unless
// WPAUTHZ_REQUIRE_MARIADB is set (make test sets it; hack/test-deps.sh
// installs the package), in which case it fails.
package mariadbtest

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

//go:embed testdata/wordpress-schema.sql
var schema string

// Server is a running MariaDB with a "wordpress" database holding
// WordPress's tables: prefix "wp_" (single site) and "ms_" (a network with
// blog 2 at "ms_2_").
type Server struct {
	// DSN connects as a read-only user (SELECT on wordpress.*) over TCP,
	// as wpauthz would.
	DSN string
	// Admin is a read-write connection for seeding (root over the socket).
	Admin *sql.DB
	// Addr is host:port.
	Addr string

	cmd  *exec.Cmd
	done chan error
}

func find(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
			if p := filepath.Join(dir, n); fileExists(p) {
				return p
			}
		}
	}
	return ""
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Start starts a server for tb and stops it in tb's cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	server := find("mariadbd", "mysqld")
	installDB := find("mariadb-install-db", "mysql_install_db")
	if server == "" || installDB == "" {
		if os.Getenv("WPAUTHZ_REQUIRE_MARIADB") != "" {
			tb.Fatal("MariaDB is not installed (mariadbd, mariadb-install-db): run hack/test-deps.sh")
		}
		tb.Skip("MariaDB is not installed; run hack/test-deps.sh (make test does)")
	}
	// A short path: the socket path must fit in sockaddr_un (108 bytes).
	dir, err := os.MkdirTemp("", "mdb")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "s")
	root := os.Geteuid() == 0

	args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}
	if root {
		args = append(args, "--user=root")
	}
	if out, err := exec.Command(installDB, args...).CombinedOutput(); err != nil {
		tb.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}

	port := freePort(tb)
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan error, 1)}
	sargs := []string{
		"--no-defaults", "--datadir=" + data, "--socket=" + sock, "--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-log-bin", "--pid-file=" + filepath.Join(dir, "pid"),
		"--log-error=" + filepath.Join(dir, "error.log"), "--innodb-buffer-pool-size=32M", "--max-connections=200",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_520_ci",
	}
	if root {
		sargs = append(sargs, "--user=root")
	}
	s.cmd = exec.Command(server, sargs...)
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	tb.Cleanup(func() { s.stop(tb) })

	rootCfg := mysql.NewConfig()
	rootCfg.User, rootCfg.Net, rootCfg.Addr = "root", "unix", sock
	rootCfg.MultiStatements = true
	rootCfg.Params = map[string]string{"sql_mode": "''"}
	conn, err := mysql.NewConnector(rootCfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.Admin = sql.OpenDB(conn)
	tb.Cleanup(func() { s.Admin.Close() })

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.Admin.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			tb.Fatalf("mariadbd exited: %v\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			tb.Fatalf("mariadbd not ready: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	setup := "CREATE DATABASE wordpress DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;\n" +
		"CREATE USER 'wpauthz'@'127.0.0.1' IDENTIFIED BY 'wpauthz-test';\n" +
		"GRANT SELECT ON wordpress.* TO 'wpauthz'@'127.0.0.1';\n" +
		"USE wordpress;\n" + schema
	if _, err := s.Admin.Exec(setup); err != nil {
		tb.Fatalf("loading the WordPress schema: %v", err)
	}
	if _, err := s.Admin.Exec("USE wordpress"); err != nil {
		tb.Fatal(err)
	}
	// database/sql pools connections: every later Admin statement must
	// name the database itself; reconnect with it in the DSN.
	s.Admin.Close()
	rootCfg.DBName = "wordpress"
	conn, _ = mysql.NewConnector(rootCfg)
	s.Admin = sql.OpenDB(conn)

	s.DSN = fmt.Sprintf("wpauthz:wpauthz-test@tcp(%s)/wordpress?charset=utf8mb4", s.Addr)
	return s
}

func (s *Server) stop(tb testing.TB) {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Exec runs statements on the admin connection, failing the test on error.
func (s *Server) Exec(tb testing.TB, query string, args ...any) {
	tb.Helper()
	if _, err := s.Admin.Exec(query, args...); err != nil {
		tb.Fatalf("%s: %v", strings.SplitN(query, "\n", 2)[0], err)
	}
}

// Stop kills the server now (to test an unreachable database); cleanup
// copes with a server already gone.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}
