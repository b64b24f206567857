package scan

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// MaxLineLen is the longest output line a parser accepts. Package-manager
// lines are short; a longer one means the input is not what we expect.
const MaxLineLen = 1 << 20

// Lines calls fn for every line of r with its 1-based number. It strips a
// leading UTF-8 byte-order mark and the trailing "\r" of CRLF endings, and
// stops at the first error fn returns. A line over MaxLineLen or a read
// failure is returned wrapped.
func Lines(r io.Reader, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineLen)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading line %d: %w", n+1, err)
	}
	return nil
}
