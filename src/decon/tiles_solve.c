/* Solving the tiles (see include/pdecon/decon/tiles.h): groups of ranks draw tiles from the work
   queue and solve each with its own PdDecon on the group's ranks; where the data come from and
   where the results go is the caller's PdTileIO (the image in memory here, tile files in
   tiles_scratch.c). */
#include "decon/tiles_impl.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Tile t on the group comm; *stopped: a stop signal ended it (its checkpoint, if any, kept). */
static PetscErrorCode SolveTile(MPI_Comm comm, const PdTilePlan *p, PetscInt t, PdTileConfigureFn configure, void *cctx, const ptrdiff_t pn[3], const float *psf, const char *psfname,
                                const PdTileIO *io, PetscInt *its, PetscBool *stopped)
{
  ptrdiff_t       c0[3], c1[3], e0[3], e1[3], s[3];
  PdDecon         d;
  const PdLayout *dlay, *xlay;
  float          *y;
  const float    *x;
  char            name[64], ck[PETSC_MAX_PATH_LEN] = "";
  int             have = 0, rank;
  PetscInt        k;
  PdDeconConvergedReason reason;

  PetscFunctionBegin;
  PdTilePlanGetTile(p, t, c0, c1, e0, e1);
  for (int a = 0; a < 3; a++) s[a] = e1[a] - e0[a];
  PetscCall(PetscSNPrintf(name, sizeof(name), "tile %" PetscInt_FMT "/%" PetscInt_FMT, t + 1, PdTilePlanCount(p)));
  if (io->checkpoint) io->checkpoint(io->ctx, t, ck, sizeof(ck));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && ck[0]) have = access(ck, F_OK) == 0;
  PetscCallMPI(MPI_Bcast(&have, 1, MPI_INT, 0, comm));
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  if (configure) PetscCall(configure(d, cctx));
  PetscCall(PdDeconSetImageSize(d, s, name));
  PetscCall(PdDeconSetPSF(d, pn, psf, psfname));
  /* a tile checkpoints to its own file, never to the options' (which would name one file for all) */
  PetscCall(PdDeconSetCheckpoint(d, ck, -1));
  PetscCall(PdDeconSetRestart(d, have ? ck : ""));
  PetscCall(PdDeconGetData(d, &dlay, &y));
  PetscCall(io->read(io->ctx, t, e0, dlay, y));
  PetscCall(PdDeconSolve(d));
  PetscCall(PetscPrintf(comm, "%s [%td:%td, %td:%td, %td:%td]%s: ", name, e0[0], e1[0], e0[1], e1[1], e0[2], e1[2], have ? " (resumed)" : ""));
  PetscCall(PdDeconConvergedReasonView(d, PETSC_VIEWER_STDOUT_(comm)));
  PetscCall(PdDeconGetConvergedReason(d, &reason));
  PetscCall(PdDeconGetIterationNumber(d, &k));
  *stopped = (PetscBool)(reason == PD_DECON_STOPPED_SIGNAL);
  if (!*stopped) {
    *its = PetscMax(*its, k);
    PetscCall(PdDeconGetSolution(d, &xlay, &x));
    PetscCall(io->write(io->ctx, t, e0, xlay, x, k));
    /* the tile is kept: its checkpoint is obsolete */
    if (have && rank == 0) (void)unlink(ck);
  }
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

/* Volume of tile t's extent: the queue hands out the largest first, so that the small ones at
   the image's edges fill the gaps at the end. */
static double ExtentVolume(const PdTilePlan *p, PetscInt t)
{
  ptrdiff_t c0[3], c1[3], e0[3], e1[3];

  PdTilePlanGetTile(p, t, c0, c1, e0, e1);
  return (double)(e1[0] - e0[0]) * (double)(e1[1] - e0[1]) * (double)(e1[2] - e0[2]);
}

PetscErrorCode PdTilesSolve(MPI_Comm comm, const PdTilePlan *p, PdTileConfigureFn configure, void *cctx, const ptrdiff_t pn[3], const float *psf, const char *psfname, const PdTileIO *io,
                            const PetscBool *done, PetscBool *stopped, PetscInt *its)
{
  const PetscInt nt = PdTilePlanCount(p);
  PetscInt      *todo, ntodo = 0, k = 0;
  int            color, stop = 0;
  MPI_Comm       group;
  PdTileQueue    q;

  PetscFunctionBegin;
  PetscCall(PdTileGroupSplit(comm, p->groups, &group, &color));
  PetscCall(PetscMalloc1(nt, &todo));
  for (PetscInt t = 0; t < nt; t++)
    if (!done || !done[t]) todo[ntodo++] = t;
  /* largest first (stable: ties keep the tile order) */
  for (PetscInt i = 1; i < ntodo; i++)
    for (PetscInt j = i; j > 0 && ExtentVolume(p, todo[j]) > ExtentVolume(p, todo[j - 1]); j--) {
      PetscInt tmp = todo[j];
      todo[j]      = todo[j - 1];
      todo[j - 1]  = tmp;
    }
  PetscCall(PdTileQueueCreate(comm, group, &q));
  for (;;) {
    long      ticket;
    PetscBool sig, st = PETSC_FALSE;
    PetscCall(PdStopRequested(group, &sig));
    if (sig) {
      stop = 1;
      break;
    }
    PetscCall(PdTileQueueNext(&q, &ticket));
    if (ticket >= ntodo) break;
    /* testing: a stop after a given number of tiles, exactly as a signal between two tiles */
    if (p->stop_after >= 0 && ticket >= p->stop_after) {
      stop = 1;
      break;
    }
    PetscCall(SolveTile(group, p, todo[ticket], configure, cctx, pn, psf, psfname, io, &k, &st));
    if (st) {
      stop = 1;
      break;
    }
  }
  PetscCall(PdTileQueueDestroy(&q));
  PetscCallMPI(MPI_Comm_free(&group));
  PetscCall(PetscFree(todo));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, comm));
  *stopped = (PetscBool)stop;
  PetscCallMPI(MPI_Allreduce(&k, its, 1, MPIU_INT, MPI_MAX, comm));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- the image in memory */

