/* Tiny raster plots (see plot.h): an RGB canvas, one frame with x, left y and right y axes, bars,
   lines, markers, 5 x 7 bitmap text and a legend, written through the project's atomic PNG writer. */
#include <pdecon/viz/plot.h>
#include <pdecon/io/io.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _p_PdPlot {
  int            w, h;
  unsigned char *px;                       /* h rows of 3 w bytes */
  int            left, top, right, bottom; /* frame, pixels */
  double         lo[3], hi[3];             /* data ranges of x, y, y2 */
};

static const PdColor pd_ink = {40, 40, 40};

static inline void Put(PdPlot p, int x, int y, PdColor c)
{
  if (x < 0 || y < 0 || x >= p->w || y >= p->h) return;
  unsigned char *q = p->px + 3 * ((size_t)y * (size_t)p->w + (size_t)x);
  q[0] = c.r;
  q[1] = c.g;
  q[2] = c.b;
}

/* Filled rectangle, corners inclusive, in any order. */
static void Fill(PdPlot p, int x0, int y0, int x1, int y1, PdColor c)
{
  if (x0 > x1) {
    int t = x0;
    x0 = x1;
    x1 = t;
  }
  if (y0 > y1) {
    int t = y0;
    y0 = y1;
    y1 = t;
  }
  x0 = PetscMax(x0, 0);
  y0 = PetscMax(y0, 0);
  x1 = PetscMin(x1, p->w - 1);
  y1 = PetscMin(y1, p->h - 1);
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) Put(p, x, y, c);
}

static void Disc(PdPlot p, int cx, int cy, double r, PdColor c)
{
  int ir = (int)ceil(r);
  for (int dy = -ir; dy <= ir; dy++)
    for (int dx = -ir; dx <= ir; dx++)
      if (dx * dx + dy * dy <= r * r) Put(p, cx + dx, cy + dy, c);
}

