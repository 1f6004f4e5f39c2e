/* Pictures: a chart's PNG decodes to its size with bars and lines in their colours on a white
   ground; text leaves dark pixels inside its box and none outside; an image panel keeps the
   image's values away from its caption and scale bar, which it draws; the projections equal a
   direct computation (also for a strided box of a bigger volume); the preview grid holds them and
   its PNG is byte for byte the one a single rank writes; the convergence plot draws each
   recorded point of each curve in the curve's colour where its axes put it, in both panels. */
/* ranks: 1 2 3 */
#define _XOPEN_SOURCE 700
#include "testutil.h"
#include <pdecon/viz/convergence.h>
#include <pdecon/viz/plot.h>
#include <pdecon/viz/preview.h>
#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const ptrdiff_t N[3] = {6, 40, 24};

/* The test volume: a smooth pattern plus one bright voxel. */
static float Value(ptrdiff_t z, ptrdiff_t y, ptrdiff_t x)
{
  return (z == 2 && y == 3 && x == 4) ? 100.0f : (float)(sin(0.7 * x + 0.3 * z) * cos(0.5 * y - 0.2 * z) + 0.1 * z);
}

static int Same(PdColor a, PdColor b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
static int Grey(PdColor a, int v) { return a.r == v && a.g == v && a.b == v; }

/* Pixel (x, y) of a decoded PNG. */
static PdColor PngPixel(cairo_surface_t *s, int x, int y)
{
  uint32_t v = ((const uint32_t *)(cairo_image_surface_get_data(s) + (size_t)y * (size_t)cairo_image_surface_get_stride(s)))[x];
  PdColor  c = {(unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
  return c;
}

static PetscErrorCode TestChart(const char *path)
{
  const PdColor blue = {31, 119, 180}, teal = {0, 128, 128};
  PdPlot        p;
  double        x[2] = {-0.5, 1.5}, y[2] = {1.5, 1.5}, px0, py0, px1, py1;
  const char   *labels[2] = {"1", "2"};
  int           rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(PdPlotCreate(320, 200, &p));
  PetscCall(PdPlotSetFrame(p, 60, 20, 300, 160));
  PetscCall(PdPlotSetRange(p, PD_AXIS_Y, 0, 2));
  PetscCall(PdPlotAxisCategories(p, 2, labels, "ranks"));
  PetscCall(PdPlotAxisDraw(p, PD_AXIS_Y, 0.5, "%g", "seconds"));
  PetscCall(PdPlotBar(p, PD_AXIS_Y, 0, 0.5, 0, 1, blue));
  PetscCall(PdPlotLine(p, PD_AXIS_Y, 2, x, y, 5, PETSC_FALSE, teal));
  PetscCall(PdPlotToPixel(p, PD_AXIS_Y, -0.25, 1, &px0, &py0)); /* the bar's top left corner */
  PetscCall(PdPlotToPixel(p, PD_AXIS_Y, 0.25, 0, &px1, &py1));
  PetscCall(PdPlotWritePNG(p, PETSC_COMM_WORLD, path));
  PetscCall(PdPlotDestroy(&p));
  if (!rank) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    PD_EXPECT(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "%s does not decode", path);
    PD_EXPECT(cairo_image_surface_get_width(s) == 320 && cairo_image_surface_get_height(s) == 200, "chart size %d x %d", cairo_image_surface_get_width(s), cairo_image_surface_get_height(s));
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS && cairo_image_surface_get_width(s) == 320) {
      int inside = 0, n = 0;
      /* inside the bar (its 1-pixel outline aside) */
      for (int j = (int)py0 + 2; j < (int)py1 - 2; j += 3)
        for (int i = (int)px0 + 2; i < (int)px1 - 2; i += 3, n++) inside += Same(PngPixel(s, i, j), blue);
      PD_EXPECT(n > 50 && inside == n, "bar colour at %d of %d pixels", inside, n);
      /* beside the bar, inside the frame, away from the line: background */
      PD_EXPECT(Grey(PngPixel(s, (int)px1 + 10, (int)py0 + 10), 255) && Grey(PngPixel(s, (int)px0 - 10, (int)py1 - 10), 255), "background beside the bar");
      /* on the 5-pixel line at y = 1.5, beyond the bar */
      PD_EXPECT(Same(PngPixel(s, 250, (int)floor(160 - 1.5 / 2 * 140)), teal), "line colour");
      /* the bar's outline is darker than its fill */
      PdColor edge = PngPixel(s, (int)px0, (int)(py0 + py1) / 2);
      PD_EXPECT(edge.b < blue.b && edge.r < blue.r + 1, "bar outline (%d %d %d)", edge.r, edge.g, edge.b);
    }
    cairo_surface_destroy(s);
    unlink(path);
  }
  PetscFunctionReturn(0);
}

/* The convergence plot of a 100-point curve and a 3-point one (markers): the decoded PNG has the
   curves' colours at their recorded points in both panels, white where no curve passes. */
static PetscErrorCode TestConvergence(const char *path)
{
  double             p1[100], t1[100], p2[3] = {32, 36, 34}, t2[3] = {0.3, 0.6, 0.9};
  PdConvergenceCurve c[2] = {{"rl", 100, p1, t1}, {"rl_wb", 3, p2, t2}};
  int                rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  for (int k = 0; k < 100; k++) {
    p1[k] = 30 + 5 * log10(k + 1.0);
    t1[k] = 0.5 * (k + 1);
  }
  PetscCall(PdConvergencePlotWrite(PETSC_COMM_WORLD, path, "test", 2, c));
  if (!rank) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    PD_EXPECT(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "%s does not decode", path);
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
      const int W = cairo_image_surface_get_width(s), H = cairo_image_surface_get_height(s);
      PD_EXPECT(W == 1240 && H == 520, "convergence plot %d x %d", W, H);
      for (int panel = 0; panel < 2 && W == 1240 && H == 520; panel++) {
        const int its[4] = {2, 10, 50, 90}; /* inner vertices: a line's end is cut square */
        int       wrong = 0;
        double    px, py;
        for (int j = 0; j < 4; j++) { /* vertices of the long curve (a 2.5-pixel line) */
          const int k = its[j] - 1;
          PetscCall(PdConvergencePlotLocate(2, c, (PdConvergencePanel)panel, panel ? t1[k] : k + 1, p1[k], &px, &py));
          wrong += !Same(PngPixel(s, (int)px, (int)py), PdConvergenceColor(0));
        }
        for (int k = 0; k < 3; k++) { /* markers of the short one */
          PetscCall(PdConvergencePlotLocate(2, c, (PdConvergencePanel)panel, panel ? t2[k] : k + 1, p2[k], &px, &py));
          wrong += !Same(PngPixel(s, (int)px, (int)py), PdConvergenceColor(1));
        }
        PD_EXPECT(!wrong, "convergence plot, panel %d: %d of 7 recorded points not in their curve's colour", panel, wrong);
        /* above both curves at the left end: background */
        PetscCall(PdConvergencePlotLocate(2, c, (PdConvergencePanel)panel, panel ? 0.3 : 1, 39, &px, &py));
        PD_EXPECT(Grey(PngPixel(s, (int)px + 3, (int)py), 255), "convergence plot, panel %d: no background above the curves", panel);
      }
    }
    cairo_surface_destroy(s);
    unlink(path);
  }
  PetscFunctionReturn(0);
}

