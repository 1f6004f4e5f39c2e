/* The convergence plot: PSNR against iterations and against seconds, every method's curve in
   one picture (two panels side by side, both with logarithmic x axes, so that a method of 2
   iterations and one of 100 are read alike), a legend and a title.

     PdConvergenceCurve c[2] = {{"rl", 100, psnr_rl, t_rl}, {"rl_wb", 3, psnr_wb, t_wb}};
     PdConvergencePlotWrite(comm, "convergence.png", "title", 2, c); */
#ifndef PDECON_CONVERGENCE_H
#define PDECON_CONVERGENCE_H

#include <pdecon/viz/canvas.h>

typedef struct {
  const char   *name;
  int           n;       /* recorded iterations 1..n */
  const double *psnr;    /* psnr[k]: after iteration k + 1 (dB) */
  const double *seconds; /* seconds[k]: solve time to iteration k + 1 (a value <= 0 is left out of the seconds panel) */
} PdConvergenceCurve;

typedef enum { PD_CONVERGENCE_ITERATIONS, PD_CONVERGENCE_SECONDS } PdConvergencePanel;

/* Collective on comm: rank 0 writes the picture as a PNG, atomically (every rank must pass the
   same curves). At most 20 curves: ten colours drawn solid, then the same ten dashed. */
PetscErrorCode PdConvergencePlotWrite(MPI_Comm comm, const char *path, const char *title, int nc, const PdConvergenceCurve c[]);
/* The colour of curve i (curves i and i + 10 share it; the second is dashed). */
PdColor PdConvergenceColor(int i);
/* Where the point (x: an iteration or seconds, psnr) of a panel lies in the picture the same
   curves give (pixels), for checks. */
PetscErrorCode PdConvergencePlotLocate(int nc, const PdConvergenceCurve c[], PdConvergencePanel panel, double x, double psnr, double *px, double *py);

#endif
