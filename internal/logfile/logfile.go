// Package logfile is a daemon's optional log file ([proxy] log_file,
// [worker] log_file): appended to, and reopened on request so that
// logrotate can move it away and signal the daemon (SIGUSR1) instead of
// copying and truncating it under a writer.
package logfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
)

// Mode is a new log file's mode: the daemon's user writes, its group
// (adm-style log readers) reads, nobody else: logs name vCenters and
// accounts.
const Mode = 0o640

// File is an io.Writer on a log file that can be reopened while other
// goroutines write to it.
type File struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// Open opens path for appending, creating it (mode Mode) when missing.
func Open(path string) (*File, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f}, nil
}

func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, Mode)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("log file: %w (the daemon's user must be able to write it and its directory; or unset log_file to log to stderr)", err)
		}
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}

// Path is the file's name.
func (l *File) Path() string { return l.path }

// Write appends p to the current file.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path again (a new file when the old one was renamed
// or removed) and writes there from now on. When the path cannot be
// opened the old file stays in use and the error says why.
func (l *File) Reopen() error {
	f, err := open(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// Logger is a daemon's logger: a text handler at level on the log file
// path when set (the returned File, which the daemon reopens on SIGUSR1
// and closes when it ends), else on stderr (File nil).
func Logger(path string, stderr io.Writer, level slog.Level) (*slog.Logger, *File, error) {
	opts := &slog.HandlerOptions{Level: level}
	if path == "" {
		return slog.New(slog.NewTextHandler(stderr, opts)), nil, nil
	}
	f, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewTextHandler(f, opts)), f, nil
}
