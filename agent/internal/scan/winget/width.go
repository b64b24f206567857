package winget

import (
	"unicode"
	"unicode/utf8"
)

// measure gives the number of terminal cells the grapheme cluster starting
// with r occupies, as one winget generation counts it.
type measure func(r rune) int

// cellWidth is winget 1.6+'s measure: ICU East Asian Width, Wide and
// Fullwidth counting two cells.
func cellWidth(r rune) int {
	if isWide(r) {
		return 2
	}
	return 1
}

// charWidth is older winget's measure: one per character.
func charWidth(rune) int { return 1 }

// extends reports whether r continues the grapheme cluster before it
// (combining marks, joiners, variation selectors) and so takes no cell.
func extends(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) ||
		r == '\u200d' || r == '\u200c' ||
		r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF ||
		r >= 0x1F3FB && r <= 0x1F3FF // emoji skin-tone modifiers
}

// wideRanges are the East Asian Wide (W) and Fullwidth (F) blocks that
// occur in application names: CJK, kana, Hangul, fullwidth forms and the
// emoji blocks.
var wideRanges = [][2]rune{
	{0x1100, 0x115F}, {0x2E80, 0x303E}, {0x3041, 0x33FF}, {0x3400, 0x4DBF},
	{0x4E00, 0x9FFF}, {0xA000, 0xA4CF}, {0xA960, 0xA97F}, {0xAC00, 0xD7A3},
	{0xF900, 0xFAFF}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6F}, {0xFF00, 0xFF60},
	{0xFFE0, 0xFFE6}, {0x16FE0, 0x16FE4}, {0x17000, 0x18CFF}, {0x1B000, 0x1B2FF},
	{0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A},
	{0x1F200, 0x1F251}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F900, 0x1F9FF},
	{0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
}

func isWide(r rune) bool {
	if r < 0x1100 {
		return false
	}
	for _, rg := range wideRanges {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}

// cluster is a grapheme cluster (approximately) placed on a line.
type cluster struct {
	text  string
	pos   int // first cell
	width int
}

// layout splits line into clusters and places them in cells by m.
func layout(line string, m measure) []cluster {
	var out []cluster
	pos := 0
	joined := false
	for i, r := range line {
		_, size := utf8.DecodeRuneInString(line[i:])
		if len(out) > 0 && (extends(r) || joined) {
			last := &out[len(out)-1]
			last.text = line[i-len(last.text) : i+size]
			joined = r == '\u200d'
			continue
		}
		joined = r == '\u200d'
		w := m(r)
		out = append(out, cluster{text: line[i : i+size], pos: pos, width: w})
		pos += w
	}
	return out
}
