"""The picture the guest draws on its framebuffer, shared by the guest
builder (which renders it) and the tests (which look for it in what the
SPICE client captured).

Framebuffer: 32 bpp XRGB8888, little endian (bytes B, G, R, X per pixel).
"""

WIDTH = 1024          # the banner spans the whole 1024-pixel-wide screen
HEIGHT = 256          # rows of the banner
TOP = 448             # first screen row of the banner (below the console text)
BAR_ROWS = 64         # colour bars at the top of the banner
TEXT = "QEMU SPICE QXL"

# Eight bars, 128 pixels wide each, (R, G, B).
BARS = [
    (0xff, 0xff, 0xff), (0xff, 0xff, 0x00), (0x00, 0xff, 0xff), (0x00, 0xff, 0x00),
    (0xff, 0x00, 0xff), (0xff, 0x00, 0x00), (0x00, 0x00, 0xff), (0x10, 0x20, 0x30),
]
BACKGROUND = (0x10, 0x30, 0x80)
FOREGROUND = (0xff, 0xff, 0xff)

# 5x7 glyphs, one string per row, '#' = set.
FONT = {
    "Q": [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"],
    "E": ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
    "M": ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"],
    "U": ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
    "S": [".####", "#....", "#....", ".###.", "....#", "....#", "####."],
    "P": ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."],
    "I": [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "C": [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."],
    "X": ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"],
    "L": ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
    " ": ["....."] * 7,
}
SCALE = 10            # each glyph pixel is SCALE x SCALE screen pixels


def pixel(x, y):
    """(R, G, B) of banner pixel (x, y), 0 <= x < WIDTH, 0 <= y < HEIGHT."""
    if y < BAR_ROWS:
        return BARS[x * len(BARS) // WIDTH]
    text_w = len(TEXT) * 6 * SCALE
    x0 = (WIDTH - text_w) // 2
    y0 = BAR_ROWS + (HEIGHT - BAR_ROWS - 7 * SCALE) // 2
    gx, gy = (x - x0) // SCALE, (y - y0) // SCALE
    if 0 <= gy < 7 and 0 <= gx < len(TEXT) * 6 and x >= x0 and y >= y0:
        ch, col = TEXT[gx // 6], gx % 6
        if col < 5 and FONT[ch][gy][col] == "#":
            return FOREGROUND
    return BACKGROUND


def render_xrgb():
    """The banner as raw XRGB8888 little-endian bytes, row after row."""
    out = bytearray()
    for y in range(HEIGHT):
        for x in range(WIDTH):
            r, g, b = pixel(x, y)
            out += bytes((b, g, r, 0))
    return bytes(out)


def probes():
    """Screen points the tests check: the centre of each bar and points of
    the text and background.  Yields (x, y_on_screen, (R, G, B))."""
    for i, rgb in enumerate(BARS):
        yield (i * 128 + 64, TOP + BAR_ROWS // 2, rgb)
    for y in range(BAR_ROWS, HEIGHT, 7):
        for x in range(3, WIDTH, 61):
            yield (x, TOP + y, pixel(x, y))