/* Bresenham with a square brush of t pixels; dashed: 8 on, 6 off along the major axis. */
static void Segment(PdPlot p, int x0, int y0, int x1, int y1, int t, PetscBool dashed, int *phase, PdColor c)
{
  int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
  int o = -(t - 1) / 2;

  for (;;) {
    if (!dashed || (*phase) % 14 < 8) Fill(p, x0 + o, y0 + o, x0 + o + t - 1, y0 + o + t - 1, c);
    (*phase)++;
    if (x0 == x1 && y0 == y1) break;
    int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

PetscErrorCode PdPlotCreate(int w, int h, PdPlot *p)
{
  PetscFunctionBegin;
  PetscCheck(w >= 1 && h >= 1 && w <= 8192 && h <= 8192, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "plot size %d x %d out of range", w, h);
  PetscCall(PetscNew(p));
  (*p)->w = w;
  (*p)->h = h;
  PetscCall(PetscMalloc1((size_t)3 * (size_t)w * (size_t)h, &(*p)->px));
  memset((*p)->px, 255, (size_t)3 * (size_t)w * (size_t)h);
  (*p)->left = 0;
  (*p)->top = 0;
  (*p)->right = w - 1;
  (*p)->bottom = h - 1;
  for (int a = 0; a < 3; a++) {
    (*p)->lo[a] = 0;
    (*p)->hi[a] = 1;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotDestroy(PdPlot *p)
{
  PetscFunctionBegin;
  if (!*p) PetscFunctionReturn(0);
  PetscCall(PetscFree((*p)->px));
  PetscCall(PetscFree(*p));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotGetPixels(PdPlot p, int *w, int *h, const unsigned char **rgb)
{
  PetscFunctionBegin;
  if (w) *w = p->w;
  if (h) *h = p->h;
  if (rgb) *rgb = p->px;
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotSetFrame(PdPlot p, int left, int top, int right, int bottom)
{
  PetscFunctionBegin;
  PetscCheck(left < right && top < bottom, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "empty plot frame");
  p->left   = left;
  p->top    = top;
  p->right  = right;
  p->bottom = bottom;
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotSetRange(PdPlot p, PdAxis a, double lo, double hi)
{
  PetscFunctionBegin;
  PetscCheck(isfinite(lo) && isfinite(hi) && lo != hi, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "plot range [%g, %g] is empty or not finite", lo, hi);
  p->lo[a] = lo;
  p->hi[a] = hi;
  PetscFunctionReturn(0);
}

double PdPlotNiceStep(double lo, double hi, int n)
{
  double raw = fabs(hi - lo) / (n > 0 ? n : 6), mag, f;

  if (!(raw > 0) || !isfinite(raw)) return 1;
  mag = pow(10.0, floor(log10(raw)));
  f   = raw / mag;
  return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * mag;
}

PetscErrorCode PdPlotToPixel(PdPlot p, PdAxis a, double x, double y, int *px, int *py)
{
  PetscFunctionBegin;
  if (px) *px = (int)lround(p->left + (x - p->lo[PD_AXIS_X]) / (p->hi[PD_AXIS_X] - p->lo[PD_AXIS_X]) * (p->right - p->left));
  if (py) *py = (int)lround(p->bottom - (y - p->lo[a]) / (p->hi[a] - p->lo[a]) * (p->bottom - p->top));
  PetscFunctionReturn(0);
}

int PdPlotTextWidth(const char *s, int scale)
{
  int n = s ? (int)strlen(s) : 0;
  return n > 0 ? (6 * n - 1) * scale : 0;
}

PetscErrorCode PdPlotText(PdPlot p, int x, int y, int scale, PdAlign align, PetscBool vertical, PdColor c, const char *s)
{
  int W, start;

  PetscFunctionBegin;
  if (!s || !s[0]) PetscFunctionReturn(0);
  scale = PetscMax(scale, 1);
  W     = PdPlotTextWidth(s, scale);
  if (!vertical) {
    start = align == PD_ALIGN_CENTER ? x - W / 2 : align == PD_ALIGN_RIGHT ? x - W : x;
  } else {
    /* reading upwards from `start` (the bottom end of the text) */
    start = align == PD_ALIGN_CENTER ? y + W / 2 : align == PD_ALIGN_RIGHT ? y + W : y;
  }
  for (int i = 0; s[i]; i++) {
    int                  ch = (unsigned char)s[i];
    const unsigned char *g  = PdPlotFont5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
    for (int col = 0; col < 5; col++)
      for (int row = 0; row < 8; row++) {
        if (!(g[col] >> row & 1)) continue;
        int u = i * 6 + col;
        if (!vertical) Fill(p, start + u * scale, y + row * scale, start + (u + 1) * scale - 1, y + (row + 1) * scale - 1, c);
        else Fill(p, x + row * scale, start - (u + 1) * scale, x + (row + 1) * scale - 1, start - u * scale - 1, c);
      }
  }
  PetscFunctionReturn(0);
}

/* Tick values k * step in [lo, hi] (inclusive up to rounding); at most 200. */
static int Ticks(double lo, double hi, double step, double *v)
{
  double a = PetscMin(lo, hi), b = PetscMax(lo, hi);
  int    n = 0;

  for (double k = ceil(a / step - 1e-9); k * step <= b + 1e-9 * step && n < 200; k++) {
    double t = k * step;
    v[n++]   = fabs(t) < 1e-9 * step ? 0.0 : t;
  }
  return n;
}

PetscErrorCode PdPlotAxisDraw(PdPlot p, PdAxis a, double step, const char *fmt, const char *title)
{
  const int s = 2, tick = 6, gap = 8;
  double    v[200];
  int       n, maxw = 0;
  char      lab[64];

  PetscFunctionBegin;
  if (!(step > 0)) step = PdPlotNiceStep(p->lo[a], p->hi[a], 6);
  n = Ticks(p->lo[a], p->hi[a], step, v);
  if (a == PD_AXIS_X) {
    Fill(p, p->left, p->bottom, p->right, p->bottom, pd_ink);
    for (int i = 0; i < n; i++) {
      int px;
      PetscCall(PdPlotToPixel(p, a, v[i], 0, &px, NULL));
      Fill(p, px, p->bottom, px, p->bottom + tick, pd_ink);
      snprintf(lab, sizeof(lab), fmt, v[i]);
      PetscCall(PdPlotText(p, px, p->bottom + tick + gap / 2, s, PD_ALIGN_CENTER, PETSC_FALSE, pd_ink, lab));
    }
    PetscCall(PdPlotText(p, (p->left + p->right) / 2, p->bottom + tick + gap / 2 + 7 * s + gap + 4, s, PD_ALIGN_CENTER, PETSC_FALSE, pd_ink, title));
    PetscFunctionReturn(0);
  }
  const int edge = a == PD_AXIS_Y ? p->left : p->right, dir = a == PD_AXIS_Y ? -1 : 1;
  Fill(p, edge, p->top, edge, p->bottom, pd_ink);
  for (int i = 0; i < n; i++) {
    int py;
    PetscCall(PdPlotToPixel(p, a, 0, v[i], NULL, &py));
    Fill(p, edge, py, edge + dir * tick, py, pd_ink);
    snprintf(lab, sizeof(lab), fmt, v[i]);
    maxw = PetscMax(maxw, PdPlotTextWidth(lab, s));
    PetscCall(PdPlotText(p, edge + dir * (tick + gap / 2), py - 7 * s / 2, s, a == PD_AXIS_Y ? PD_ALIGN_RIGHT : PD_ALIGN_LEFT, PETSC_FALSE, pd_ink, lab));
  }
  if (title) {
    int x = a == PD_AXIS_Y ? edge - tick - gap / 2 - maxw - gap - 7 * s : edge + tick + gap / 2 + maxw + gap;
    PetscCall(PdPlotText(p, x, (p->top + p->bottom) / 2, s, PD_ALIGN_CENTER, PETSC_TRUE, pd_ink, title));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotAxisCategories(PdPlot p, int n, const char *const labels[], const char *title)
{
  const int s = 2, tick = 6, gap = 8;

  PetscFunctionBegin;
  PetscCheck(n >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "no categories");
  PetscCall(PdPlotSetRange(p, PD_AXIS_X, -0.5, n - 0.5));
  Fill(p, p->left, p->bottom, p->right, p->bottom, pd_ink);
  for (int i = 0; i < n; i++) {
    int px;
    PetscCall(PdPlotToPixel(p, PD_AXIS_X, i, 0, &px, NULL));
    Fill(p, px, p->bottom, px, p->bottom + tick, pd_ink);
    PetscCall(PdPlotText(p, px, p->bottom + tick + gap / 2, s, PD_ALIGN_CENTER, PETSC_FALSE, pd_ink, labels[i]));
  }
  PetscCall(PdPlotText(p, (p->left + p->right) / 2, p->bottom + tick + gap / 2 + 7 * s + gap + 4, s, PD_ALIGN_CENTER, PETSC_FALSE, pd_ink, title));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotGrid(PdPlot p, PdAxis a, double step, PdColor c)
{
  double v[200];
  int    n;

  PetscFunctionBegin;
  PetscCheck(a != PD_AXIS_X, PETSC_COMM_SELF, PETSC_ERR_SUP, "grid lines are horizontal (y axes only)");
  if (!(step > 0)) step = PdPlotNiceStep(p->lo[a], p->hi[a], 6);
  n = Ticks(p->lo[a], p->hi[a], step, v);
  for (int i = 0; i < n; i++) {
    int py;
    PetscCall(PdPlotToPixel(p, a, 0, v[i], NULL, &py));
    if (py > p->top && py < p->bottom) Fill(p, p->left + 1, py, p->right - 1, py, c);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotBar(PdPlot p, PdAxis a, double x, double width, double y0, double y1, PdColor c)
{
  int     x0, x1, py0, py1;
  PdColor dark = {(unsigned char)(c.r * 0.6), (unsigned char)(c.g * 0.6), (unsigned char)(c.b * 0.6)};

  PetscFunctionBegin;
  PetscCall(PdPlotToPixel(p, a, x - width / 2, y0, &x0, &py0));
  PetscCall(PdPlotToPixel(p, a, x + width / 2, y1, &x1, &py1));
  /* clipped to the frame */
  py0 = PetscMin(PetscMax(py0, p->top), p->bottom);
  py1 = PetscMin(PetscMax(py1, p->top), p->bottom);
  if (py0 == py1) PetscFunctionReturn(0);
  Fill(p, x0, py0, x1, py1, c);
  Fill(p, x0, py0, x0, py1, dark);
  Fill(p, x1, py0, x1, py1, dark);
  Fill(p, x0, py0, x1, py0, dark);
  Fill(p, x0, py1, x1, py1, dark);
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotLine(PdPlot p, PdAxis a, int n, const double x[], const double y[], int thickness, PetscBool dashed, PdColor c)
{
  int phase = 0;

  PetscFunctionBegin;
  for (int i = 0; i + 1 < n; i++) {
    int x0, y0, x1, y1;
    if (!isfinite(y[i]) || !isfinite(y[i + 1])) continue;
    PetscCall(PdPlotToPixel(p, a, x[i], y[i], &x0, &y0));
    PetscCall(PdPlotToPixel(p, a, x[i + 1], y[i + 1], &x1, &y1));
    Segment(p, x0, y0, x1, y1, PetscMax(thickness, 1), dashed, &phase, c);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotMarkers(PdPlot p, PdAxis a, int n, const double x[], const double y[], int size, PdColor c)
{
  const PdColor white = {255, 255, 255};

  PetscFunctionBegin;
  for (int i = 0; i < n; i++) {
    int px, py;
    if (!isfinite(y[i])) continue;
    PetscCall(PdPlotToPixel(p, a, x[i], y[i], &px, &py));
    Disc(p, px, py, size / 2.0 + 1.5, white);
    Disc(p, px, py, size / 2.0, c);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotFillRect(PdPlot p, int x0, int y0, int x1, int y1, PdColor c)
{
  PetscFunctionBegin;
  Fill(p, x0, y0, x1, y1, c);
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotTick(PdPlot p, PdAxis a, double x, double width, double y, int thickness, PdColor c)
{
  int x0, x1, py;

  PetscFunctionBegin;
  PetscCall(PdPlotToPixel(p, a, x - width / 2, y, &x0, &py));
  PetscCall(PdPlotToPixel(p, a, x + width / 2, y, &x1, NULL));
  Fill(p, x0, py - (thickness - 1) / 2, x1, py - (thickness - 1) / 2 + thickness - 1, c);
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotLegend(PdPlot p, int x, int y, int scale, int n, const char *const labels[], const PdColor colors[], const PdLegendKind kinds[])
{
  const int     pad = 8, sym = 28, th = 7 * scale, row = th + 8;
  const PdColor border = {150, 150, 150}, white = {255, 255, 255};
  int           maxw = 0, W, H;

  PetscFunctionBegin;
  for (int i = 0; i < n; i++) maxw = PetscMax(maxw, PdPlotTextWidth(labels[i], scale));
  W = pad + sym + pad + maxw + pad;
  H = pad + n * row - 8 + pad;
  Fill(p, x, y, x + W, y + H, white);
  Fill(p, x, y, x + W, y, border);
  Fill(p, x, y + H, x + W, y + H, border);
  Fill(p, x, y, x, y + H, border);
  Fill(p, x + W, y, x + W, y + H, border);
  for (int i = 0; i < n; i++) {
    int ty = y + pad + i * row, cy = ty + th / 2, sx = x + pad;
    switch (kinds[i]) {
    case PD_LEGEND_BOX: {
      PdColor dark = {(unsigned char)(colors[i].r * 0.6), (unsigned char)(colors[i].g * 0.6), (unsigned char)(colors[i].b * 0.6)};
      Fill(p, sx + 4, ty, sx + sym - 4, ty + th - 1, dark);
      Fill(p, sx + 5, ty + 1, sx + sym - 5, ty + th - 2, colors[i]);
    } break;
    case PD_LEGEND_LINE:
      Fill(p, sx, cy - 1, sx + sym, cy + 1, colors[i]);
      Disc(p, sx + sym / 2, cy, 6.5, white);
      Disc(p, sx + sym / 2, cy, 5, colors[i]);
      break;
    case PD_LEGEND_DASH:
      Fill(p, sx + 2, cy - 1, sx + sym - 2, cy + 1, colors[i]);
      break;
    }
    PetscCall(PdPlotText(p, sx + sym + pad, ty, scale, PD_ALIGN_LEFT, PETSC_FALSE, pd_ink, labels[i]));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotWritePNG(PdPlot p, MPI_Comm comm, const char *path)
{
  int rank, wh[2] = {0, 0};

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    PetscCheck(p, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "rank 0 has no plot to write");
    wh[0] = p->w;
    wh[1] = p->h;
  }
  PetscCallMPI(MPI_Bcast(wh, 2, MPI_INT, 0, comm));
  PetscCall(PdWriteRGBPng(comm, path, wh[0], wh[1], rank ? NULL : p->px));
  PetscFunctionReturn(0);
}
