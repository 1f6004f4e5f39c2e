/* Tile files: the tiled driver's scratch space on disk, which is also its checkpoint.

   A run keeps a directory beside the output (DIR):
     DIR/tiles.h5                 the plan and a fingerprint of the input and the settings
     DIR/tile_NNNNNN.h5           a finished tile's solution over its whole extent (raw, not weighted)
     DIR/tile_NNNNNN.checkpoint.h5  a tile stopped by a signal inside its iterations
   One file per tile, not one shared file: a group writes its tiles on its own ranks (HDF5's
   metadata changes are collective over the ranks that opened a file, which would tie the groups
   together), and a tile file appears atomically (written under a temporary name, then renamed),
   so a tile is finished exactly when its file exists. A stopped run leaves DIR; run again, it
   solves only the tiles without a file. The output is then assembled slab by slab: each rank
   reads, from every tile that overlaps its slab, the weighted part (a hyperslab), sums and
   normalises, and the slabs are written collectively as one file.

   Memory per rank: one tile's solver (on its group) while solving; then the rank's slab of the
   result (4 bytes a voxel of m_z / P planes) and one tile's overlap with it (at most as much). */
#include "decon/tiles_impl.h"
#include <pdecon/core/fingerprint.h>
#include <pdecon/io/io.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define TILES_VERSION 1
#define NMETA         15

/* Options that do not change a tile's result (the plan is hashed itself). */
static const char *const neutral[] = {"monitor", "converged_reason", "checkpoint", "checkpoint_every", "memory_view", "memory_limit", "restart", "blind_psf_output", "tiles", "tile_margin", "tile_groups",
                                      "tile_stop_after", NULL};

static void TileFile(const char *dir, PetscInt t, const char *what, char *path, size_t len)
{
  snprintf(path, len, "%s/tile_%06" PetscInt_FMT "%s.h5", dir, t, what);
}

static void ManifestFile(const char *dir, char *path, size_t len)
{
  snprintf(path, len, "%s/tiles.h5", dir);
}

/* The input (its name, byte size and modification time: the data are not read again), the plan,
   the PSF and every option that shapes a tile's result. */
static PetscErrorCode Fingerprint(MPI_Comm comm, const PdTilePlan *p, const ptrdiff_t pn[3], const float *psf, const char *input, double fp[2])
{
  PdHash      h = PD_HASH_INIT;
  char        file[PETSC_MAX_PATH_LEN], *colon;
  long long   st[2] = {0, 0};
  struct stat sb;
  int         rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscStrncpy(file, input, sizeof(file)));
  if ((colon = strstr(file, ".h5:")) || (colon = strstr(file, ".hdf5:")) || (colon = strstr(file, ".he5:"))) *strchr(colon, ':') = 0;
  if (rank == 0 && stat(file, &sb) == 0) {
    st[0] = (long long)sb.st_size;
    st[1] = (long long)sb.st_mtime;
  }
  PetscCallMPI(MPI_Bcast(st, 2, MPI_LONG_LONG, 0, comm));
  PdHashBytes(&h, "pdecon tiles", 12);
  PdHashBytes(&h, input, strlen(input));
  PdHashBytes(&h, st, sizeof(st));
  PdHashBytes(&h, p->m, sizeof(p->m));
  PdHashBytes(&h, p->count, sizeof(p->count));
  PdHashBytes(&h, p->margin, sizeof(p->margin));
  PdHashBytes(&h, p->blend, sizeof(p->blend));
  PdHashBytes(&h, pn, 3 * sizeof(ptrdiff_t));
  PdHashBytes(&h, psf, sizeof(float) * (size_t)(pn[0] * pn[1] * pn[2]));
  PetscCall(PdHashOptions(&h, "decon_", neutral));
  PdHashSplit(h, fp);
  PetscFunctionReturn(0);
}

