/* Tiled deconvolution (see include/pdecon/decon/tiles.h).

   Cores: along an axis of m voxels cut into k tiles, core j is [j m / k, (j + 1) m / k). A tile
   is its core widened by the margin g on both sides, clipped at the image. Blend: around a core
   boundary c the band [c - b, c + b) (b <= g, b <= half the shortest core) is shared; the tile on
   the right weighs voxel i by r((i - (c - b) + 1/2) / 2b), the one on the left by
   r(((c + b) - i - 1/2) / 2b), r(t) = (1 - cos(pi t)) / 2 clamped to [0, 1], so the two weights
   sum to one; a tile's weight is the product of its axes' weights, 1 exactly outside the bands.
   The result is sum_t w_t x_t / sum_t w_t.

   Why b <= g / 2 by default: the outer half of a margin is where a tile's estimate is worst (the
   unknown voxels beyond it); blending only the inner half keeps that part out of the result. */
#include "decon/tiles_impl.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define TILE_HEADROOM 0.97

PetscErrorCode PdTilePlanSetUp(PdTilePlan *p, const ptrdiff_t m[3], const ptrdiff_t count[3], const ptrdiff_t margin[3])
{
  PetscFunctionBegin;
  memset(p, 0, sizeof(*p));
  for (int a = 0; a < 3; a++) {
    p->m[a]      = m[a];
    p->count[a]  = PetscMax(1, PetscMin(count[a], m[a]));
    p->groups    = 1;
    p->stop_after = -1;
    p->margin[a] = PetscMax(0, margin[a]);
    /* the shortest core is floor(m / k) voxels; two bands must not overlap inside it */
    p->blend[a] = p->count[a] > 1 ? PetscMin((p->margin[a] + 1) / 2, m[a] / p->count[a] / 2) : 0;
  }
  PetscFunctionReturn(0);
}

PetscInt PdTilePlanCount(const PdTilePlan *p)
{
  return (PetscInt)(p->count[0] * p->count[1] * p->count[2]);
}

void PdTileIndex(const PdTilePlan *p, PetscInt t, ptrdiff_t j[3])
{
  j[2] = t % p->count[2];
  j[1] = (t / p->count[2]) % p->count[1];
  j[0] = t / (p->count[2] * p->count[1]);
}

void PdTilePlanGetTile(const PdTilePlan *p, PetscInt t, ptrdiff_t c0[3], ptrdiff_t c1[3], ptrdiff_t e0[3], ptrdiff_t e1[3])
{
  ptrdiff_t j[3];

  PdTileIndex(p, t, j);
  for (int a = 0; a < 3; a++) {
    c0[a] = j[a] * p->m[a] / p->count[a];
    c1[a] = (j[a] + 1) * p->m[a] / p->count[a];
    e0[a] = PetscMax(0, c0[a] - p->margin[a]);
    e1[a] = PetscMin(p->m[a], c1[a] + p->margin[a]);
  }
}

static double Ramp(double t)
{
  if (t <= 0) return 0.0;
  if (t >= 1) return 1.0;
  return 0.5 - 0.5 * cos(M_PI * t);
}

float PdTileAxisWeight(const PdTilePlan *p, int a, ptrdiff_t j, ptrdiff_t c0, ptrdiff_t c1, ptrdiff_t i)
{
  const double b = (double)p->blend[a];
  double       w = 1.0;

  if (b <= 0) return i >= c0 && i < c1 ? 1.0f : 0.0f;
  if (j > 0) w = PetscMin(w, Ramp(((double)i - (c0 - b) + 0.5) / (2 * b)));
  if (j < p->count[a] - 1) w = PetscMin(w, Ramp(((c1 + b) - (double)i - 0.5) / (2 * b)));
  return (float)w;
}

PetscErrorCode PdTileAxisNorm(const PdTilePlan *p, int a, float **norm)
{
  PetscFunctionBegin;
  PetscCall(PetscCalloc1(p->m[a], norm));
  for (ptrdiff_t j = 0; j < p->count[a]; j++) {
    const ptrdiff_t c0 = j * p->m[a] / p->count[a], c1 = (j + 1) * p->m[a] / p->count[a];
    for (ptrdiff_t i = PetscMax(0, c0 - p->blend[a]); i < PetscMin(p->m[a], c1 + p->blend[a]); i++) (*norm)[i] += PdTileAxisWeight(p, a, j, c0, c1, i);
  }
  PetscFunctionReturn(0);
}

