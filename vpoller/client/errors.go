package client

import "errors"

// ErrNoReply reports that no attempt got a reply in time. Its text is the
// original Python client's message, so scripts and Zabbix items that match
// on it keep working; the error returned by Client.Do wraps it with the
// endpoint and the number of attempts.
//
//lint:ignore ST1005 the text is the original client's message, kept byte for byte
var ErrNoReply = errors.New("Did not receive response, aborting...")

// ErrClosed is returned by calls on a Client after Close.
var ErrClosed = errors.New("vpoller client: closed")
