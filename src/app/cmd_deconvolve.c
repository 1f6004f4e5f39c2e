/* pdecon deconvolve: restore one 3D stack, or a batch of them (a list of files, or the stacks of
   a 4-D HDF5 dataset), with any method. In a batch, stacks of the same size and voxel size share
   one solver (FFT plans and OTF made once); a stack that fails is reported and the others go on;
   outputs that already exist are skipped and a stack with a checkpoint resumes from it, so a
   batch can simply be run again after a failure or a time limit. */
#include "app.h"
#include <pdecon/decon/decon.h>
#include <pdecon/decon/tiles.h>
#include <pdecon/io/io.h>
#include <pdecon/viz/preview.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LIST 4096

typedef struct {
  /* options */
  char          preview[PETSC_MAX_PATH_LEN], otype[16];
  PetscBool     view, bigendian, batch;
  char          ckpt[PETSC_MAX_PATH_LEN]; /* -decon_checkpoint: a file (one stack) or a directory (a batch); "" next to each output */
  char          tiles[64], tile_margin[64];  /* -decon_tiles, -decon_tile_margin */
  PetscInt      tile_groups;                 /* -decon_tile_groups */
  AppPSFOptions po;
  /* the solver of the current configuration (size, voxel size) */
  PdDecon       d;
  ptrdiff_t     n[3];
  double        voxel[3];
} Ctx;

/* Derived output name: DIR/<input file name without extension>[_tNNNN]_decon.<ext>. */
static void OutputName(const char *outdir, const char *ext, const char *in, long t, char *out, size_t len)
{
  char        file[PETSC_MAX_PATH_LEN], *dot, *colon;
  const char *base;

  snprintf(file, sizeof(file), "%s", in);
  if ((colon = strstr(file, ".h5:")) || (colon = strstr(file, ".hdf5:")) || (colon = strstr(file, ".he5:"))) *strchr(colon, ':') = 0;
  base = basename(file);
  snprintf(out, len, "%s/%s", outdir, base);
  if ((dot = strrchr(out + strlen(outdir) + 1, '.'))) *dot = 0;
  if (t >= 0) snprintf(out + strlen(out), len - strlen(out), "_t%04ld", t);
  snprintf(out + strlen(out), len - strlen(out), "_decon.%s", ext);
}

/* The checkpoint of one stack: the -decon_checkpoint file of a single stack; otherwise
   <output file>.checkpoint.h5, next to the output or, in a batch with -decon_checkpoint DIR, in
   DIR. */
static void CheckpointName(const Ctx *c, const char *output, char *ck, size_t len)
{
  char  file[PETSC_MAX_PATH_LEN], *colon;

  if (c->ckpt[0] && !c->batch) {
    snprintf(ck, len, "%s", c->ckpt);
    return;
  }
  snprintf(file, sizeof(file), "%s", output);
  if ((colon = strstr(file, ".h5:")) || (colon = strstr(file, ".hdf5:")) || (colon = strstr(file, ".he5:"))) *strchr(colon, ':') = 0;
  if (c->ckpt[0]) snprintf(ck, len, "%s/%s.checkpoint.h5", c->ckpt, basename(file));
  else snprintf(ck, len, "%s.checkpoint.h5", file);
}

static PetscErrorCode EnsureSolver(MPI_Comm comm, Ctx *c, const PdImageInfo *info, const char *input)
{
  char      psfname[PETSC_MAX_PATH_LEN];
  ptrdiff_t pn[3];
  float    *psf;

  PetscFunctionBegin;
  if (c->d && c->n[0] == info->n[0] && c->n[1] == info->n[1] && c->n[2] == info->n[2] && c->voxel[0] == info->voxel[0] && c->voxel[1] == info->voxel[1] && c->voxel[2] == info->voxel[2])
    PetscFunctionReturn(0);
  PetscCall(PdDeconDestroy(&c->d));
  /* a model PSF follows the image's voxel size unless -psf_dxy/-psf_dz fix it */
  PetscCall(AppPSFSetFromOptions(comm, info->voxel, &c->po));
  PetscCall(AppPSFCompute(comm, &c->po, pn, &psf, psfname, sizeof(psfname)));
  PetscCall(PdDeconCreate(comm, &c->d));
  PetscCall(PdDeconSetFromOptions(c->d));
  PetscCall(PdDeconSetImageSize(c->d, info->n, input));
  PetscCall(PdDeconSetPSF(c->d, pn, psf, psfname));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconSetUp(c->d));
  if (c->view) PetscCall(PdDeconView(c->d, PETSC_VIEWER_STDOUT_(comm)));
  for (int i = 0; i < 3; i++) {
    c->n[i]     = info->n[i];
    c->voxel[i] = info->voxel[i];
  }
  PetscFunctionReturn(0);
}