/* Text: dark pixels inside its box, background around it. */
static PetscErrorCode TestText(void)
{
  PdCanvas c;
  double   w;
  int      dark = 0, stray = 0;

  PetscFunctionBegin;
  PetscCall(PdCanvasCreate(200, 60, &c));
  PetscCall(PdCanvasTextWidth(c, 16, PD_TEXT_NORMAL, "Deconvolution", &w));
  PD_EXPECT(w > 80 && w < 160, "text width %g", w);
  PetscCall(PdCanvasText(c, 100, 30, 16, PD_TEXT_NORMAL, PD_ALIGN_CENTER, PdInk, "Deconvolution"));
  for (int y = 0; y < 60; y++)
    for (int x = 0; x < 200; x++) {
      PdColor   px;
      /* the box: the advance width across, cap height 0.73 em centred on y, with 2 pixels of slack */
      PetscBool in = (PetscBool)(x >= 100 - w / 2 - 2 && x <= 100 + w / 2 + 2 && y >= 30 - 0.37 * 16 - 2 && y <= 30 + 0.37 * 16 + 2);
      PetscCall(PdCanvasGetPixel(c, x, y, &px));
      if (in) dark += px.r < 100;
      else stray += !Grey(px, 255);
    }
  PD_EXPECT(dark > 60 && !stray, "text: %d dark pixels inside its box, %d marked pixels outside", dark, stray);
  PetscCall(PdCanvasDestroy(&c));
  PetscFunctionReturn(0);
}

