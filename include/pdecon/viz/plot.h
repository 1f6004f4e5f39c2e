/* Charts for benchmark reports, drawn on a canvas (canvas.h): one plot frame with an x axis and
   two y axes (left and right), tick labels and axis titles, filled bars, lines, markers and a
   legend; text and other marks go on the chart's canvas.

   Data coordinates are mapped into the frame by the ranges of PdPlotSetRange. Drawing is local
   to the calling process; only PdPlotWritePNG is collective (rank 0 writes the file,
   atomically).

     PdPlotCreate(960, 600, &p); PdPlotSetFrame(p, 90, 60, 860, 500);
     PdPlotSetRange(p, PD_AXIS_Y, 0, 2);
     PdPlotAxisCategories(p, 4, labels, "ranks"); PdPlotAxisDraw(p, PD_AXIS_Y, 0, "%g", "time [s]");
     PdPlotBar(p, PD_AXIS_Y, 0, 0.6, 0, 1.2, color); ...
     PdPlotWritePNG(p, comm, "plot.png"); PdPlotDestroy(&p); */
#ifndef PDECON_PLOT_H
#define PDECON_PLOT_H

#include <pdecon/viz/canvas.h>

typedef enum { PD_AXIS_X, PD_AXIS_Y, PD_AXIS_Y2 } PdAxis; /* x, left y, right y */
typedef enum { PD_LEGEND_BOX, PD_LEGEND_LINE, PD_LEGEND_DASH } PdLegendKind; /* filled box; line with a marker; short thick dash */

typedef struct _p_PdPlot *PdPlot;

/* A chart on a white canvas of w x h pixels; the frame is the whole canvas until set. */
PetscErrorCode PdPlotCreate(int w, int h, PdPlot *p);
PetscErrorCode PdPlotDestroy(PdPlot *p);
/* The chart's canvas, for titles and notes (owned by the chart). */
PetscErrorCode PdPlotGetCanvas(PdPlot p, PdCanvas *c);

/* The plot frame, pixel rectangle [left, right] x [top, bottom]. */
PetscErrorCode PdPlotSetFrame(PdPlot p, double left, double top, double right, double bottom);
/* Data range of an axis (lo != hi). */
PetscErrorCode PdPlotSetRange(PdPlot p, PdAxis a, double lo, double hi);
/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n intervals over [lo, hi]. */
double PdPlotNiceStep(double lo, double hi, int n);
/* The frame side of an axis with ticks every `step` from a multiple of it (step <= 0: a nice step
   for about 6 intervals), tick labels printed with fmt (a printf format for one double), and
   the axis title (may be NULL): below the x axis, turned upright beside y axes. */
PetscErrorCode PdPlotAxisDraw(PdPlot p, PdAxis a, double step, const char *fmt, const char *title);
/* A categorical x axis: n labels centred at x = 0, 1, ..., n - 1 (sets the x range to
   [-0.5, n - 0.5]). */
PetscErrorCode PdPlotAxisCategories(PdPlot p, int n, const char *const labels[], const char *title);
/* An x axis with ticks at the given x values (data coordinates) and these labels, e.g. the
   powers of ten of a logarithmic axis drawn as log10(x). */
PetscErrorCode PdPlotAxisLabels(PdPlot p, int n, const double x[], const char *const labels[], const char *title);
/* Light horizontal lines inside the frame at the ticks of a y axis (step as in PdPlotAxisDraw). */
PetscErrorCode PdPlotGrid(PdPlot p, PdAxis a, double step, PdColor c);

/* Filled bar centred at x, width in x units, from y0 to y1 on y axis a (clipped to the frame),
   with a darker outline; its edges fall on pixel boundaries. */
PetscErrorCode PdPlotBar(PdPlot p, PdAxis a, double x, double width, double y0, double y1, PdColor c);
/* Polyline through n points (data coordinates on y axis a), `width` pixels wide; a non-finite y
   breaks it. */
PetscErrorCode PdPlotLine(PdPlot p, PdAxis a, int n, const double x[], const double y[], double width, PetscBool dashed, PdColor c);
/* Filled circular markers of the given diameter (pixels) with a white rim. */
PetscErrorCode PdPlotMarkers(PdPlot p, PdAxis a, int n, const double x[], const double y[], double diameter, PdColor c);
/* A horizontal tick of `width` x units and `thickness` pixels centred at (x, y) (e.g. a measured
   value on top of a bar). */
PetscErrorCode PdPlotTick(PdPlot p, PdAxis a, double x, double width, double y, double thickness, PdColor c);
/* Data coordinates to pixels. */
PetscErrorCode PdPlotToPixel(PdPlot p, PdAxis a, double x, double y, double *px, double *py);
/* A framed legend box with its top left corner at (x, y), one entry per row, text of `size`
   pixels; *bottom (may be NULL) receives the y of its lower edge. */
PetscErrorCode PdPlotLegend(PdPlot p, double x, double y, double size, int n, const char *const labels[], const PdColor colors[], const PdLegendKind kinds[], double *bottom);

/* Collective on comm: rank 0 writes its chart as an 8-bit RGB PNG, atomically. */
PetscErrorCode PdPlotWritePNG(PdPlot p, MPI_Comm comm, const char *path);

#endif