void PdTileSupport(const PdTilePlan *p, PetscInt t, ptrdiff_t s0[3], ptrdiff_t s1[3])
{
  ptrdiff_t c0[3], c1[3], e0[3], e1[3];

  PdTilePlanGetTile(p, t, c0, c1, e0, e1);
  for (int a = 0; a < 3; a++) {
    s0[a] = PetscMax(e0[a], c0[a] - p->blend[a]);
    s1[a] = PetscMin(e1[a], c1[a] + p->blend[a]);
  }
}

PetscErrorCode PdTilePlanView(const PdTilePlan *p, MPI_Comm comm)
{
  ptrdiff_t c0[3], c1[3], e0[3], e1[3];

  PetscFunctionBegin;
  PdTilePlanGetTile(p, 0, c0, c1, e0, e1);
  PetscCall(PetscPrintf(comm, "tiles: %" PetscInt_FMT " = %td x %td x %td (z, y, x) of the %td x %td x %td image; cores up to %td x %td x %td, margin %td x %td x %td, blended over %td x %td x %td",
                        PdTilePlanCount(p), p->count[0], p->count[1], p->count[2], p->m[0], p->m[1], p->m[2], (p->m[0] + p->count[0] - 1) / p->count[0],
                        (p->m[1] + p->count[1] - 1) / p->count[1], (p->m[2] + p->count[2] - 1) / p->count[2], p->margin[0], p->margin[1], p->margin[2], 2 * p->blend[0], 2 * p->blend[1],
                        2 * p->blend[2]));
  if (p->memory > 0) PetscCall(PetscPrintf(comm, "; %.1f MiB per rank (a tile's solver, or the assembly of the result if more; the process's own %.1f MiB included)", p->memory / 1048576.0, p->baseline / 1048576.0));
  PetscCall(PetscPrintf(comm, "\n"));
  PetscFunctionReturn(0);
}

/* "Y,X[,Z]" into v (z, y, x); *n: how many numbers were given. */
static PetscErrorCode ParseYXZ(MPI_Comm comm, const char *opt, const char *s, ptrdiff_t v[3], int *n)
{
  long y = 0, x = 0, z = 0;

  PetscFunctionBegin;
  *n = sscanf(s, "%ld,%ld,%ld", &y, &x, &z);
  PetscCheck(*n >= 2 && y >= 0 && x >= 0 && z >= 0, comm, PD_ERR_INPUT, "%s: expected Y,X or Y,X,Z (non-negative integers), not '%s'", opt, s);
  v[0] = z;
  v[1] = y;
  v[2] = x;
  PetscFunctionReturn(0);
}

/* Bytes per rank a solver for a tile of extent e would need on a group of ranks (the largest
   over the groups: the planner's estimate, made without allocating the volumes). */