/* An image panel: the image's values away from the caption (top left) and the scale bar (bottom
   right), which are drawn in white over an image that holds no white. */
static PetscErrorCode TestPanel(void)
{
  const int      X = 5, Y = 7, W = 100, H = 60;
  unsigned char *g;
  PdCanvas       c;
  int            wrong = 0, capwhite = 0, barwhite = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(W * H, &g));
  for (int i = 0; i < W * H; i++) g[i] = (unsigned char)(10 + (i % W + 3 * (i / W)) % 100);
  PetscCall(PdCanvasCreate(120, 80, &c));
  PetscCall(PdCanvasImagePanel(c, X, Y, W, H, g, "xy", 0.1)); /* 10 um wide: a 2 um bar of 20 pixels */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      PdColor px;
      PetscCall(PdCanvasGetPixel(c, X + x, Y + y, &px));
      if ((x < 30 && y < 22) || (x >= W - 40 && y >= H - 26)) { /* the caption's and the bar's corners */
        capwhite += x < 30 && Grey(px, 255);
        barwhite += x >= W - 40 && Grey(px, 255);
      } else wrong += !Grey(px, g[y * W + x]);
    }
  PD_EXPECT(!wrong, "%d image pixels changed", wrong);
  PD_EXPECT(capwhite > 10, "caption: %d white pixels", capwhite);
  /* the bar: 20 x 3 white pixels 6 pixels from the right and bottom edges, and its label */
  PD_EXPECT(barwhite > 60, "scale bar: %d white pixels", barwhite);
  for (int x = W - 6 - 20; x < W - 6; x++) {
    PdColor px;
    PetscCall(PdCanvasGetPixel(c, X + x, Y + H - 7, &px));
    PD_EXPECT(Grey(px, 255), "scale bar pixel at x %d", x);
  }
  {
    PdColor px;
    PetscCall(PdCanvasGetPixel(c, X + W - 6 - 22, Y + H - 7, &px));
    PD_EXPECT(Grey(px, g[(H - 7) * W + W - 28]), "scale bar longer than 2 um");
  }
  PetscCall(PdCanvasDestroy(&c));
  PetscCall(PetscFree(g));
  PetscFunctionReturn(0);
}