/* The tiled branch: when -decon_tiles asks for tiles, or auto finds the stack too big for one
   volume, the stack is deconvolved tile by tile and written here (*done); otherwise nothing. */
static PetscErrorCode DeconvolveTiled(MPI_Comm comm, Ctx *c, const PdImageInfo *info, const char *input, const char *output, PetscBool *done)
{
  char        psfname[PETSC_MAX_PATH_LEN], *opts;
  ptrdiff_t   pn[3];
  float      *psf, *yall = NULL, *xall;
  PdTilePlan  plan;
  PdLayout   *lay;
  PdDecon     probe;
  const char *method;
  PetscInt    its;

  PetscFunctionBegin;
  *done = PETSC_FALSE;
  if (!strcmp(c->tiles, "off")) PetscFunctionReturn(0);
  PetscCall(AppPSFSetFromOptions(comm, info->voxel, &c->po));
  PetscCall(AppPSFCompute(comm, &c->po, pn, &psf, psfname, sizeof(psfname)));
  PetscCall(PdTilePlanCreate(comm, info->n, pn, psf, psfname, c->tiles, c->tile_margin, &plan, done));
  if (*done) {
    plan.groups = c->tile_groups;
    PetscCall(PdImageReadAll(comm, input, NULL, &yall));
    PetscCall(PetscMalloc1(info->n[0] * info->n[1] * info->n[2], &xall));
    PetscCall(PdTiledDeconvolve(comm, &plan, NULL, NULL, pn, psf, psfname, yall, xall, &its));
    PetscCall(PdLayoutCreateBlock(comm, info->n, &lay));
    PetscCall(PdDeconCreate(comm, &probe));
    PetscCall(PdDeconSetFromOptions(probe));
    PetscCall(PdDeconGetMethod(probe, &method));
    PetscCall(AppOptionsString(&opts));
    {
      PdImageAttrs a = {{info->voxel[0], info->voxel[1], info->voxel[2]}, method, its, opts, c->otype, c->bigendian};
      PetscCall(PdImageWrite(output, lay, xall + lay->z0 * lay->ps, &a));
    }
    PetscCall(PetscPrintf(comm, "wrote %s\n", output));
    PetscCall(PetscFree(opts));
    PetscCall(PdDeconDestroy(&probe));
    PetscCall(PdLayoutDestroy(&lay));
    PetscCall(PetscFree(xall));
    PetscCall(PetscFree(yall));
  }
  PetscCall(PetscFree(psf));
  PetscFunctionReturn(0);
}

