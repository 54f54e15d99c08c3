# A tmux capture with colours (`capture-pane -e -p`: SGR sequences, 24-bit and 256 colours) as an HTML page of
# monospace text, so a browser can draw the terminal as it looked.
import html, re, sys

def xterm256(n):
    base = [(0,0,0),(205,0,0),(0,205,0),(205,205,0),(0,0,238),(205,0,205),(0,205,205),(229,229,229),
            (127,127,127),(255,0,0),(0,255,0),(255,255,0),(92,92,255),(255,0,255),(0,255,255),(255,255,255)]
    if n < 16: return base[n]
    if n < 232:
        n -= 16; steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[n // 6 % 6], steps[n % 6])
    v = 8 + 10 * (n - 232); return (v, v, v)

DEFAULT_FG, DEFAULT_BG = (220, 220, 220), (24, 24, 24)
out = []
for line in sys.stdin.read().split('\n'):
    fg, bg, bold, rev = None, None, False, False
    parts = re.split(r'(\x1b\[[0-9;]*m)', line)
    row = []
    for p in parts:
        m = re.match(r'\x1b\[([0-9;]*)m', p)
        if m:
            codes = [int(c) if c else 0 for c in m.group(1).split(';')] or [0]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0: fg, bg, bold, rev = None, None, False, False
                elif c == 1: bold = True
                elif c == 22: bold = False
                elif c == 7: rev = True
                elif c == 27: rev = False
                elif 30 <= c <= 37: fg = xterm256(c - 30)
                elif 90 <= c <= 97: fg = xterm256(c - 90 + 8)
                elif 40 <= c <= 47: bg = xterm256(c - 40)
                elif 100 <= c <= 107: bg = xterm256(c - 100 + 8)
                elif c == 39: fg = None
                elif c == 49: bg = None
                elif c in (38, 48) and i + 1 < len(codes):
                    if codes[i + 1] == 2 and i + 4 < len(codes):
                        col = tuple(codes[i + 2:i + 5]); i += 4
                    elif codes[i + 1] == 5 and i + 2 < len(codes):
                        col = xterm256(codes[i + 2]); i += 2
                    else:
                        col = None
                    if c == 38: fg = col
                    else: bg = col
                i += 1
            continue
        if not p: continue
        f, b = fg or DEFAULT_FG, bg or DEFAULT_BG
        if rev: f, b = b, f
        style = 'color:rgb%s;background:rgb%s%s' % (f, b, ';font-weight:bold' if bold else '')
        row.append('<span style="%s">%s</span>' % (style.replace(' ', ''), html.escape(p)))
    out.append(''.join(row))
print('<!doctype html><meta charset="utf-8"><body style="margin:0;background:rgb(24,24,24)">'
      '<pre style="margin:8px;font:15px/18px \'DejaVu Sans Mono\',monospace;color:rgb(220,220,220)">'
      + '\n'.join(out) + '</pre>')
