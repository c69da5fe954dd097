package router

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// ratePair returns the two ends of a loopback TCP connection with small
// socket buffers, so that a client that stops reading blocks the writer
// after a few KiB: the server's end with the minimum read rate (bytes/s
// over window) and the client's.
func ratePair(t *testing.T, rate int64, window time.Duration) (*rateConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := &Router{readRate: rate, window: window, log: slog.New(slog.DiscardHandler)}
	rl := r.readRateListener(l)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := rl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	rc := server.(*rateConn)
	rc.Conn.(*net.TCPConn).SetWriteBuffer(8 << 10)
	client.(*net.TCPConn).SetReadBuffer(8 << 10)
	return rc, client
}

// writeUntil writes chunks of 32 KiB to c until a write fails or stop is
// closed, and returns the error and when it came.
func writeUntil(c net.Conn, stop <-chan struct{}) (error, time.Time) {
	buf := make([]byte, 32<<10)
	for {
		select {
		case <-stop:
			return nil, time.Now()
		default:
		}
		if _, err := c.Write(buf); err != nil {
			return err, time.Now()
		}
	}
}

func TestRateConnCutsAClientThatReadsNothing(t *testing.T) {
	t.Parallel()
	const window = 500 * time.Millisecond
	server, _ := ratePair(t, 64<<10, window)
	start := time.Now()
	err, at := writeUntil(server, nil)
	if !errors.Is(err, errReadTooSlow) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write error %v, want the read rate's, wrapping a deadline", err)
	}
	// The allowance is one window; writes that filled the buffers took
	// none of it.
	if d := at.Sub(start); d < window || d > window+10*time.Second {
		t.Fatalf("cut after %s, want one window (%s) after the buffers filled", d, window)
	}
	if _, err := server.Write([]byte("x")); !errors.Is(err, errReadTooSlow) {
		t.Fatalf("a write after the cut: %v, want it refused", err)
	}
}

func TestRateConnCutsASlowReader(t *testing.T) {
	t.Parallel()
	server, client := ratePair(t, 64<<10, 500*time.Millisecond)
	go func() { // 1 KiB every 100ms: 10 KiB/s, a sixth of the rate
		buf := make([]byte, 1<<10)
		for {
			if _, err := io.ReadFull(client, buf); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := time.Now()
	err, at := writeUntil(server, nil)
	if !errors.Is(err, errReadTooSlow) {
		t.Fatalf("write error %v, want the read rate's", err)
	}
	if d := at.Sub(start); d > 15*time.Second {
		t.Fatalf("a reader at a sixth of the rate was cut only after %s", d)
	}
}

// TestRateConnKeepsASteadyReader: a client reading well above the rate is
// not cut however long a write takes, and time between writes (an
// instance that pauses) is not charged to it.
func TestRateConnKeepsASteadyReader(t *testing.T) {
	t.Parallel()
	const window = time.Second
	t.Run("takes all at once", func(t *testing.T) {
		t.Parallel()
		server, client := ratePair(t, 8<<10, window)
		go io.Copy(io.Discard, client)
		stop := make(chan struct{})
		time.AfterFunc(3*window, func() { close(stop) })
		if err, _ := writeUntil(server, stop); err != nil {
			t.Fatalf("a reader taking everything at once was cut: %v", err)
		}
	})
	t.Run("one large write", func(t *testing.T) {
		t.Parallel()
		// Far more than the rate allows in a window, to a reader taking
		// it at 16 times the rate.
		server, client := ratePair(t, 8<<10, window)
		go func() {
			buf := make([]byte, 4<<10)
			for {
				if _, err := io.ReadFull(client, buf); err != nil {
					return
				}
				time.Sleep(30 * time.Millisecond) // 4 KiB per 30ms: about 130 KiB/s
			}
		}()
		if _, err := server.Write(make([]byte, 384<<10)); err != nil {
			t.Fatalf("a 384 KiB write to a reader at 16 times the rate: %v", err)
		}
	})
	t.Run("pauses between writes", func(t *testing.T) {
		t.Parallel()
		server, client := ratePair(t, 8<<10, window)
		go io.Copy(io.Discard, client)
		for i := range 2 {
			if i > 0 {
				time.Sleep(3 * window) // the instance has nothing to send
			}
			if _, err := server.Write([]byte("data: event\n\n")); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	})
}

// TestRateConnKeepsOuterDeadlines: a deadline set from outside (net/http,
// TLS) ends a write as it would on the connection itself, and is not
// counted against the client.
func TestRateConnKeepsOuterDeadlines(t *testing.T) {
	t.Parallel()
	server, client := ratePair(t, 1<<10, 10*time.Second)
	server.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	start := time.Now()
	err, _ := writeUntil(server, nil)
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, errReadTooSlow) {
		t.Fatalf("write error %v, want the outer deadline's alone", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the outer deadline of 200ms ended the write after %s", d)
	}
	server.SetWriteDeadline(time.Time{})
	go io.Copy(io.Discard, client)
	if _, err := server.Write([]byte("more")); err != nil {
		t.Fatalf("a write after the outer deadline was lifted: %v", err)
	}
	// A deadline in the past ends a write at once (the TLS handshake's
	// cancellation, shutdowns).
	server.SetDeadline(aLongTimeAgo)
	if _, err := server.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, errReadTooSlow) {
		t.Fatalf("a write past the deadline: %v", err)
	}
}