/* One stack. *stopped: a stop signal ended it with a checkpoint written. */
static PetscErrorCode DeconvolveOne(MPI_Comm comm, Ctx *c, const char *input, const char *output, PetscBool *stopped)
{
  PdImageInfo     info;
  const PdLayout *dlay, *xlay;
  float          *y;
  const float    *x;
  const char     *method, *restart = NULL;
  char           *opts, ck[PETSC_MAX_PATH_LEN + 16];
  PetscInt        its;
  PdDeconConvergedReason reason;
  int             rank;

  PetscFunctionBegin;
  *stopped = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  CheckpointName(c, output, ck, sizeof(ck));
  {
    const char *inputs[3] = {input, c->po.file[0] ? c->po.file : NULL, output};
    PetscCall(PdOutputCheck(comm, output, 2, inputs));
    if (c->preview[0]) PetscCall(PdOutputCheck(comm, c->preview, 2, inputs));
    /* the checkpoint is overwritten at every save: never an input, nor the output */
    PetscCall(PdOutputCheck(comm, ck, 3, inputs));
  }
  PetscCall(PdImageQuery(comm, input, &info));
  PetscCheck(info.nt == 0, comm, PD_ERR_INPUT, "%s: a 4-D dataset of %td stacks: deconvolve them all with -output_dir DIR, or one as FILE:/dataset[t]", input, info.nt);
  {
    PetscBool tiled;
    PetscCall(DeconvolveTiled(comm, c, &info, input, output, &tiled));
    if (tiled) PetscFunctionReturn(0);
  }
  PetscCall(EnsureSolver(comm, c, &info, input));
  if (c->batch) {
    /* a batch resumes a stack from its checkpoint by itself */
    int have = rank == 0 && access(ck, F_OK) == 0;
    PetscCallMPI(MPI_Bcast(&have, 1, MPI_INT, 0, comm));
    restart = have ? ck : "";
    PetscCall(PdDeconSetRestart(c->d, restart));
    if (have) PetscCall(PetscPrintf(comm, "%s: resuming from %s\n", input, ck));
  }
  PetscCall(PdDeconSetCheckpoint(c->d, ck, -1));
  PetscCall(PdDeconGetData(c->d, &dlay, &y));
  PetscCall(PdImageRead(input, dlay, y));
  PetscCall(PdDeconSolve(c->d));
  PetscCall(PdDeconConvergedReasonView(c->d, PETSC_VIEWER_STDOUT_(comm)));
  PetscCall(PdDeconGetConvergedReason(c->d, &reason));
  if (reason == PD_DECON_STOPPED_SIGNAL) {
    PetscCall(PetscPrintf(comm, "%s: stopped by a signal: state saved in %s; continue with -decon_restart %s%s\n", input, ck, ck, c->batch ? " (a batch resumes by itself)" : ""));
    *stopped = PETSC_TRUE;
    PetscFunctionReturn(0);
  }
  PetscCall(PdDeconGetSolution(c->d, &xlay, &x));
  PetscCall(PdDeconGetMethod(c->d, &method));
  PetscCall(PdDeconGetIterationNumber(c->d, &its));
  PetscCall(AppOptionsString(&opts));
  {
    PdImageAttrs a = {{info.voxel[0], info.voxel[1], info.voxel[2]}, method, its, opts, c->otype, c->bigendian};
    PetscCall(PdImageWrite(output, xlay, x, &a));
  }
  PetscCall(PetscFree(opts));
  if (c->preview[0]) {
    char            its_str[32];
    PdPreviewColumn cols[2] = {{dlay, y, "data", NULL}, {xlay, x, method, its_str}};
    PetscCall(PetscSNPrintf(its_str, sizeof(its_str), "%" PetscInt_FMT " iteration%s", its, its == 1 ? "" : "s"));
    PetscCall(PdPreviewWrite(c->preview, 2, cols, info.voxel, PD_VIEW_XY | PD_VIEW_XZ));
  }
  PetscCall(PetscPrintf(comm, "wrote %s%s%s\n", output, c->preview[0] ? " and " : "", c->preview));
  /* the result is safe: the checkpoint is obsolete */
  if (rank == 0 && access(ck, F_OK) == 0) (void)unlink(ck);
  PetscFunctionReturn(0);
}

/* The batch: (input, output) pairs from -input (4-D) or -input_list. */
static PetscErrorCode BuildBatch(MPI_Comm comm, const char *input, const char *list, const char *outdir, const char *ext, char ***ins, char ***outs, PetscInt *n)
{
  char      line[PETSC_MAX_PATH_LEN], out[2 * PETSC_MAX_PATH_LEN];
  PetscInt  cnt = 0;
  char    **lin, **lout;
  int       rank;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(MAX_LIST, &lin, MAX_LIST, &lout));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (list[0]) {
    /* rank 0 reads the list and broadcasts it line by line */
    FILE *f  = rank == 0 ? fopen(list, "r") : NULL;
    int   ok = rank != 0 || f != NULL;
    PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    PetscCheck(ok, comm, PD_ERR_FILE, "%s: cannot open the input list", list);
    for (;;) {
      int more = 0;
      if (rank == 0) {
        more = fgets(line, sizeof(line), f) != NULL;
        if (more) line[strcspn(line, "\r\n")] = 0;
      }
      PetscCallMPI(MPI_Bcast(&more, 1, MPI_INT, 0, comm));
      if (!more) break;
      PetscCallMPI(MPI_Bcast(line, sizeof(line), MPI_CHAR, 0, comm));
      if (!line[0] || line[0] == '#') continue;
      PetscCheck(cnt < MAX_LIST, comm, PD_ERR_INPUT, "%s: more than %d inputs", list, MAX_LIST);
      OutputName(outdir, ext, line, -1, out, sizeof(out));
      PetscCall(PetscStrallocpy(line, &lin[cnt]));
      PetscCall(PetscStrallocpy(out, &lout[cnt++]));
    }
    if (f) fclose(f);
  } else {
    PdImageInfo info;
    PetscCall(PdImageQuery(comm, input, &info));
    for (ptrdiff_t t = 0; t < PetscMax(info.nt, 1) && cnt < MAX_LIST; t++) {
      if (info.nt) snprintf(line, sizeof(line), "%s[%td]", input, t);
      else snprintf(line, sizeof(line), "%s", input);
      OutputName(outdir, ext, input, info.nt ? (long)t : -1, out, sizeof(out));
      PetscCall(PetscStrallocpy(line, &lin[cnt]));
      PetscCall(PetscStrallocpy(out, &lout[cnt++]));
    }
  }
  *ins  = lin;
  *outs = lout;
  *n    = cnt;
  PetscFunctionReturn(0);
}

