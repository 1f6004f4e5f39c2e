/* The convergence plot (convergence.h): two chart frames on one canvas, PSNR against log10 of
   the iteration and of the seconds. The frames and ranges are a function of the curves alone
   (Layout), so that PdConvergencePlotLocate finds any point where the drawing put it. Curves
   with few points (the few-iteration methods) get a marker at each, so that they stay visible
   beside 100-iteration curves. */
#include <pdecon/viz/convergence.h>
#include <pdecon/viz/plot.h>
#include <math.h>
#include <stdio.h>

#define W          1240
#define H          520
#define TOP        76
#define BOTTOM     430
#define NCOLORS    10
#define MAX_CURVES 20 /* the colours solid, then dashed */
#define MARKED     12 /* curves of at most this many points get markers */

static const PdColor Palette[NCOLORS] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

PdColor PdConvergenceColor(int i) { return Palette[((i % NCOLORS) + NCOLORS) % NCOLORS]; }

typedef struct {
  double left[2], right[2]; /* the two frames (top, bottom shared) */
  double xlo[2], xhi[2];    /* log10 ranges: iterations, seconds */
  double ylo, yhi, ystep;   /* PSNR */
} Layout;

static double X(const PdConvergenceCurve *c, PdConvergencePanel panel, int k)
{
  if (panel == PD_CONVERGENCE_ITERATIONS) return log10((double)(k + 1));
  return c->seconds[k] > 0 ? log10(c->seconds[k]) : NAN;
}

