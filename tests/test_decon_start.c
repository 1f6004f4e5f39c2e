/* The initial estimates (-decon_start flat, data, smooth, wiener, coarse). On constant data the first
   three are the flat start (w · Hᵀ(M·c) = c): the I-divergence of the start and one RL step from
   it agree. On a structured image the data start fits the data better than the flat one (a
   lower I-divergence of the start) and the smooth start lies between; each start gives the same
   answer on this rank count as on one. The Wiener start inverts the blur: on periodic,
   noise-free data of a smooth object with a small K it is the object, RL's fixed point, so one
   RL step from it stays there (from the flat start it does not). The coarse start, the problem
   binned 2 x 2 laterally (and 2 axially) and solved, is much nearer such an object than the flat
   start, and agrees across rank counts (z binned, its planes move between ranks); where the
   binned PSF would not fit the binned volume it is the Wiener start. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <math.h>
#include <string.h>

#define NSTART 5        /* flat, data, smooth, wiener, coarse */
#define COARSE_Z NSTART /* and the coarse start with z binned too */
static const char *const Label[] = {"flat", "data", "smooth", "wiener", "coarse", "coarse (z binned too)"};

typedef struct {
  PdDeconStart start;
  const char  *method;
  PetscBool    periodic;
  double       obj1; /* the I-divergence of the start (the iterate entering step 1) */
} Run;

static PetscErrorCode Record(PdDecon d, PetscInt it, double objective, double change, void *ctx)
{
  (void)d;
  (void)change;
  if (it == 1) ((Run *)ctx)->obj1 = objective;
  return 0;
}

static PetscErrorCode Configure(PdDecon d, const void *ctx)
{
  Run *r = (Run *)ctx;

  PetscFunctionBegin;
  PetscCall(PdDeconSetMethod(d, r->method));
  if (r->periodic) PetscCall(PdDeconSetBoundary(d, PD_BOUNDARY_PERIODIC));
  PetscCall(PdDeconSetStart(d, r->start));
  PetscCall(PdDeconMonitorSet(d, Record, r));
  PetscFunctionReturn(0);
}