static PetscErrorCode TileMemory(MPI_Comm comm, MPI_Comm group, const ptrdiff_t e[3], const ptrdiff_t pn[3], const float *psf, const char *psfname, double *need, double *baseline)
{
  PdDecon          d;
  PdMemoryEstimate est;
  ptrdiff_t        n[3];

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(group, &d));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetImageSize(d, e, "tile"));
  PetscCall(PdDeconSetPSF(d, pn, psf, psfname));
  for (int a = 0; a < 3; a++) {
    /* the working size PdDeconSetUp will choose (the PSF cropped to 2 e - 1 first) */
    ptrdiff_t p = PetscMin(pn[a], 2 * e[a] - 1);
    n[a]        = PdDeconWorkingLength(d, a, e[a], p);
  }
  PetscCall(PdDeconEstimateMemory(d, n, &est));
  PetscCall(PdDeconDestroy(&d));
  PetscCallMPI(MPI_Allreduce(&est.total, need, 1, MPI_DOUBLE, MPI_MAX, comm));
  if (baseline) PetscCallMPI(MPI_Allreduce(&est.baseline, baseline, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscFunctionReturn(0);
}

/* The bytes a rank may use (-decon_memory_limit, or the node's memory shared by its ranks). */
static PetscErrorCode MemoryAvailable(MPI_Comm comm, double *avail)
{
  PdDecon d;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconGetMemoryAvailable(d, avail));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTileGroupSplit(MPI_Comm comm, PetscInt groups, MPI_Comm *group, int *color)
{
  int rank, size, g;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  g = (int)PetscMax(1, PetscMin(groups, size));
  /* contiguous ranks form a group (on a cluster: the ranks of a node together) */
  *color = (int)((long)rank * g / size);
  PetscCallMPI(MPI_Comm_split(comm, *color, rank, group));
  PetscFunctionReturn(0);
}

/* What a rank holds after the tiles, when the output is assembled from the tile files: its slab
   of the result (4 bytes a voxel of its planes) and the part of one tile's support (core and
   blend band) that overlaps it. The tiles' solvers are gone by then, so a rank needs the larger
   of this and a tile. */
static PetscErrorCode AssemblyBytes(MPI_Comm comm, const PdTilePlan *p, double *slab, double *bytes)
{
  int       size;
  ptrdiff_t planes, s[3];

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  planes = (p->m[0] + size - 1) / size;
  for (int a = 0; a < 3; a++) s[a] = PetscMin(p->m[a], (p->m[a] + p->count[a] - 1) / p->count[a] + 2 * p->blend[a]);
  *slab  = 4.0 * (double)planes * (double)p->m[1] * (double)p->m[2];
  *bytes = *slab + 4.0 * (double)PetscMin(planes, s[0]) * (double)s[1] * (double)s[2];
  PetscFunctionReturn(0);
}

/* The largest tile extent of a plan. */
static void LargestExtent(const PdTilePlan *p, ptrdiff_t e[3])
{
  for (int a = 0; a < 3; a++) e[a] = PetscMin(p->m[a], (p->m[a] + p->count[a] - 1) / p->count[a] + 2 * p->margin[a]);
}

/* The plan (groups set by the caller); group: the calling rank's group of ranks solving a tile. */
static PetscErrorCode PlanCreate(MPI_Comm comm, MPI_Comm group, const ptrdiff_t m[3], const ptrdiff_t pn[3], const float *psf, const char *psfname, const char *tiles, const char *margin, PdTilePlan *plan,
                                 PetscBool *tiled)
{
  ptrdiff_t count[3] = {1, 1, 1}, g[3], e[3];
  double    need, avail, asm_bytes, slab_bytes;
  int       n;

  PetscFunctionBegin;
  *tiled = PETSC_FALSE;
  /* the light reaching a core from outside comes from at most half the PSF's extent away */
  for (int a = 0; a < 3; a++) g[a] = PetscMin(pn[a], 2 * m[a] - 1) / 2;
  if (margin && margin[0]) {
    ptrdiff_t want[3] = {-1, -1, -1};
    PetscCall(ParseYXZ(comm, "-decon_tile_margin", margin, want, &n));
    if (n < 3) want[0] = g[0];
    if (want[0] < g[0] || want[1] < g[1] || want[2] < g[2])
      PetscCall(PetscPrintf(comm, "-decon_tile_margin: %td,%td,%td is narrower than the PSF's half extent %td,%td,%td (y, x, z): widened to it\n", want[1], want[2], want[0], g[1], g[2], g[0]));
    for (int a = 0; a < 3; a++) g[a] = PetscMax(g[a], want[a]);
  }
  if (tiles && !strcmp(tiles, "off")) {
    PetscCall(PdTilePlanSetUp(plan, m, count, g));
    PetscFunctionReturn(0);
  }
  if (tiles && tiles[0] && strcmp(tiles, "auto")) {
    PetscCall(ParseYXZ(comm, "-decon_tiles", tiles, count, &n));
    if (n < 3) count[0] = 1;
    PetscCheck(count[0] > 0 && count[1] > 0 && count[2] > 0, comm, PD_ERR_INPUT, "-decon_tiles: every count must be at least 1, not '%s'", tiles);
    PetscCall(PdTilePlanSetUp(plan, m, count, g));
    LargestExtent(plan, e);
    PetscCall(TileMemory(comm, group, e, pn, psf, psfname, &plan->memory, &plan->baseline));
    PetscCall(AssemblyBytes(comm, plan, &slab_bytes, &asm_bytes));
    plan->memory = PetscMax(plan->memory, asm_bytes);
    *tiled = PETSC_TRUE;
    PetscCall(PdTilePlanView(plan, comm));
    PetscFunctionReturn(0);
  }
  /* auto: one volume if it fits; else halve the longest core (y or x; z when the stack is deep
     enough that its cores stay wider than their margins) until the largest tile fits */
  /* one volume: on all ranks */
  PetscCall(TileMemory(comm, comm, m, pn, psf, psfname, &need, NULL));
  PetscCall(MemoryAvailable(comm, &avail));
  PetscCall(PdTilePlanSetUp(plan, m, count, g));
  PetscCall(AssemblyBytes(comm, plan, &slab_bytes, &asm_bytes));
  plan->memory = need;
  if (avail <= 0 || need <= avail) PetscFunctionReturn(0);
  /* no tiling helps when a rank cannot hold its slab of the result */
  PetscCheck(slab_bytes < avail, comm, PD_ERR_INPUT,
             "-decon_tiles auto: the %td x %td x %td image needs more than %.0f MiB per rank to assemble its result from tiles (4 bytes a voxel of the rank's slab, and one tile's overlap with it) but %.0f MiB are available per rank: run on more nodes", m[0], m[1], m[2],
             slab_bytes / 1048576.0, avail / 1048576.0);
  for (;;) {
    ptrdiff_t core[3];
    int       best = -1;
    for (int a = 0; a < 3; a++) core[a] = (m[a] + count[a] - 1) / count[a];
    for (int a = 0; a < 3; a++)
      if (core[a] > 2 * PetscMax(g[a], 1) && (best < 0 || core[a] > core[best])) best = a;
    PetscCheck(best >= 0, comm, PD_ERR_INPUT, "-decon_tiles auto: the %td x %td x %td image does not fit even in tiles of cores %td x %td x %td (margins %td x %td x %td) need %.0f MiB per rank but %.0f MiB are available per rank", m[0], m[1], m[2], core[0], core[1], core[2], g[0], g[1], g[2], need / 1048576.0, avail / 1048576.0);
    count[best] = PetscMin(m[best], count[best] * 2);
    PetscCall(PdTilePlanSetUp(plan, m, count, g));
    LargestExtent(plan, e);
    PetscCall(TileMemory(comm, group, e, pn, psf, psfname, &need, &plan->baseline));
    PetscCall(AssemblyBytes(comm, plan, &slab_bytes, &asm_bytes));
    need         = PetscMax(need, asm_bytes);
    plan->memory = need;
    /* 3 % kept free: a process grows from tile to tile (FFT plans, the allocator's caches),
       and each tile's solver checks the memory again before it allocates */
    if (need <= TILE_HEADROOM * avail) break;
  }
  PetscCall(PetscPrintf(comm, "the %td x %td x %td working volume does not fit in %.0f MiB per rank: ", m[0], m[1], m[2], avail / 1048576.0));
  *tiled = PETSC_TRUE;
  PetscCall(PdTilePlanView(plan, comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTilePlanCreate(MPI_Comm comm, const ptrdiff_t m[3], const ptrdiff_t pn[3], const float *psf, const char *psfname, const char *tiles, const char *margin, PdTilePlan *plan,
                                PetscBool *tiled)
{
  PetscInt groups = 1;
  MPI_Comm group;
  int      color;

  PetscFunctionBegin;
  /* a tile is estimated on the ranks of one group, as the driver will solve it */
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-decon_tile_groups", &groups, NULL));
  PetscCall(PdTileGroupSplit(comm, groups, &group, &color));
  PetscCall(PlanCreate(comm, group, m, pn, psf, psfname, tiles, margin, plan, tiled));
  PetscCallMPI(MPI_Comm_free(&group));
  plan->groups = PetscMax(1, groups);
  PetscFunctionReturn(0);
}
