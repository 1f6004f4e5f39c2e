/* Tiny raster plots for benchmark reports: an RGB canvas with one plot frame, an x axis and two y
   axes (left and right), filled bars, polylines, markers, 5 x 7 bitmap text (scaled by whole
   pixels), a legend, written as a PNG.

   Pixel coordinates have (0, 0) at the top left. Data coordinates are mapped into the frame by the
   ranges of PdPlotSetRange. Drawing is local to the calling process and clipped to the canvas;
   only PdPlotWritePNG is collective (rank 0 writes the file, atomically). Every rank may draw the
   same plot (it is cheap), or ranks other than 0 may skip drawing.

     PdPlotCreate(960, 600, &p); PdPlotSetFrame(p, 90, 60, 860, 500);
     PdPlotSetRange(p, PD_AXIS_X, -0.5, 3.5); PdPlotSetRange(p, PD_AXIS_Y, 0, 2);
     PdPlotAxisCategories(p, 4, labels, "ranks"); PdPlotAxisDraw(p, PD_AXIS_Y, 0, "%g", "time [s]");
     PdPlotBar(p, PD_AXIS_Y, 0, 0.6, 0, 1.2, color); ...
     PdPlotWritePNG(p, comm, "plot.png"); PdPlotDestroy(&p); */
#ifndef PDECON_PLOT_H
#define PDECON_PLOT_H

#include <pdecon/core/sys.h>

typedef struct {
  unsigned char r, g, b;
} PdColor;

typedef enum { PD_AXIS_X, PD_AXIS_Y, PD_AXIS_Y2 } PdAxis; /* x, left y, right y */
typedef enum { PD_ALIGN_LEFT, PD_ALIGN_CENTER, PD_ALIGN_RIGHT } PdAlign;
typedef enum { PD_LEGEND_BOX, PD_LEGEND_LINE, PD_LEGEND_DASH } PdLegendKind; /* filled box; line with a marker; short thick dash */

typedef struct _p_PdPlot *PdPlot;

/* A white canvas of w x h pixels (1 <= w, h <= 8192). */
PetscErrorCode PdPlotCreate(int w, int h, PdPlot *p);
PetscErrorCode PdPlotDestroy(PdPlot *p);
/* rgb: h rows of 3 w bytes. */
PetscErrorCode PdPlotGetPixels(PdPlot p, int *w, int *h, const unsigned char **rgb);

/* The plot frame, pixel rectangle [left, right] x [top, bottom]. */
PetscErrorCode PdPlotSetFrame(PdPlot p, int left, int top, int right, int bottom);
/* Data range of an axis (lo != hi). */
PetscErrorCode PdPlotSetRange(PdPlot p, PdAxis a, double lo, double hi);
/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n intervals over [lo, hi]. */
double PdPlotNiceStep(double lo, double hi, int n);
/* The frame side of an axis with ticks every `step` from a multiple of it (step <= 0: a nice step
   for about 6 intervals), tick labels printed with fmt (a printf format for one double), and
   the axis title (may be NULL): below the x axis, rotated beside y axes. */
PetscErrorCode PdPlotAxisDraw(PdPlot p, PdAxis a, double step, const char *fmt, const char *title);
/* A categorical x axis: n labels centred at x = 0, 1, ..., n - 1 (sets the x range to
   [-0.5, n - 0.5]). */
PetscErrorCode PdPlotAxisCategories(PdPlot p, int n, const char *const labels[], const char *title);
/* Light horizontal lines inside the frame at the ticks of a y axis (step as in PdPlotAxisDraw). */
PetscErrorCode PdPlotGrid(PdPlot p, PdAxis a, double step, PdColor c);

/* Filled bar centred at x, width in x units, from y0 to y1 on y axis a, with a dark outline. */
PetscErrorCode PdPlotBar(PdPlot p, PdAxis a, double x, double width, double y0, double y1, PdColor c);
/* Polyline through n points (data coordinates on y axis a); dashed: 8 on, 6 off pixels. */
PetscErrorCode PdPlotLine(PdPlot p, PdAxis a, int n, const double x[], const double y[], int thickness, PetscBool dashed, PdColor c);
/* Filled circular markers of the given diameter (pixels) with a white rim. */
PetscErrorCode PdPlotMarkers(PdPlot p, PdAxis a, int n, const double x[], const double y[], int size, PdColor c);
/* A horizontal tick of `width` x units and `thickness` pixels centred at (x, y) (e.g. a measured
   value on top of a bar). */
PetscErrorCode PdPlotTick(PdPlot p, PdAxis a, double x, double width, double y, int thickness, PdColor c);
/* A filled rectangle in pixels, corners inclusive (e.g. a background behind a label). */
PetscErrorCode PdPlotFillRect(PdPlot p, int x0, int y0, int x1, int y1, PdColor c);
/* Data coordinates to pixels. */
PetscErrorCode PdPlotToPixel(PdPlot p, PdAxis a, double x, double y, int *px, int *py);

/* Text with its top edge at y (vertical: rotated 90 degrees counter-clockwise, reading upwards,
   its left edge at x and the alignment along y); scale: pixels per font dot (1, 2, 3, ...).
   Characters outside printable ASCII are drawn as '?'. */
PetscErrorCode PdPlotText(PdPlot p, int x, int y, int scale, PdAlign align, PetscBool vertical, PdColor c, const char *s);
/* Width in pixels of a line of text at this scale (6 dots per character, less the last gap);
   its height is 7 * scale above the baseline plus scale for descenders. */
int PdPlotTextWidth(const char *s, int scale);
/* A framed legend box with its top left corner at (x, y), one entry per row. */
PetscErrorCode PdPlotLegend(PdPlot p, int x, int y, int scale, int n, const char *const labels[], const PdColor colors[], const PdLegendKind kinds[]);

/* Collective on comm: rank 0 writes its canvas as an 8-bit RGB PNG, atomically (see io.h). */
PetscErrorCode PdPlotWritePNG(PdPlot p, MPI_Comm comm, const char *path);

/* The font: glyphs for ' ' (32) to '~' (126), 5 columns left to right, bit r = row r from the top
   (rows 0-6; row 7 holds descenders). */
extern const unsigned char PdPlotFont5x7[95][5];

#endif