/* the solve of start s (COARSE_Z: the coarse start with -decon_start_coarse_axial) */
static PetscErrorCode SolveStart(MPI_Comm comm, int s, Run *r, const ptrdiff_t m[3], const float *y, const ptrdiff_t pn[3], const float *h, double b, int iters, float **x)
{
  PetscFunctionBegin;
  if (s == COARSE_Z) PetscCall(PetscOptionsSetValue(NULL, "-decon_start_coarse_axial", "1"));
  PetscCall(PdTestSolve(comm, Configure, r, m, y, pn, h, b, iters, x));
  PetscCall(PetscOptionsClearValue(NULL, "-decon_start_coarse_axial"));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t    m[3] = {7, 12, 10}, pn[3] = {5, 5, 5}, nm = 7 * 12 * 10;
  const double       b = 2.0, c = 5.0;
  float              y[7 * 12 * 10], yc[7 * 12 * 10], h[125], *x[NSTART + 1] = {NULL}, *xs = NULL;
  unsigned long long seed = 23;
  Run                r[NSTART + 1];
  int                rank;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PdTestSmallProblem(nm, b, &seed, y, h);
  for (ptrdiff_t i = 0; i < nm; i++) yc[i] = (float)(b + c);

  /* constant data: every start but Wiener's is the flat one */
  for (int s = 0; s < PD_START_WIENER; s++) {
    r[s] = (Run){(PdDeconStart)s, "rl", PETSC_FALSE, NAN};
    PetscCall(PdTestSolve(PETSC_COMM_WORLD, Configure, &r[s], m, yc, pn, h, b, 1, &x[s]));
  }
  for (int s = 1; s < PD_START_WIENER; s++) {
    PD_EXPECT(fabs(r[s].obj1 - r[0].obj1) <= 1e-5 * fabs(r[0].obj1) + 1e-6, "constant data: the %s start's I-divergence %g differs from the flat start's %g", PdDeconStartTypes[s], r[s].obj1, r[0].obj1);
    if (rank == 0) {
      double dx = PdTestRelDiff(x[s], x[0], nm);
      PD_EXPECT(dx < 1e-5, "constant data: one RL step from the %s start differs from the flat start's: %g", PdDeconStartTypes[s], dx);
    }
  }
  for (int s = 0; s < NSTART; s++) PetscCall(PetscFree(x[s]));

  /* a structured image: nearer the data is a better fit; any rank count gives the same */
  for (int s = 0; s <= COARSE_Z; s++) {
    r[s] = (Run){(PdDeconStart)PetscMin(s, PD_START_COARSE), "rl_biggs", PETSC_FALSE, NAN};
    PetscCall(SolveStart(PETSC_COMM_WORLD, s, &r[s], m, y, pn, h, b, 10, &x[s]));
    if (rank == 0) {
      Run one = r[s];
      PetscCall(SolveStart(PETSC_COMM_SELF, s, &one, m, y, pn, h, b, 10, &xs));
      double dr = PdTestRelDiff(x[s], xs, nm);
      PD_EXPECT(dr < 1e-5, "%s start: this rank count differs from one rank: %g", Label[s], dr);
      PD_EXPECT(fabs(one.obj1 - r[s].obj1) <= 1e-6 * fabs(r[s].obj1), "%s start: its I-divergence differs from one rank's: %g vs %g", Label[s], r[s].obj1, one.obj1);
      PetscCall(PetscFree(xs));
    }
    PetscCall(PetscFree(x[s]));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "I-divergence of the start: flat %.6g, data %.6g, smooth %.6g, wiener %.6g, coarse %.6g\n", r[PD_START_FLAT].obj1, r[PD_START_DATA].obj1, r[PD_START_SMOOTH].obj1, r[PD_START_WIENER].obj1, r[PD_START_COARSE].obj1));
  PD_EXPECT(r[PD_START_DATA].obj1 < r[PD_START_SMOOTH].obj1, "the data start (%g) fits the data no better than the smooth start (%g)", r[PD_START_DATA].obj1, r[PD_START_SMOOTH].obj1);
  PD_EXPECT(r[PD_START_SMOOTH].obj1 < r[PD_START_FLAT].obj1, "the smooth start (%g) fits the data no better than the flat start (%g)", r[PD_START_SMOOTH].obj1, r[PD_START_FLAT].obj1);

  /* periodic, noise-free y = H x + b of a smooth x: the Wiener start (K small) is x */
  {
    float         xt[7 * 12 * 10], yt[7 * 12 * 10];
    double        hx[7 * 12 * 10];
    const ptrdiff_t pc[3] = {2, 2, 2}; /* the Gaussian's peak */
    for (ptrdiff_t z = 0; z < m[0]; z++)
      for (ptrdiff_t j = 0; j < m[1]; j++)
        for (ptrdiff_t i = 0; i < m[2]; i++) xt[(z * m[1] + j) * m[2] + i] = (float)(3.0 + sin(2 * M_PI * j / m[1]) + cos(2 * M_PI * i / m[2]) + 0.5 * cos(2 * M_PI * z / m[0]));
    PdTestDirectConv(m, xt, pn, h, pc, 1, 0, hx);
    for (ptrdiff_t i = 0; i < nm; i++) yt[i] = (float)(hx[i] + b);
    PetscCall(PetscOptionsSetValue(NULL, "-decon_start_wiener_k", "1e-7"));
    double dist[NSTART + 1];
    for (int s = 0; s <= COARSE_Z; s++) {
      if (s == PD_START_DATA || s == PD_START_SMOOTH) continue;
      r[s] = (Run){(PdDeconStart)PetscMin(s, PD_START_COARSE), "rl", PETSC_TRUE, NAN};
      PetscCall(SolveStart(PETSC_COMM_WORLD, s, &r[s], m, yt, pn, h, b, 1, &x[s]));
      if (rank == 0) {
        double dx = dist[s] = PdTestRelDiff(x[s], xt, nm);
        PetscCall(PetscPrintf(PETSC_COMM_SELF, "periodic, noise-free: one RL step from the %s start is %.2e from the object\n", Label[s], dx));
        if (s == PD_START_WIENER) PD_EXPECT(dx < 1e-4, "the Wiener start is not the object of noise-free periodic data: %g", dx);
        else if (s == PD_START_FLAT) PD_EXPECT(dx > 1e-2, "one RL step from the flat start is already the object: %g", dx);
      }
      PetscCall(PetscFree(x[s]));
    }
    for (int s = PD_START_COARSE; s <= COARSE_Z && rank == 0; s++) PD_EXPECT(dist[s] < 0.25 * dist[PD_START_FLAT], "the %s start (%g from the object) is not much nearer than the flat start (%g)", Label[s], dist[s], dist[PD_START_FLAT]);
    PetscCall(PetscOptionsClearValue(NULL, "-decon_start_wiener_k"));
  }

  /* periodic 4 x 4 planes and a 3 x 3 PSF: the binned PSF (3 x 3) would not fit the binned
     planes (2 x 2), so the coarse start is the Wiener start it would have begun from */
  {
    const ptrdiff_t ms[3] = {7, 4, 4}, ps[3] = {5, 3, 3}, ns = 7 * 4 * 4;
    float           ys[7 * 4 * 4], hs[5 * 3 * 3], *xw = NULL, *xc = NULL;
    Run             rw = {PD_START_WIENER, "rl", PETSC_TRUE, NAN}, rc = {PD_START_COARSE, "rl", PETSC_TRUE, NAN};
    for (ptrdiff_t i = 0; i < ns; i++) ys[i] = (float)(b + 10.0 * PdTestUniform(&seed));
    for (int i = 0; i < 5 * 3 * 3; i++) hs[i] = (float)(1.0 + (i == 22) * 8.0);
    PetscCall(PdTestSolve(PETSC_COMM_WORLD, Configure, &rw, ms, ys, ps, hs, b, 1, &xw));
    PetscCall(PdTestSolve(PETSC_COMM_WORLD, Configure, &rc, ms, ys, ps, hs, b, 1, &xc));
    if (rank == 0) {
      double dx = PdTestRelDiff(xc, xw, ns);
      PD_EXPECT(dx < 1e-6, "a binned PSF that does not fit: the coarse start differs from the Wiener start by %g", dx);
    }
    PetscCall(PetscFree(xw));
    PetscCall(PetscFree(xc));
  }
  return PdTestFinalize("decon_start");
}
