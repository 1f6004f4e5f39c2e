/* Private parts of tiled deconvolution shared by the plan (tiles.c), the work queue
   (tiles_queue.c), the solving driver (tiles_solve.c) and the tile files (tiles_scratch.c). */
#ifndef PDECON_TILES_IMPL_H
#define PDECON_TILES_IMPL_H

#include "decon/decon_impl.h"
#include <pdecon/decon/tiles.h>

/* Index of tile t along each axis (z, y, x). */
void  PdTileIndex(const PdTilePlan *p, PetscInt t, ptrdiff_t j[3]);
/* Blend weight of global voxel i along axis a in the tile of index j, core [c0, c1). */
float PdTileAxisWeight(const PdTilePlan *p, int a, ptrdiff_t j, ptrdiff_t c0, ptrdiff_t c1, ptrdiff_t i);
/* norm[i], 0 <= i < m[a]: the sum of the axis weights of all tiles at i. The weights of a tile are
   products over the axes, so their sum over all tiles is norm_z(z) norm_y(y) norm_x(x) (1 up to
   rounding: the weights are a partition of unity). */
PetscErrorCode PdTileAxisNorm(const PdTilePlan *p, int a, float **norm);
/* The box of tile t that carries weight: its core widened by the blend band, inside its extent. */
void  PdTileSupport(const PdTilePlan *p, PetscInt t, ptrdiff_t s0[3], ptrdiff_t s1[3]);

/* Splits comm into groups (at most its size) of contiguous ranks; *color: this rank's group. */
PetscErrorCode PdTileGroupSplit(MPI_Comm comm, PetscInt groups, MPI_Comm *group, int *color);

/* Where a tile's data come from and where its result goes, so that the same driver serves
   images in memory and tile files on disk. */
typedef struct {
  /* fills the tile solver's data y (layout dlay: the extent [e0, e1) on the group) */
  PetscErrorCode (*read)(void *ctx, PetscInt t, const ptrdiff_t e0[3], const PdLayout *dlay, float *y);
  /* keeps a finished tile's solution x (layout xlay on the group), its iteration count its */
  PetscErrorCode (*write)(void *ctx, PetscInt t, const ptrdiff_t e0[3], const PdLayout *xlay, const float *x, PetscInt its);
  /* the file a tile's solver checkpoints to on a stop signal and resumes from ("": none) */
  void (*checkpoint)(void *ctx, PetscInt t, char *path, size_t len);
  void *ctx;
} PdTileIO;

/* Solves the tiles not marked in done (NULL: all) on plan->groups groups of ranks drawing from a
   dynamic work queue; *stopped: a stop signal (or plan->stop_after) ended the run with tiles left;
   *its: the most iterations a tile solved here ran. Collective over comm. */
PetscErrorCode PdTilesSolve(MPI_Comm comm, const PdTilePlan *p, PdTileConfigureFn configure, void *cctx, const ptrdiff_t pn[3], const float *psf, const char *psfname, const PdTileIO *io,
                            const PetscBool *done, PetscBool *stopped, PetscInt *its);

/* The work queue: tickets 0, 1, 2, ... handed out one at a time, on demand, from a counter in a
   window on rank 0 of comm (MPI-3 atomics: no rank is a master waiting for requests). */
typedef struct {
  MPI_Win  win;
  long    *counter;
  MPI_Comm group;
  int      grank;
} PdTileQueue;
/* Collective over comm; group: the calling rank's group (its rank 0 draws for the group). */
PetscErrorCode PdTileQueueCreate(MPI_Comm comm, MPI_Comm group, PdTileQueue *q);
/* Collective over the group: the next ticket, the same on every rank of the group. */
PetscErrorCode PdTileQueueNext(PdTileQueue *q, long *ticket);
/* Collective over comm. */
PetscErrorCode PdTileQueueDestroy(PdTileQueue *q);

#endif
