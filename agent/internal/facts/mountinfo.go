package facts

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Mount is one line of /proc/<pid>/mountinfo.
type Mount struct {
	// MajorMinor is st_dev of the filesystem ("8:1"): equal for every
	// mount, bind mount or subvolume of one filesystem.
	MajorMinor string
	// Root is the directory of the filesystem mounted here ("/" unless a
	// bind mount or subvolume).
	Root string
	// MountPoint is where it is mounted.
	MountPoint string
	// FSType is the filesystem type, with any FUSE subtype ("fuse.sshfs").
	FSType string
	// Source is the device or other source ("/dev/sda1", "server:/export").
	Source string
}

// maxMountinfoLine allows for overlay mounts, whose option lists name
// every image layer and can run to hundreds of kilobytes.
const maxMountinfoLine = 1 << 20

// ParseMountinfo parses the mountinfo format (proc_pid_mountinfo(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Malformed lines are skipped; the mounts that parsed are returned
// together with an error naming the first bad line, so one odd line does
// not hide every disk.
func ParseMountinfo(r io.Reader) ([]Mount, error) {
	var (
		mounts  []Mount
		badLine int
		badErr  error
		bad     int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxMountinfoLine)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		m, err := parseMountinfoLine(sc.Text())
		if err != nil {
			if bad == 0 {
				badLine, badErr = n, err
			}
			bad++
			continue
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return mounts, fmt.Errorf("read mountinfo: %w", err)
	}
	if bad > 0 {
		return mounts, fmt.Errorf("mountinfo: %d malformed line(s), first at line %d: %w", bad, badLine, badErr)
	}
	return mounts, nil
}

func parseMountinfoLine(line string) (Mount, error) {
	f := strings.Fields(line)
	// Six fixed fields, optional fields, "-", then type, source, options.
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || len(f) < sep+3 {
		return Mount{}, fmt.Errorf("%d fields, no \"-\" separator followed by type and source", len(f))
	}
	if !strings.Contains(f[2], ":") {
		return Mount{}, fmt.Errorf("device %q is not major:minor", f[2])
	}
	m := Mount{
		MajorMinor: f[2],
		Root:       unescapeOctal(f[3]),
		MountPoint: unescapeOctal(f[4]),
		FSType:     unescapeOctal(f[sep+1]),
		Source:     unescapeOctal(f[sep+2]),
	}
	if !strings.HasPrefix(m.MountPoint, "/") {
		return Mount{}, fmt.Errorf("mount point %q is not absolute", m.MountPoint)
	}
	return m, nil
}

// unescapeOctal decodes the kernel's \ooo escapes (space is \040, tab
// \011, newline \012, backslash \134) and leaves anything else, including
// values above \377, as is.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