static int CompareFloats(const void *a, const void *b)
{
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The projection computed directly from Value(), stretched and scaled as preview.h says. */
static void DirectMIP(PdView view, ptrdiff_t hz, unsigned char *out)
{
  ptrdiff_t rows = view == PD_VIEW_XY ? N[1] : N[0], cols = view == PD_VIEW_YZ ? N[1] : N[2];
  float         m[1000], sorted[1000], lo, hi;
  unsigned char s[1000];
  ptrdiff_t     n = rows * cols;

  for (ptrdiff_t r = 0; r < rows; r++)
    for (ptrdiff_t k = 0; k < cols; k++) {
      float v = -1e30f;
      for (ptrdiff_t t = 0; t < (view == PD_VIEW_XY ? N[0] : view == PD_VIEW_XZ ? N[1] : N[2]); t++)
        v = fmaxf(v, view == PD_VIEW_XY ? Value(t, r, k) : view == PD_VIEW_XZ ? Value(r, t, k) : Value(r, k, t));
      m[r * cols + k] = sorted[r * cols + k] = v;
    }
  qsort(sorted, (size_t)n, sizeof(float), CompareFloats);
  lo = sorted[(ptrdiff_t)(0.001 * (n - 1) + 0.5)];
  hi = sorted[(ptrdiff_t)(0.999 * (n - 1) + 0.5)];
  if (!(hi > lo)) {
    lo = sorted[0];
    hi = sorted[n - 1];
  }
  for (ptrdiff_t i = 0; i < n; i++) {
    double v = ((double)m[i] - lo) * (255.0 / ((double)hi - (double)lo));
    s[i]     = (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5);
  }
  for (ptrdiff_t r = 0; r < hz; r++) {
    double    zf = fmin(rows - 1.0, fmax(0.0, (r + 0.5) * rows / hz - 0.5));
    ptrdiff_t z0 = (ptrdiff_t)zf, z1 = z0 + 1 < rows ? z0 + 1 : z0;
    for (ptrdiff_t k = 0; k < cols; k++) out[r * cols + k] = (unsigned char)((1 - (zf - z0)) * s[z0 * cols + k] + (zf - z0) * s[z1 * cols + k] + 0.5);
  }
}

/* The three projections of v (layout l) against the direct computation. */
static PetscErrorCode TestMIP(const PdLayout *l, const float *v, const char *what)
{
  const double  voxel[3] = {300, 100, 150}; /* xz stretched 2 times, yz 3 times */
  const PdView  views[3] = {PD_VIEW_XY, PD_VIEW_XZ, PD_VIEW_YZ};
  const int     ew[3] = {24, 24, 40}, eh[3] = {40, 12, 18};
  unsigned char direct[2000];

  PetscFunctionBegin;
  for (int k = 0; k < 3; k++) {
    unsigned char *img;
    int            w, h, diff = 0;
    PetscCall(PdMIPImage(l, v, views[k], voxel, &w, &h, &img));
    PD_EXPECT(w == ew[k] && h == eh[k], "%s view %d: %d x %d", what, k, w, h);
    if (l->rank || w != ew[k] || h != eh[k]) continue;
    DirectMIP(views[k], h, direct);
    for (int i = 0; i < w * h; i++) diff += img[i] != direct[i];
    PD_EXPECT(!diff, "%s view %d: %d pixels differ from the direct projection", what, k, diff);
    if (k == 0) PD_EXPECT(img[3 * w + 4] == 255, "%s: the bright voxel", what);
    PetscCall(PetscFree(img));
  }
  PetscFunctionReturn(0);
}

/* The preview of two volumes: its xy panels hold the projections, and one rank writes the same
   bytes. */
static PetscErrorCode TestPreview(const PdLayout *a, const float *va, const PdLayout *b, const float *vb, const char *path, const char *path1)
{
  const double    voxel[3] = {300, 100, 100};
  PdPreviewColumn cols[2]  = {{a, va, "data", "PSNR 20.00 dB"}, {b, vb, "rl", NULL}};
  unsigned char  *mip;
  int             w, h;

  PetscFunctionBegin;
  PetscCall(PdPreviewWrite(path, 2, cols, voxel, PD_VIEW_XY | PD_VIEW_XZ));
  PetscCall(PdMIPImage(a, va, PD_VIEW_XY, voxel, &w, &h, &mip));
  if (!a->rank) {
    PdLayout *self;
    float    *v;
    FILE     *f0, *f1;
    int       found = 0, same = 1;
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);

    PD_EXPECT(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "%s does not decode", path);
    /* both columns' xy panels: the projection below the caption's corner (rows 16 on) */
    for (int oy = 0; cairo_surface_status(s) == CAIRO_STATUS_SUCCESS && oy + h <= cairo_image_surface_get_height(s); oy++)
      for (int ox = 0; ox + w <= cairo_image_surface_get_width(s); ox++) {
        int match = 1;
        for (int y = 16; y < h && match; y++)
          for (int x = 0; x < w && match; x++) match = Grey(PngPixel(s, ox + x, oy + y), mip[y * w + x]);
        found += match;
      }
    PD_EXPECT(found == 2, "the xy projection found %d times in the preview", found);
    cairo_surface_destroy(s);
    /* the whole volume on one rank */
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, N, &self));
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(self), &v));
    for (ptrdiff_t z = 0; z < N[0]; z++)
      for (ptrdiff_t y = 0; y < N[1]; y++)
        for (ptrdiff_t x = 0; x < N[2]; x++) v[z * self->ps + y * self->rs + x] = Value(z, y, x);
    cols[0] = (PdPreviewColumn){self, v, "data", "PSNR 20.00 dB"};
    cols[1] = (PdPreviewColumn){self, v, "rl", NULL};
    PetscCall(PdPreviewWrite(path1, 2, cols, voxel, PD_VIEW_XY | PD_VIEW_XZ));
    f0 = fopen(path, "rb");
    f1 = fopen(path1, "rb");
    PD_EXPECT(f0 && f1, "cannot open the previews");
    if (f0 && f1) {
      int c0, c1;
      do {
        c0 = fgetc(f0);
        c1 = fgetc(f1);
        same &= c0 == c1;
      } while (c0 != EOF && c1 != EOF);
      PD_EXPECT(same, "the preview on %d ranks differs from the one on 1 rank", a->size);
    }
    if (f0) fclose(f0);
    if (f1) fclose(f1);
    PetscCall(PdVolumeFree(&v));
    PetscCall(PdLayoutDestroy(&self));
    PetscCall(PetscFree(mip));
    unlink(path);
    unlink(path1);
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  ptrdiff_t pn[3] = {7, 42, 27};
  PdLayout *a, *p0, *par, *b;
  float    *va, *vb;
  char      chart[64], path[64], path1[64], conv[64];
  int       size;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  snprintf(chart, sizeof(chart), "viz_chart_np%d.png", size);
  snprintf(path, sizeof(path), "viz_preview_np%d.png", size);
  snprintf(path1, sizeof(path1), "viz_preview1_np%d.png", size);
  PetscCall(TestChart(chart));
  snprintf(conv, sizeof(conv), "viz_convergence_np%d.png", size);
  PetscCall(TestConvergence(conv));
  PetscCall(TestText());
  PetscCall(TestPanel());
  /* a: compact; b: a strided box of a bigger parent, whose other voxels must not show */
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, N, &a));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(a), &va));
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, pn, &p0));
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, pn, p0->z0, p0->nzl, pn[2] + 1, (pn[1] + 2) * (pn[2] + 1), &par));
  PetscCall(PdLayoutCreateBox(par, N, PETSC_FALSE, &b));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(par), &vb));
  for (size_t i = 0; i < PdLayoutLocalSize(par); i++) vb[i] = 1e6f;
  for (ptrdiff_t z = 0; z < a->nzl; z++)
    for (ptrdiff_t y = 0; y < N[1]; y++)
      for (ptrdiff_t x = 0; x < N[2]; x++) va[z * a->ps + y * a->rs + x] = Value(a->z0 + z, y, x);
  for (ptrdiff_t z = 0; z < b->nzl; z++)
    for (ptrdiff_t y = 0; y < N[1]; y++)
      for (ptrdiff_t x = 0; x < N[2]; x++) vb[z * b->ps + y * b->rs + x] = Value(b->z0 + z, y, x);
  PetscCall(TestMIP(a, va, "compact"));
  PetscCall(TestMIP(b, vb, "box"));
  PetscCall(TestPreview(a, va, b, vb, path, path1));
  /* a constant volume gives a black image */
  for (size_t i = 0; i < PdLayoutLocalSize(a); i++) va[i] = 5;
  {
    unsigned char *img;
    int            w, h, nonzero = 0;
    PetscCall(PdMIPImage(a, va, PD_VIEW_XY, NULL, &w, &h, &img));
    for (int i = 0; img && i < w * h; i++) nonzero += img[i] != 0;
    PD_EXPECT(!nonzero, "constant volume not black (%d pixels)", nonzero);
    PetscCall(PetscFree(img));
  }
  PetscCall(PdVolumeFree(&va));
  PetscCall(PdVolumeFree(&vb));
  PetscCall(PdLayoutDestroy(&b));
  PetscCall(PdLayoutDestroy(&par));
  PetscCall(PdLayoutDestroy(&p0));
  PetscCall(PdLayoutDestroy(&a));
  return PdTestFinalize("viz");
}