typedef struct {
  const PdTilePlan *p;
  const float      *yall;
  float            *xall;
} MemoryIO;

static PetscErrorCode MemoryRead(void *ctx, PetscInt t, const ptrdiff_t e0[3], const PdLayout *l, float *y)
{
  const MemoryIO  *io = (const MemoryIO *)ctx;
  const ptrdiff_t *m  = io->p->m;

  PetscFunctionBegin;
  (void)t;
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t r = 0; r < l->n[1]; r++) PetscCall(PetscArraycpy(y + z * l->ps + r * l->rs, io->yall + ((e0[0] + l->z0 + z) * m[1] + e0[1] + r) * m[2] + e0[2], l->n[2]));
  PetscFunctionReturn(0);
}

/* Adds the weighted solution at the planes this rank holds (summed over the ranks at the end). */
static PetscErrorCode MemoryWrite(void *ctx, PetscInt t, const ptrdiff_t e0[3], const PdLayout *l, const float *x, PetscInt its)
{
  const MemoryIO  *io = (const MemoryIO *)ctx;
  const PdTilePlan *p = io->p;
  const ptrdiff_t *m  = p->m;
  ptrdiff_t        c0[3], c1[3], f0[3], f1[3], j[3];

  PetscFunctionBegin;
  (void)its;
  PdTilePlanGetTile(p, t, c0, c1, f0, f1);
  PdTileIndex(p, t, j);
  for (ptrdiff_t z = 0; z < l->nzl; z++) {
    const ptrdiff_t gz = e0[0] + l->z0 + z;
    const float     wz = PdTileAxisWeight(p, 0, j[0], c0[0], c1[0], gz);
    if (wz == 0) continue;
    for (ptrdiff_t r = 0; r < l->n[1]; r++) {
      const ptrdiff_t gy  = e0[1] + r;
      const float     wzy = wz * PdTileAxisWeight(p, 1, j[1], c0[1], c1[1], gy);
      if (wzy == 0) continue;
      for (ptrdiff_t q = 0; q < l->n[2]; q++) io->xall[(gz * m[1] + gy) * m[2] + e0[2] + q] += wzy * PdTileAxisWeight(p, 2, j[2], c0[2], c1[2], e0[2] + q) * x[z * l->ps + r * l->rs + q];
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdTiledDeconvolve(MPI_Comm comm, const PdTilePlan *p, PdTileConfigureFn configure, void *ctx, const ptrdiff_t pn[3], const float *psf, const char *psfname, const float *yall,
                                 float *xall, PetscInt *its)
{
  const ptrdiff_t *m    = p->m;
  const size_t     nall = (size_t)(m[0] * m[1] * m[2]), chunk = (size_t)1 << 28;
  MemoryIO         mio  = {p, yall, xall};
  PdTileIO         io   = {MemoryRead, MemoryWrite, NULL, &mio};
  PetscBool        stopped;
  PetscInt         k;
  float           *norm[3];

  PetscFunctionBegin;
  memset(xall, 0, nall * sizeof(float));
  PetscCall(PdTilesSolve(comm, p, configure, ctx, pn, psf, psfname, &io, NULL, &stopped, &k));
  PetscCheck(!stopped, comm, PD_ERR_INPUT, "tiled deconvolution in memory: stopped by a signal (only the tile files of PdTiledDeconvolveFile keep finished tiles)");
  /* each voxel of a tile was added by the one rank of its group that held its plane */
  for (size_t o = 0; o < nall; o += chunk) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, xall + o, (int)PetscMin(chunk, nall - o), MPI_FLOAT, MPI_SUM, comm));
  for (int a = 0; a < 3; a++) PetscCall(PdTileAxisNorm(p, a, &norm[a]));
  for (ptrdiff_t z = 0; z < m[0]; z++)
    for (ptrdiff_t y = 0; y < m[1]; y++)
      for (ptrdiff_t x = 0; x < m[2]; x++) {
        const float w = norm[0][z] * norm[1][y] * norm[2][x];
        float      *v = &xall[(z * m[1] + y) * m[2] + x];
        *v            = w > 0 ? *v / w : 0.0f;
      }
  for (int a = 0; a < 3; a++) PetscCall(PetscFree(norm[a]));
  if (its) *its = k;
  PetscFunctionReturn(0);
}
