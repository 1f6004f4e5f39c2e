/* Tiled deconvolution: a layer above PdDecon for stacks whose working volume does not fit.

   The image is cut into count[0] x count[1] x count[2] cores (z, y, x) that partition it; each
   tile is its core widened by a margin on every side (clipped at the image) that covers the PSF's
   extent, i.e. the light that reaches the core from outside. Each tile is deconvolved on its own
   by a PdDecon with the padded boundary model (voxels outside the tile unknown, Bertero weights),
   so every method works on tiles unchanged. The results are blended: around each core boundary a
   band of half-width blend uses raised-cosine weights that sum to one across the two tiles;
   elsewhere a voxel takes its core tile's value unchanged (a 1-tile plan is the untiled result).

   Tiles are handed out on demand from a work queue to plan->groups groups of ranks; each group
   solves whole tiles on its own ranks (with one rank a group, no communication inside the
   iterations).

   Typical use, from a file (each group reads only its tile's box; the finished tiles are kept in
   a directory, which is also the checkpoint):
     PdTilePlanCreate(comm, m, pn, psf, "psf.tif", "auto", "", &plan, &tiled);
     if (tiled) {
       PdTiledDeconvolveFile(comm, &plan, NULL, NULL, pn, psf, "psf.tif", "in.h5:/data", "out.h5.tiles", &stopped, &done);
       if (!stopped) { PdTiledAssemble(comm, &plan, "out.h5.tiles", &lay, &x, &its); PdImageWrite("out.h5", lay, x, NULL);
                       PdTileScratchRemove(comm, &plan, "out.h5.tiles"); }
     }
   or with the whole image in memory on every rank: PdTiledDeconvolve(comm, &plan, ..., yall, xall, &its). */
#ifndef PDECON_DECON_TILES_H
#define PDECON_DECON_TILES_H

#include <pdecon/decon/decon.h>

typedef struct {
  ptrdiff_t m[3];      /* image size (z, y, x) */
  ptrdiff_t count[3];  /* tiles along each axis */
  ptrdiff_t margin[3]; /* voxels a tile extends beyond its core on each side */
  ptrdiff_t blend[3];  /* half-width of the blended band around each core boundary */
  double    memory;    /* estimated bytes per rank of the largest tile (0: not estimated) */
  double    baseline;  /* of it, the process's own resident size when the estimate was made (it
                          varies by a few MiB from run to run; the rest is the solver's) */
  PetscInt  groups;    /* groups of contiguous ranks that take tiles from the work queue, each tile
                          solved by one group (1: every tile on all ranks; the rank count: one
                          rank a tile, no communication inside the iterations) */
  PetscInt  stop_after; /* testing: stop as if signalled when this many tiles have been handed
                          out in this run (< 0: never) */
} PdTilePlan;

/* The plan for image size m and PSF (pn, psf), from the -decon_tiles and -decon_tile_margin
   values:
     tiles  "off": one volume; "auto" (or ""): one volume if it fits the memory a rank may use,
            else the fewest tiles (largest) that fit; "Y,X[,Z]": that many tiles along y, x (z).
     margin "" : the PSF's half extent on each axis; "Y,X[,Z]": at least that (a margin smaller
            than the PSF's half extent is widened, with a message).
   The solver's options (method, -decon_memory_limit) are read as PdDeconSetFromOptions does.
   *tiled: the plan asks for the tiled driver (false: deconvolve as one volume). A stack that no
   tiling fits is refused with the reason. The plan is printed when tiled. */
PetscErrorCode PdTilePlanCreate(MPI_Comm comm, const ptrdiff_t m[3], const ptrdiff_t pn[3], const float *psf, const char *psfname, const char *tiles, const char *margin, PdTilePlan *plan,
                                PetscBool *tiled);
/* Sets a plan from explicit counts and margins (margins are not checked against a PSF). */
PetscErrorCode PdTilePlanSetUp(PdTilePlan *plan, const ptrdiff_t m[3], const ptrdiff_t count[3], const ptrdiff_t margin[3]);
PetscInt       PdTilePlanCount(const PdTilePlan *plan);
/* Tile t (0 <= t < count): its core [c0, c1) and its extent [e0, e1) (core plus margin, clipped). */
void           PdTilePlanGetTile(const PdTilePlan *plan, PetscInt t, ptrdiff_t c0[3], ptrdiff_t c1[3], ptrdiff_t e0[3], ptrdiff_t e1[3]);
PetscErrorCode PdTilePlanView(const PdTilePlan *plan, MPI_Comm comm);

/* Called on each tile's solver after PdDeconSetFromOptions (method, iterations; may be NULL). */
typedef PetscErrorCode (*PdTileConfigureFn)(PdDecon d, void *ctx);
/* Deconvolves yall (the whole image, compact z,y,x, on every rank of comm) tile by tile with
   solvers on comm; xall (the same size, on every rank) receives the blended result; *its (may be
   NULL): the most iterations a tile ran. A stop signal (PdStopHandlerInstall) ends it with an
   error: only the file driver below keeps finished tiles. */
PetscErrorCode PdTiledDeconvolve(MPI_Comm comm, const PdTilePlan *plan, PdTileConfigureFn configure, void *ctx, const ptrdiff_t pn[3], const float *psf, const char *psfname, const float *yall,
                                 float *xall, PetscInt *its);

/* Deconvolves the image file input (an HDF5 or TIFF spec; each group reads its tile's box only)
   tile by tile; each finished tile goes to its own file in the directory dir, made if missing.
   dir is the run's checkpoint: a run that finds it solves only the tiles not finished there (a
   tile stopped inside its iterations resumes from its own checkpoint); dir made from another
   input, plan or settings is refused and left as it is. *stopped: a stop signal ended the run
   (the finished tiles are kept); *finished: the tiles finished in dir. */
PetscErrorCode PdTiledDeconvolveFile(MPI_Comm comm, const PdTilePlan *plan, PdTileConfigureFn configure, void *ctx, const ptrdiff_t pn[3], const float *psf, const char *psfname, const char *input,
                                     const char *dir, PetscBool *stopped, PetscInt *finished);
/* The blended result of the tiles in dir, distributed in z-slabs (*lay: PdLayoutCreateBlock of the
   image; free *x with PdVolumeFree); *its: the most iterations a tile ran. A rank holds its slab
   and one tile's overlap with it. */
PetscErrorCode PdTiledAssemble(MPI_Comm comm, const PdTilePlan *plan, const char *dir, PdLayout **lay, float **x, PetscInt *its);
/* Removes the files of dir that the driver made, and dir when nothing else is left in it. */
PetscErrorCode PdTileScratchRemove(MPI_Comm comm, const PdTilePlan *plan, const char *dir);

#endif
