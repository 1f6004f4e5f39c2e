/* Charts (see plot.h): one frame with x, left y and right y axes, bars, lines, markers and a
   legend, drawn with cairo on a canvas. Axis lines and bar edges are snapped to pixel
   boundaries so that they stay crisp; lines and markers are antialiased. */
#include "viz/canvas_impl.h"
#include <pdecon/viz/plot.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PD_TICK_LEN    5.0  /* pixels */
#define PD_TICK_FONT   14.0 /* tick labels */
#define PD_TITLE_FONT  15.0 /* axis titles */
#define PD_LABEL_GAP   6.0  /* between a tick and its label */

struct _p_PdPlot {
  PdCanvas c;
  double   left, top, right, bottom; /* frame, pixels */
  double   lo[3], hi[3];             /* data ranges of x, y, y2 */
};

PetscErrorCode PdPlotCreate(int w, int h, PdPlot *p)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(p));
  PetscCall(PdCanvasCreate(w, h, &(*p)->c));
  (*p)->right  = w;
  (*p)->bottom = h;
  for (int a = 0; a < 3; a++) (*p)->hi[a] = 1;
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotDestroy(PdPlot *p)
{
  PetscFunctionBegin;
  if (!*p) PetscFunctionReturn(0);
  PetscCall(PdCanvasDestroy(&(*p)->c));
  PetscCall(PetscFree(*p));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotGetCanvas(PdPlot p, PdCanvas *c)
{
  PetscFunctionBegin;
  *c = p->c;
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotSetFrame(PdPlot p, double left, double top, double right, double bottom)
{
  PetscFunctionBegin;
  PetscCheck(left < right && top < bottom, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "empty plot frame");
  p->left   = round(left);
  p->top    = round(top);
  p->right  = round(right);
  p->bottom = round(bottom);
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

PetscErrorCode PdPlotToPixel(PdPlot p, PdAxis a, double x, double y, double *px, double *py)
{
  PetscFunctionBegin;
  if (px) *px = p->left + (x - p->lo[PD_AXIS_X]) / (p->hi[PD_AXIS_X] - p->lo[PD_AXIS_X]) * (p->right - p->left);
  if (py) *py = p->bottom - (y - p->lo[a]) / (p->hi[a] - p->lo[a]) * (p->bottom - p->top);
  PetscFunctionReturn(0);
}

/* A one-pixel line between pixel centres (coordinates rounded to pixels). */
static void HairLine(PdPlot p, double x0, double y0, double x1, double y1, PdColor c)
{
  cairo_t *cr = p->c->cr;

  cairo_move_to(cr, round(x0) + 0.5, round(y0) + 0.5);
  cairo_line_to(cr, round(x1) + 0.5, round(y1) + 0.5);
  cairo_set_line_width(cr, 1);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
  PdCairoColor(cr, c);
  cairo_stroke(cr);
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

/* The x axis line, its ticks at the given x values with their labels, and its title. */
static PetscErrorCode XAxis(PdPlot p, int n, const double x[], const char *const labels[], const char *title)
{
  const double ly = p->bottom + PD_TICK_LEN + PD_LABEL_GAP + 0.36 * PD_TICK_FONT;

  PetscFunctionBegin;
  HairLine(p, p->left, p->bottom, p->right, p->bottom, PdInk);
  for (int i = 0; i < n; i++) {
    double px;
    PetscCall(PdPlotToPixel(p, PD_AXIS_X, x[i], 0, &px, NULL));
    HairLine(p, px, p->bottom, px, p->bottom + PD_TICK_LEN, PdInk);
    PetscCall(PdCanvasText(p->c, round(px) + 0.5, ly, PD_TICK_FONT, PD_TEXT_NORMAL, PD_ALIGN_CENTER, PdInk, labels[i]));
  }
  PetscCall(PdCanvasText(p->c, (p->left + p->right) / 2, ly + PD_TICK_FONT + 14, PD_TITLE_FONT, PD_TEXT_NORMAL, PD_ALIGN_CENTER, PdInk, title));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotAxisDraw(PdPlot p, PdAxis a, double step, const char *fmt, const char *title)
{
  double v[200], maxw = 0;
  char   lab[200][32];
  int    n;

  PetscFunctionBegin;
  if (!(step > 0)) step = PdPlotNiceStep(p->lo[a], p->hi[a], 6);
  n = Ticks(p->lo[a], p->hi[a], step, v);
  for (int i = 0; i < n; i++) snprintf(lab[i], sizeof(lab[i]), fmt, v[i]);
  if (a == PD_AXIS_X) {
    const char *labels[200];
    for (int i = 0; i < n; i++) labels[i] = lab[i];
    PetscCall(XAxis(p, n, v, labels, title));
    PetscFunctionReturn(0);
  }
  const double edge = a == PD_AXIS_Y ? p->left : p->right, dir = a == PD_AXIS_Y ? -1 : 1;
  HairLine(p, edge, p->top, edge, p->bottom, PdInk);
  for (int i = 0; i < n; i++) {
    double py, tw;
    PetscCall(PdPlotToPixel(p, a, 0, v[i], NULL, &py));
    HairLine(p, edge, py, edge + dir * PD_TICK_LEN, py, PdInk);
    PetscCall(PdCanvasTextWidth(p->c, PD_TICK_FONT, PD_TEXT_NORMAL, lab[i], &tw));
    maxw = PetscMax(maxw, tw);
    PetscCall(PdCanvasText(p->c, edge + dir * (PD_TICK_LEN + PD_LABEL_GAP), round(py) + 0.5, PD_TICK_FONT, PD_TEXT_NORMAL, a == PD_AXIS_Y ? PD_ALIGN_RIGHT : PD_ALIGN_LEFT, PdInk, lab[i]));
  }
  if (title) {
    double x = edge + dir * (PD_TICK_LEN + PD_LABEL_GAP + maxw + 12 + 0.5 * PD_TITLE_FONT);
    PetscCall(PdCanvasText(p->c, x, (p->top + p->bottom) / 2, PD_TITLE_FONT, PD_TEXT_VERTICAL, PD_ALIGN_CENTER, PdInk, title));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotAxisLabels(PdPlot p, int n, const double x[], const char *const labels[], const char *title)
{
  PetscFunctionBegin;
  PetscCheck(n >= 0 && n <= 200, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%d tick labels (0 to 200)", n);
  PetscCall(XAxis(p, n, x, labels, title));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotAxisCategories(PdPlot p, int n, const char *const labels[], const char *title)
{
  double x[200];

  PetscFunctionBegin;
  PetscCheck(n >= 1 && n <= 200, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%d categories (1 to 200)", n);
  PetscCall(PdPlotSetRange(p, PD_AXIS_X, -0.5, n - 0.5));
  for (int i = 0; i < n; i++) x[i] = i;
  PetscCall(XAxis(p, n, x, labels, title));
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
    double py;
    PetscCall(PdPlotToPixel(p, a, 0, v[i], NULL, &py));
    if (round(py) > p->top && round(py) < p->bottom) HairLine(p, p->left + 1, py, p->right - 1, py, c);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotBar(PdPlot p, PdAxis a, double x, double width, double y0, double y1, PdColor c)
{
  cairo_t *cr = p->c->cr;
  double   x0, x1, py0, py1, t, b;

  PetscFunctionBegin;
  PetscCall(PdPlotToPixel(p, a, x - width / 2, y0, &x0, &py0));
  PetscCall(PdPlotToPixel(p, a, x + width / 2, y1, &x1, &py1));
  x0 = round(x0);
  x1 = round(x1);
  t  = round(PetscMin(PetscMax(PetscMin(py0, py1), p->top), p->bottom)); /* clipped to the frame */
  b  = round(PetscMin(PetscMax(PetscMax(py0, py1), p->top), p->bottom));
  if (b <= t || x1 <= x0) PetscFunctionReturn(0);
  PetscCall(PdCanvasFillRect(p->c, x0, t, x1 - x0, b - t, c));
  cairo_rectangle(cr, x0 + 0.5, t + 0.5, x1 - x0 - 1, b - t - 1);
  cairo_set_line_width(cr, 1);
  PdCairoColor(cr, PdColorShade(c, 0.7));
  cairo_stroke(cr);
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotLine(PdPlot p, PdAxis a, int n, const double x[], const double y[], double width, PetscBool dashed, PdColor c)
{
  cairo_t     *cr   = p->c->cr;
  const double dash[2] = {8, 6};
  PetscBool    open = PETSC_FALSE;

  PetscFunctionBegin;
  for (int i = 0; i < n; i++) {
    double px, py;
    if (!isfinite(y[i])) {
      open = PETSC_FALSE;
      continue;
    }
    PetscCall(PdPlotToPixel(p, a, x[i], y[i], &px, &py));
    if (open) cairo_line_to(cr, px, py);
    else cairo_move_to(cr, px, py);
    open = PETSC_TRUE;
  }
  cairo_set_line_width(cr, width);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  if (dashed) cairo_set_dash(cr, dash, 2, 0);
  PdCairoColor(cr, c);
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
  PetscFunctionReturn(0);
}

static void Marker(cairo_t *cr, double px, double py, double diameter, PdColor c)
{
  cairo_new_sub_path(cr);
  cairo_arc(cr, px, py, diameter / 2 + 1.5, 0, 2 * M_PI);
  PdCairoColor(cr, PdWhite);
  cairo_fill(cr);
  cairo_arc(cr, px, py, diameter / 2, 0, 2 * M_PI);
  PdCairoColor(cr, c);
  cairo_fill(cr);
}

PetscErrorCode PdPlotMarkers(PdPlot p, PdAxis a, int n, const double x[], const double y[], double diameter, PdColor c)
{
  PetscFunctionBegin;
  for (int i = 0; i < n; i++) {
    double px, py;
    if (!isfinite(y[i])) continue;
    PetscCall(PdPlotToPixel(p, a, x[i], y[i], &px, &py));
    Marker(p->c->cr, px, py, diameter, c);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotTick(PdPlot p, PdAxis a, double x, double width, double y, double thickness, PdColor c)
{
  double x0, x1, py;

  PetscFunctionBegin;
  PetscCall(PdPlotToPixel(p, a, x - width / 2, y, &x0, &py));
  PetscCall(PdPlotToPixel(p, a, x + width / 2, y, &x1, NULL));
  PetscCall(PdCanvasFillRect(p->c, round(x0), round(py - thickness / 2), round(x1) - round(x0), thickness, c));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotLegend(PdPlot p, double x, double y, double size, int n, const char *const labels[], const PdColor colors[], const PdLegendKind kinds[], double *bottom)
{
  const double  pad = 10, sym = 28, row = round(1.7 * size);
  const PdColor border = {170, 170, 170};
  cairo_t      *cr   = p->c->cr;
  double        maxw = 0, W, H;

  PetscFunctionBegin;
  for (int i = 0; i < n; i++) {
    double tw;
    PetscCall(PdCanvasTextWidth(p->c, size, PD_TEXT_NORMAL, labels[i], &tw));
    maxw = PetscMax(maxw, tw);
  }
  x = round(x);
  y = round(y);
  W = round(pad + sym + pad + maxw + pad);
  H = round(pad / 2 + n * row + pad / 2);
  PetscCall(PdCanvasFillRect(p->c, x, y, W, H, PdWhite));
  cairo_rectangle(cr, x + 0.5, y + 0.5, W - 1, H - 1);
  cairo_set_line_width(cr, 1);
  PdCairoColor(cr, border);
  cairo_stroke(cr);
  for (int i = 0; i < n; i++) {
    double cy = y + pad / 2 + (i + 0.5) * row, sx = x + pad;
    switch (kinds[i]) {
    case PD_LEGEND_BOX:
      PetscCall(PdCanvasFillRect(p->c, sx + 4, round(cy - 0.4 * size), sym - 8, round(0.8 * size), PdColorShade(colors[i], 0.7)));
      PetscCall(PdCanvasFillRect(p->c, sx + 5, round(cy - 0.4 * size) + 1, sym - 10, round(0.8 * size) - 2, colors[i]));
      break;
    case PD_LEGEND_LINE:
      PetscCall(PdCanvasFillRect(p->c, sx, round(cy) - 1, sym, 3, colors[i]));
      Marker(cr, sx + sym / 2, round(cy) + 0.5, 10, colors[i]);
      break;
    case PD_LEGEND_DASH:
      PetscCall(PdCanvasFillRect(p->c, sx + 2, round(cy) - 1, sym - 4, 3, colors[i]));
      break;
    }
    PetscCall(PdCanvasText(p->c, sx + sym + pad, cy, size, PD_TEXT_NORMAL, PD_ALIGN_LEFT, PdInk, labels[i]));
  }
  if (bottom) *bottom = y + H;
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlotWritePNG(PdPlot p, MPI_Comm comm, const char *path)
{
  PetscFunctionBegin;
  PetscCall(PdCanvasWritePNG(p ? p->c : NULL, comm, path));
  PetscFunctionReturn(0);
}