static PetscErrorCode MakeLayout(int nc, const PdConvergenceCurve c[], Layout *l)
{
  double ymin = INFINITY, ymax = -INFINITY;

  PetscFunctionBegin;
  PetscCheck(nc >= 1 && nc <= MAX_CURVES, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%d curves (1 to %d)", nc, MAX_CURVES);
  l->left[0]  = 86;
  l->right[0] = 526;
  l->left[1]  = 626;
  l->right[1] = 1066;
  for (int p = 0; p < 2; p++) {
    l->xlo[p] = INFINITY;
    l->xhi[p] = -INFINITY;
  }
  for (int i = 0; i < nc; i++)
    for (int k = 0; k < c[i].n; k++) {
      if (isfinite(c[i].psnr[k])) {
        ymin = PetscMin(ymin, c[i].psnr[k]);
        ymax = PetscMax(ymax, c[i].psnr[k]);
      }
      for (int p = 0; p < 2; p++) {
        double x = X(&c[i], (PdConvergencePanel)p, k);
        if (isfinite(x)) {
          l->xlo[p] = PetscMin(l->xlo[p], x);
          l->xhi[p] = PetscMax(l->xhi[p], x);
        }
      }
    }
  if (!(ymax >= ymin)) ymin = ymax = 0;
  l->ystep = PdPlotNiceStep(ymin, ymax + 1e-3, 6);
  l->ylo   = floor(ymin / l->ystep) * l->ystep;
  l->yhi   = ceil(ymax / l->ystep) * l->ystep;
  if (l->yhi - l->ylo < l->ystep) l->yhi = l->ylo + l->ystep;
  if (ymax > l->yhi - 0.02 * (l->yhi - l->ylo)) l->yhi += l->ystep; /* room above the top point */
  /* a margin of a twentieth of the range at either end (a single point: a decade around it) */
  for (int p = 0; p < 2; p++) {
    if (!(l->xhi[p] >= l->xlo[p])) l->xlo[p] = l->xhi[p] = 0;
    double m = l->xhi[p] > l->xlo[p] ? 0.05 * (l->xhi[p] - l->xlo[p]) : 0.5;
    l->xlo[p] -= m;
    l->xhi[p] += m;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode SetPanel(PdPlot p, const Layout *l, int panel)
{
  PetscFunctionBegin;
  PetscCall(PdPlotSetFrame(p, l->left[panel], TOP, l->right[panel], BOTTOM));
  PetscCall(PdPlotSetRange(p, PD_AXIS_X, l->xlo[panel], l->xhi[panel]));
  PetscCall(PdPlotSetRange(p, PD_AXIS_Y, l->ylo, l->yhi));
  PetscFunctionReturn(0);
}

PetscErrorCode PdConvergencePlotLocate(int nc, const PdConvergenceCurve c[], PdConvergencePanel panel, double x, double psnr, double *px, double *py)
{
  Layout l;
  PdPlot p;

  PetscFunctionBegin;
  PetscCall(MakeLayout(nc, c, &l));
  PetscCall(PdPlotCreate(W, H, &p));
  PetscCall(SetPanel(p, &l, (int)panel));
  PetscCall(PdPlotToPixel(p, PD_AXIS_Y, log10(x), psnr, px, py));
  PetscCall(PdPlotDestroy(&p));
  PetscFunctionReturn(0);
}

/* Ticks of a logarithmic axis over [lo, hi] (log10 units): 1, 2, 5 times the powers of ten, or
   only the powers when that would crowd the axis. */
static int LogTicks(double lo, double hi, double v[], char lab[][16])
{
  const double mult[3] = {1, 2, 5};
  const int    all = hi - lo <= 3.5;
  int          n = 0;

  for (int e = (int)floor(lo) - 1; e <= (int)ceil(hi) && n < 40; e++)
    for (int j = 0; j < (all ? 3 : 1) && n < 40; j++) {
      double t = log10(mult[j]) + e;
      if (t < lo || t > hi) continue;
      v[n] = t;
      snprintf(lab[n], sizeof(lab[n]), "%g", mult[j] * pow(10.0, e));
      n++;
    }
  return n;
}

PetscErrorCode PdConvergencePlotWrite(MPI_Comm comm, const char *path, const char *title, int nc, const PdConvergenceCurve c[])
{
  const PdColor grid = {228, 228, 228};
  const char   *xtitle[2] = {"iterations", "seconds (solve time)"};
  Layout        l;
  PdPlot        p;
  PdCanvas      cv;
  const char   *names[MAX_CURVES];
  PdColor       cols[MAX_CURVES];
  PdLegendKind  kinds[MAX_CURVES];

  PetscFunctionBegin;
  PetscCall(MakeLayout(nc, c, &l));
  PetscCall(PdPlotCreate(W, H, &p));
  PetscCall(PdPlotGetCanvas(p, &cv));
  for (int panel = 0; panel < 2; panel++) {
    double tv[40];
    char   tl[40][16];
    const char *labels[40];
    int    nt = LogTicks(l.xlo[panel], l.xhi[panel], tv, tl);

    for (int i = 0; i < nt; i++) labels[i] = tl[i];
    PetscCall(SetPanel(p, &l, panel));
    PetscCall(PdPlotGrid(p, PD_AXIS_Y, l.ystep, grid));
    PetscCall(PdPlotAxisLabels(p, nt, tv, labels, xtitle[panel]));
    PetscCall(PdPlotAxisDraw(p, PD_AXIS_Y, l.ystep, "%g", "PSNR [dB]"));
    for (int i = 0; i < nc; i++) {
      double *x, *y;
      PetscCall(PetscMalloc2(PetscMax(1, c[i].n), &x, PetscMax(1, c[i].n), &y));
      for (int k = 0; k < c[i].n; k++) {
        x[k] = X(&c[i], (PdConvergencePanel)panel, k);
        y[k] = isfinite(x[k]) ? c[i].psnr[k] : NAN; /* a time not measured breaks the line */
      }
      PetscCall(PdPlotLine(p, PD_AXIS_Y, c[i].n, x, y, 2.5, (PetscBool)(i >= NCOLORS), PdConvergenceColor(i)));
      if (c[i].n <= MARKED) PetscCall(PdPlotMarkers(p, PD_AXIS_Y, c[i].n, x, y, 9, PdConvergenceColor(i)));
      PetscCall(PetscFree2(x, y));
    }
  }
  for (int i = 0; i < nc; i++) {
    names[i] = c[i].name;
    cols[i]  = PdConvergenceColor(i);
    kinds[i] = i < NCOLORS ? PD_LEGEND_LINE : PD_LEGEND_DASH;
  }
  PetscCall(PdPlotLegend(p, l.right[1] + 24, TOP, 14, nc, names, cols, kinds, NULL));
  if (title) PetscCall(PdCanvasText(cv, W / 2.0, 30, 18, PD_TEXT_BOLD, PD_ALIGN_CENTER, PdInk, title));
  PetscCall(PdPlotWritePNG(p, comm, path));
  PetscCall(PdPlotDestroy(&p));
  PetscFunctionReturn(0);
}