static void Meta(const PdTilePlan *p, const double fp[2], double meta[NMETA])
{
  meta[0] = TILES_VERSION;
  meta[1] = fp[0];
  meta[2] = fp[1];
  for (int a = 0; a < 3; a++) {
    meta[3 + a]  = (double)p->m[a];
    meta[6 + a]  = (double)p->count[a];
    meta[9 + a]  = (double)p->margin[a];
    meta[12 + a] = (double)p->blend[a];
  }
}

/* Whether a directory holds nothing (a run that stopped before writing its plan there). */
static PetscBool Empty(const char *dir)
{
  DIR           *d = opendir(dir);
  struct dirent *e;
  PetscBool      empty = PETSC_TRUE;

  if (!d) return PETSC_FALSE;
  while (empty && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = PETSC_FALSE;
  closedir(d);
  return empty;
}

/* Opens DIR for this run: makes it, or checks that it holds tiles of this input, plan and
   settings (anything else is refused and left as it is); done[t]: tile t is finished. */
static PetscErrorCode ScratchOpen(MPI_Comm comm, const PdTilePlan *p, const char *dir, const double fp[2], PetscBool *done, PetscInt *ndone)
{
  char        manifest[PETSC_MAX_PATH_LEN + 16], path[PETSC_MAX_PATH_LEN + 32];
  double      want[NMETA], have[NMETA];
  const PetscInt nt = PdTilePlanCount(p);
  int         rank, state = 0, *flags;
  struct stat sb;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  ManifestFile(dir, manifest, sizeof(manifest));
  /* state: 0 new (made now, or empty), 1 ours, 2 a directory of something else, 3 not a directory,
     4 cannot make */
  if (rank == 0) {
    if (stat(dir, &sb) != 0) state = mkdir(dir, 0777) == 0 ? 0 : 4;
    else if (!S_ISDIR(sb.st_mode)) state = 3;
    else state = access(manifest, F_OK) == 0 ? 1 : Empty(dir) ? 0 : 2;
  }
  PetscCallMPI(MPI_Bcast(&state, 1, MPI_INT, 0, comm));
  PetscCheck(state != 4, comm, PD_ERR_FILE, "%s: cannot make the directory for the tiles (its parent must exist and be writable)", dir);
  PetscCheck(state != 3, comm, PD_ERR_INPUT, "%s: exists and is not a directory: the tiles of this run go there (remove it, or name another place with -decon_checkpoint)", dir);
  PetscCheck(state != 2, comm, PD_ERR_INPUT, "%s: a directory that holds no tiles of pdecon: left as it is (name another place with -decon_checkpoint)", dir);
  Meta(p, fp, want);
  if (state == 1) {
    PetscCall(PdH5ReadScalars(comm, manifest, "pdecon_tiles", NMETA, have));
    PetscCheck(have[0] == TILES_VERSION, comm, PD_ERR_INPUT, "%s: tiles of format %.0f, this pdecon reads %d: delete it to start afresh", dir, have[0], TILES_VERSION);
    PetscCheck(!memcmp(have, want, sizeof(want)), comm, PD_ERR_INPUT,
               "%s: tiles of another input, plan or settings (fingerprint differs): continue with those, or delete it to start afresh", dir);
  } else {
    PdH5Writer w;
    PetscCall(PdH5WriterOpen(comm, manifest, &w));
    PetscCall(PdH5WriterAddScalars(w, "pdecon_tiles", NMETA, want));
    PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  }
  PetscCall(PetscCalloc1(nt, &flags));
  for (PetscInt t = 0; rank == 0 && t < nt; t++) {
    TileFile(dir, t, "", path, sizeof(path));
    flags[t] = access(path, F_OK) == 0;
  }
  PetscCallMPI(MPI_Bcast(flags, (int)nt, MPI_INT, 0, comm));
  *ndone = 0;
  for (PetscInt t = 0; t < nt; t++) {
    done[t] = (PetscBool)flags[t];
    *ndone += flags[t];
  }
  PetscCall(PetscFree(flags));
  PetscFunctionReturn(0);
}

typedef struct {
  const char *input, *dir;
  double      fp[2];
} FileIO;

static PetscErrorCode FileRead(void *ctx, PetscInt t, const ptrdiff_t e0[3], const PdLayout *l, float *y)
{
  const FileIO *io = (const FileIO *)ctx;

  PetscFunctionBegin;
  (void)t;
  PetscCall(PdImageReadBox(io->input, e0, l, y));
  PetscFunctionReturn(0);
}

static PetscErrorCode FileWrite(void *ctx, PetscInt t, const ptrdiff_t e0[3], const PdLayout *l, const float *x, PetscInt its)
{
  const FileIO *io = (const FileIO *)ctx;
  char          path[PETSC_MAX_PATH_LEN + 32];
  double        meta[4] = {io->fp[0], io->fp[1], (double)t, (double)its};
  PdH5Writer    w;

  PetscFunctionBegin;
  (void)e0;
  TileFile(io->dir, t, "", path, sizeof(path));
  PetscCall(PdH5WriterOpen(l->comm, path, &w));
  PetscCall(PdH5WriterAddScalars(w, "pdecon_tile", 4, meta));
  PetscCall(PdH5WriterAdd(w, "/x", l, x, NULL));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  PetscFunctionReturn(0);
}

static void FileCheckpoint(void *ctx, PetscInt t, char *path, size_t len)
{
  TileFile(((const FileIO *)ctx)->dir, t, ".checkpoint", path, len);
}

PetscErrorCode PdTiledDeconvolveFile(MPI_Comm comm, const PdTilePlan *p, PdTileConfigureFn configure, void *ctx, const ptrdiff_t pn[3], const float *psf, const char *psfname, const char *input,
                                     const char *dir, PetscBool *stopped, PetscInt *finished)
{
  const PetscInt nt = PdTilePlanCount(p);
  FileIO         fio = {input, dir, {0, 0}};
  PdTileIO       io  = {FileRead, FileWrite, FileCheckpoint, &fio};
  PetscBool     *done;
  PetscInt       ndone = 0, its;
  char           path[PETSC_MAX_PATH_LEN + 32];
  int            rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(Fingerprint(comm, p, pn, psf, input, fio.fp));
  PetscCall(PetscMalloc1(nt, &done));
  PetscCall(ScratchOpen(comm, p, dir, fio.fp, done, &ndone));
  if (ndone) PetscCall(PetscPrintf(comm, "%s: resuming: %" PetscInt_FMT " of %" PetscInt_FMT " tiles finished in %s\n", input, ndone, nt, dir));
  PetscCall(PdTilesSolve(comm, p, configure, ctx, pn, psf, psfname, &io, done, stopped, &its));
  *finished = 0;
  for (PetscInt t = 0; t < nt; t++) {
    int f = 0;
    TileFile(dir, t, "", path, sizeof(path));
    if (rank == 0) f = access(path, F_OK) == 0;
    *finished += f;
  }
  PetscCallMPI(MPI_Bcast(finished, 1, MPIU_INT, 0, comm));
  PetscCall(PetscFree(done));
  PetscFunctionReturn(0);
}

/* Adds the weighted overlap of tile t with this rank's slab of the result (layout out). */
static PetscErrorCode AddTile(const PdTilePlan *p, const char *dir, PetscInt t, const PdLayout *out, float *v, const double fp[2], PetscInt *its)
{
  ptrdiff_t c0[3], c1[3], e0[3], e1[3], s0[3], s1[3], n[3], off[3], j[3], lo, hi;
  char      spec[PETSC_MAX_PATH_LEN + 40];
  double    meta[4];
  PdLayout *box;
  float    *buf;

  PetscFunctionBegin;
  PdTilePlanGetTile(p, t, c0, c1, e0, e1);
  PdTileSupport(p, t, s0, s1);
  PdTileIndex(p, t, j);
  for (int a = 0; a < 3; a++) {
    n[a]   = s1[a] - s0[a];
    off[a] = s0[a] - e0[a];
  }
  TileFile(dir, t, "", spec, sizeof(spec));
  PetscCall(PdH5ReadScalars(out->comm, spec, "pdecon_tile", 4, meta));
  PetscCheck(meta[0] == fp[0] && meta[1] == fp[1] && meta[2] == (double)t, out->comm, PD_ERR_INPUT, "%s: not a tile of this run (fingerprint differs): delete %s to start afresh", spec, dir);
  *its = PetscMax(*its, (PetscInt)meta[3]);
  /* the planes of the support that fall in this rank's slab: consecutive ranks, consecutive planes */
  lo = PetscMax(s0[0], out->z0);
  hi = PetscMax(lo, PetscMin(s1[0], out->z0 + out->nzl));
  PetscCall(PdLayoutCreate(out->comm, n, lo - s0[0], hi - lo, n[2], n[1] * n[2], &box));
  PetscCall(PetscMalloc1(PdLayoutLocalSize(box), &buf));
  PetscCall(PetscStrlcat(spec, ":/x", sizeof(spec)));
  PetscCall(PdImageReadBox(spec, off, box, buf));
  for (ptrdiff_t z = 0; z < hi - lo; z++) {
    const float wz = PdTileAxisWeight(p, 0, j[0], c0[0], c1[0], lo + z);
    for (ptrdiff_t y = 0; y < n[1]; y++) {
      const float  wzy = wz * PdTileAxisWeight(p, 1, j[1], c0[1], c1[1], s0[1] + y);
      float       *o   = v + (lo + z - out->z0) * out->ps + (s0[1] + y) * out->rs + s0[2];
      const float *b   = buf + (z * n[1] + y) * n[2];
      for (ptrdiff_t x = 0; x < n[2]; x++) o[x] += wzy * PdTileAxisWeight(p, 2, j[2], c0[2], c1[2], s0[2] + x) * b[x];
    }
  }
  PetscCall(PetscFree(buf));
  PetscCall(PdLayoutDestroy(&box));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTiledAssemble(MPI_Comm comm, const PdTilePlan *p, const char *dir, PdLayout **lay, float **x, PetscInt *its)
{
  char     manifest[PETSC_MAX_PATH_LEN + 16];
  double   meta[NMETA];
  float   *norm[3], *v;
  PdLayout *out;

  PetscFunctionBegin;
  ManifestFile(dir, manifest, sizeof(manifest));
  PetscCall(PdH5ReadScalars(comm, manifest, "pdecon_tiles", NMETA, meta));
  PetscCall(PdLayoutCreateBlock(comm, p->m, &out));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(out), &v));
  *its = 0;
  /* in tile order on every rank: the sum at a voxel does not depend on who solved what */
  for (PetscInt t = 0; t < PdTilePlanCount(p); t++) PetscCall(AddTile(p, dir, t, out, v, meta + 1, its));
  for (int a = 0; a < 3; a++) PetscCall(PdTileAxisNorm(p, a, &norm[a]));
  for (ptrdiff_t z = 0; z < out->nzl; z++)
    for (ptrdiff_t y = 0; y < out->n[1]; y++)
      for (ptrdiff_t i = 0; i < out->n[2]; i++) {
        const float w = norm[0][out->z0 + z] * norm[1][y] * norm[2][i];
        float      *o = v + z * out->ps + y * out->rs + i;
        *o            = w > 0 ? *o / w : 0.0f;
      }
  for (int a = 0; a < 3; a++) PetscCall(PetscFree(norm[a]));
  *lay = out;
  *x   = v;
  PetscFunctionReturn(0);
}

PetscErrorCode PdTileScratchRemove(MPI_Comm comm, const PdTilePlan *p, const char *dir)
{
  char path[PETSC_MAX_PATH_LEN + 32];
  int  rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Barrier(comm));
  if (rank == 0) {
    /* only the files this driver names: anything else in the directory keeps it */
    for (PetscInt t = 0; t < PdTilePlanCount(p); t++) {
      TileFile(dir, t, "", path, sizeof(path));
      (void)unlink(path);
      TileFile(dir, t, ".checkpoint", path, sizeof(path));
      (void)unlink(path);
    }
    ManifestFile(dir, path, sizeof(path));
    (void)unlink(path);
    (void)rmdir(dir);
  }
  PetscFunctionReturn(0);
}
