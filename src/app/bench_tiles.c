/* pdecon bench -bench_scaling tiles: the two parallel modes on the same stack, in one run.

   Slab-parallel: one solver for the whole stack on k ranks (each iteration transposes the spectrum
   between all k ranks). Tile-parallel: the stack in overlapping tiles (at least one per rank of
   the largest run), the k ranks in k groups of one, each solving whole tiles from the work queue
   with no communication inside the iterations. For k = 1, 2, 4, ..., P ranks: the time of a whole
   deconvolution (set-up, FFT plans and iterations; the stack in memory, no file I/O), best of
   -bench_reps, of -bench_its iterations, and the throughput in voxels of the stack times iterations per second. The tiles'
   margins are extra work, so on one rank tiles are slower than one volume; the tiled result is
   checked to be the same on every k. */
#include "app.h"
#include <pdecon/decon/decon.h>
#include <pdecon/decon/tiles.h>
#include <math.h>
#include <stdio.h>

typedef struct {
  const char *method;
  PetscInt    its;
} BenchCfg;

static PetscErrorCode Configure(PdDecon d, void *ctx)
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetMethod(d, ((BenchCfg *)ctx)->method));
  PetscCall(PdDeconSetBackground(d, 1.0));
  PetscCall(PdDeconSetTolerances(d, ((BenchCfg *)ctx)->its, 0.0));
  PetscFunctionReturn(0);
}

/* A Gaussian PSF (9 x 9 x 9) and sparse bright points on a background of 1, the same on every rank. */
static void Problem(const ptrdiff_t n[3], float *y, float *h)
{
  unsigned long long s = 12345;
  double             sum = 0;

  for (int k = 0; k < 9; k++)
    for (int j = 0; j < 9; j++)
      for (int i = 0; i < 9; i++) sum += h[(k * 9 + j) * 9 + i] = (float)exp(-0.5 * ((k - 4) * (k - 4) / 2.0 + (j - 4) * (j - 4) / 1.5 + (i - 4) * (i - 4) / 1.5));
  for (int i = 0; i < 729; i++) h[i] = (float)(h[i] / sum);
  for (ptrdiff_t i = 0; i < n[0] * n[1] * n[2]; i++) {
    s    = s * 6364136223846793005ULL + 1442695040888963407ULL;
    y[i] = (float)(1.0 + ((s >> 33) % 97 == 0 ? 100.0 : 0.0));
  }
}

/* One whole deconvolution of the stack on comm: slab-parallel (plan NULL) or tiled (x on every rank). */
static PetscErrorCode SolveOnce(MPI_Comm comm, BenchCfg cfg, const ptrdiff_t n[3], const float *y, const float *h, const PdTilePlan *plan, float *x, double *t)
{
  const ptrdiff_t pn[3] = {9, 9, 9};
  double          t0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Barrier(comm));
  t0 = PdTime();
  if (plan) PetscCall(PdTiledDeconvolve(comm, plan, Configure, &cfg, pn, h, "bench-psf", y, x, NULL));
  else {
    PdDecon         d;
    const PdLayout *l;
    float          *yl;
    PetscCall(PdDeconCreate(comm, &d));
    PetscCall(PdDeconSetFromOptions(d));
    PetscCall(Configure(d, &cfg));
    PetscCall(PdDeconSetImageSize(d, n, "bench"));
    PetscCall(PdDeconSetPSF(d, pn, h, "bench-psf"));
    PetscCall(PdDeconGetData(d, &l, &yl));
    PetscCall(PdVolumeScatterFromGlobal(l, y, yl));
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconDestroy(&d));
  }
  PetscCallMPI(MPI_Barrier(comm));
  *t = PdTime() - t0;
  PetscFunctionReturn(0);
}