static PetscBool Exists(MPI_Comm comm, const char *spec)
{
  char file[PETSC_MAX_PATH_LEN], *colon;
  int  rank, e = 0;
  snprintf(file, sizeof(file), "%s", spec);
  if ((colon = strstr(file, ".h5:"))) *strchr(colon, ':') = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) e = access(file, F_OK) == 0;
  MPI_Bcast(&e, 1, MPI_INT, 0, comm);
  return e ? PETSC_TRUE : PETSC_FALSE;
}

PetscErrorCode CmdDeconvolve(MPI_Comm comm)
{
  char      input[PETSC_MAX_PATH_LEN] = "", output[PETSC_MAX_PATH_LEN] = "", list[PETSC_MAX_PATH_LEN] = "", outdir[PETSC_MAX_PATH_LEN] = "", ext[8] = "h5";
  PetscBool has_in, has_out, stopped = PETSC_FALSE;
  Ctx       c;
  PdDecon   probe;

  PetscFunctionBegin;
  /* from the start: a stop signal during set-up then stops after the first iteration */
  PetscCall(PdStopHandlerInstall());
  PetscCall(PetscMemzero(&c, sizeof(c)));
  PetscCall(PetscStrncpy(c.otype, "float32", sizeof(c.otype)));
  PetscCall(PetscStrncpy(c.tiles, "auto", sizeof(c.tiles)));
  c.tile_groups = 1;
  PetscOptionsBegin(comm, NULL, "pdecon deconvolve", "");
  PetscCall(PetscOptionsString("-input", "Measured stack: file.tif, file.h5:/dataset, or a 4-D dataset (all its stacks, with -output_dir)", "", input, input, sizeof(input), &has_in));
  PetscCall(PetscOptionsString("-input_list", "File listing one input per line: a batch (with -output_dir)", "", list, list, sizeof(list), NULL));
  PetscCall(PetscOptionsString("-output", "Result of a single stack: file.h5:/dataset or file.tif (written atomically)", "", output, output, sizeof(output), &has_out));
  PetscCall(PetscOptionsString("-output_dir", "Directory for the results of a batch, named <input>[_tNNNN]_decon.<ext>", "", outdir, outdir, sizeof(outdir), NULL));
  PetscCall(PetscOptionsString("-output_format", "Format of batch results: h5 or tif", "", ext, ext, sizeof(ext), NULL));
  PetscCall(PetscOptionsString("-output_type", "Sample type of the result: float32, uint16 or uint8 (integers are rounded and clamped)", "", c.otype, c.otype, sizeof(c.otype), NULL));
  PetscCall(PetscOptionsBool("-output_bigendian", "Write TIFF big-endian", "", c.bigendian, &c.bigendian, NULL));
  PetscCall(PetscOptionsString("-preview", "PNG of max-intensity projections, input beside result (single stack)", "", c.preview, c.preview, sizeof(c.preview), NULL));
  PetscCall(PetscOptionsString("-decon_tiles", "Overlapping tiles: auto (only when one volume does not fit), off, or Y,X[,Z] tiles along y, x (z)", "", c.tiles, c.tiles, sizeof(c.tiles), NULL));
  PetscCall(PetscOptionsString("-decon_tile_margin", "Tile margin Y,X[,Z] voxels (default and minimum: the PSF's half extent)", "", c.tile_margin, c.tile_margin, sizeof(c.tile_margin), NULL));
  PetscCall(PetscOptionsInt("-decon_tile_groups", "Groups of ranks solving tiles concurrently, round robin (the rank count: one rank a tile, no communication in the iterations)", "", c.tile_groups, &c.tile_groups, NULL));
  PetscCall(PetscOptionsBool("-view", "Describe the set-up (sizes, slabs, memory) before solving", "", c.view, &c.view, NULL));
  PetscOptionsEnd();
  /* read every option now, so that -help lists them and unknown ones are refused up front */
  PetscCall(AppPSFSetFromOptions(comm, NULL, &c.po));
  PetscCall(PdDeconCreate(comm, &probe));
  PetscCall(PdDeconSetFromOptions(probe));
  PetscCall(PdDeconDestroy(&probe));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-decon_checkpoint", c.ckpt, sizeof(c.ckpt), NULL));
  if (AppHelpRequested()) PetscFunctionReturn(0);
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck((has_in && input[0]) || list[0], comm, PD_ERR_INPUT, "deconvolve needs -input FILE or -input_list FILE (see -help)");
  c.batch = (PetscBool)(list[0] || outdir[0]);
  if (!c.batch) {
    PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "deconvolve needs -output FILE, or -output_dir DIR for a batch (see -help)");
    PetscCall(DeconvolveOne(comm, &c, input, output, &stopped));
  } else {
    char   **ins, **outs;
    PetscInt n = 0, done = 0, skipped = 0, failed = 0;
    char     summary[4096] = "";

    PetscCheck(outdir[0], comm, PD_ERR_INPUT, "a batch (-input_list or a 4-D -input) needs -output_dir DIR");
    PetscCheck(!strcmp(ext, "h5") || !strcmp(ext, "tif"), comm, PD_ERR_INPUT, "-output_format: h5 or tif, not '%s'", ext);
    PetscCheck(!c.preview[0], comm, PD_ERR_INPUT, "-preview is for a single stack");
    if (c.ckpt[0]) {
      int isdir = 0, rank;
      struct stat sb;
      PetscCallMPI(MPI_Comm_rank(comm, &rank));
      if (!rank) isdir = stat(c.ckpt, &sb) == 0 && S_ISDIR(sb.st_mode);
      PetscCallMPI(MPI_Bcast(&isdir, 1, MPI_INT, 0, comm));
      PetscCheck(isdir, comm, PD_ERR_INPUT, "%s: in a batch -decon_checkpoint names an existing directory for the stacks' checkpoints", c.ckpt);
    }
    PetscCall(BuildBatch(comm, input, list, outdir, ext, &ins, &outs, &n));
    for (PetscInt i = 0; i < n && !stopped; i++) {
      PetscErrorCode ierr;
      if (Exists(comm, outs[i])) {
        PetscCall(PetscPrintf(comm, "[%" PetscInt_FMT "/%" PetscInt_FMT "] %s: done already (%s)\n", i + 1, n, ins[i], outs[i]));
        skipped++;
        continue;
      }
      PetscCall(PetscPrintf(comm, "[%" PetscInt_FMT "/%" PetscInt_FMT "] %s -> %s\n", i + 1, n, ins[i], outs[i]));
      AppLastError[0] = 0;
      ierr            = DeconvolveOne(comm, &c, ins[i], outs[i], &stopped);
      if (ierr && !AppIsUserError(ierr)) PetscCall(ierr); /* a bug: stop everything */
      if (ierr) {
        /* the error was printed where it happened; the solver may be half set up: drop it */
        PetscCall(PdDeconDestroy(&c.d));
        failed++;
        if (strlen(summary) + strlen(ins[i]) + 64 < sizeof(summary)) {
          PetscCall(PetscStrlcat(summary, "\n  ", sizeof(summary)));
          PetscCall(PetscStrlcat(summary, AppLastError[0] ? AppLastError : ins[i], sizeof(summary)));
        }
      } else if (!stopped) done++;
    }
    PetscCall(PetscPrintf(comm, "batch: %" PetscInt_FMT " stacks: %" PetscInt_FMT " deconvolved, %" PetscInt_FMT " done already, %" PetscInt_FMT " failed%s\n", n, done, skipped, failed,
                          stopped ? ", stopped by a signal (run again to continue)" : ""));
    for (PetscInt i = 0; i < n; i++) {
      PetscCall(PetscFree(ins[i]));
      PetscCall(PetscFree(outs[i]));
    }
    PetscCall(PetscFree2(ins, outs));
    PetscCheck(!failed, comm, PD_ERR_INPUT, "%" PetscInt_FMT " of %" PetscInt_FMT " stacks failed:%s", failed, n, summary);
  }
  if (stopped) AppExitStatus = PD_EXIT_STOPPED;
  PetscCall(PdDeconDestroy(&c.d));
  PetscFunctionReturn(0);
}