PetscErrorCode AppBenchTiles(MPI_Comm comm, const char *method, PetscInt its, const ptrdiff_t n[3], PetscInt reps, const char *csv)
{
  BenchCfg     cfg = {method, its};
  const size_t nall = (size_t)(n[0] * n[1] * n[2]);
  int          rank, size, nk = 0, ks[40];
  float       *y, *x, *x1, h[729];
  double       t1 = 0;
  ptrdiff_t    count[3] = {1, 1, 1}, margin[3] = {4, 4, 4};
  PdTilePlan   plan;
  FILE        *f = NULL;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  for (int k = 1; k <= size && nk < 39; k *= 2) ks[nk++] = k;
  if (ks[nk - 1] != size) ks[nk++] = size;
  /* at least one tile per rank of the largest run, and at least 2 x 2 */
  while (count[1] * count[2] < PetscMax(4, size)) count[count[1] <= count[2] ? 1 : 2]++;
  PetscCall(PdTilePlanSetUp(&plan, n, count, margin));
  PetscCall(PetscMalloc3(nall, &y, nall, &x, nall, &x1));
  Problem(n, y, h);
  PetscCall(PetscPrintf(comm, "pdecon bench: tile-parallel vs slab-parallel, method %s, %td x %td x %td stack, %" PetscInt_FMT " iterations, best of %" PetscInt_FMT "\n", method, n[0], n[1], n[2], its, reps));
  PetscCall(PdTilePlanView(&plan, comm));
  PetscCall(PetscPrintf(comm, "%5s %-6s %9s %12s %9s %12s\n", "ranks", "mode", "time [s]", "Mvoxel it/s", "speed-up", "vs 1 rank"));
  if (rank == 0) {
    f = fopen(csv, "w");
    if (f) fprintf(f, "mode,method,ranks,nz,ny,nx,iterations,tiles,seconds,voxels_per_s,speedup,diff_vs_1rank\n");
  }
  for (int j = 0; j < nk; j++) {
    const int k = ks[j];
    MPI_Comm  sub;
    double    t[2] = {0, 0}, diff = 0;

    PetscCallMPI(MPI_Comm_split(comm, rank < k ? 0 : MPI_UNDEFINED, rank, &sub));
    if (sub != MPI_COMM_NULL) {
      plan.groups = k;
      for (int mode = 0; mode < 2; mode++) {
        t[mode] = PETSC_MAX_REAL;
        for (PetscInt r = 0; r < reps; r++) {
          double tr = 0;
          PetscCall(SolveOnce(sub, cfg, n, y, h, mode ? &plan : NULL, x, &tr));
          t[mode] = PetscMin(t[mode], tr);
        }
      }
      if (k == 1) PetscCall(PetscArraycpy(x1, x, nall));
      for (size_t i = 0; i < nall; i++) diff = PetscMax(diff, fabs((double)x[i] - x1[i]));
      PetscCallMPI(MPI_Comm_free(&sub));
    }
    PetscCall(AppIdleBarrier(comm));
    PetscCallMPI(MPI_Bcast(t, 2, MPI_DOUBLE, 0, comm));
    PetscCallMPI(MPI_Bcast(&diff, 1, MPI_DOUBLE, 0, comm));
    if (k == 1) t1 = t[0];
    for (int mode = 0; mode < 2; mode++) {
      const double vps = (double)nall * (double)its / t[mode];
      char         vs[32] = "-";
      if (mode) snprintf(vs, sizeof(vs), "%.1e", diff);
      PetscCall(PetscPrintf(comm, "%5d %-6s %9.3f %12.2f %9.2f %12s\n", k, mode ? "tiles" : "slabs", t[mode], vps / 1e6, t1 / t[mode], vs));
      if (f) fprintf(f, "%s,%s,%d,%td,%td,%td,%" PetscInt_FMT ",%" PetscInt_FMT ",%.6g,%.6g,%.6g,%.3g\n", mode ? "tiles" : "slabs", method, k, n[0], n[1], n[2], its, mode ? PdTilePlanCount(&plan) : 1, t[mode], vps, t1 / t[mode],
                   mode ? diff : 0.0);
    }
  }
  if (f) fclose(f);
  PetscCall(PetscPrintf(comm, "wrote %s\n", csv));
  PetscCall(PetscFree3(y, x, x1));
  PetscFunctionReturn(0);
}
