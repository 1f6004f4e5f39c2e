/* pdecon deconvolve: restore one 3D stack, or a batch of them (a list of files, or the stacks of
   a 4-D HDF5 dataset), with any method. In a batch, stacks of the same size and voxel size share
   one solver (FFT plans and OTF made once); a stack that fails is reported and the others go on;
   outputs that already exist are skipped and a stack with a checkpoint resumes from it, so a
   batch can simply be run again after a failure or a time limit. */
#include "app_views.h"
#include <pdecon/decon/decon.h>
#include <pdecon/decon/tiles.h>
#include <pdecon/io/io.h>
#include <pdecon/viz/preview.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LIST 4096

typedef struct {
  /* options */
  char          preview[PETSC_MAX_PATH_LEN], otype[16], scale[64]; /* scale: -output_scale ("" none) */
  PetscBool     view, bigendian, batch, restart_given; /* restart_given: -decon_restart FILE */
  PetscBool     channels_as_z;                      /* -input_channels_as_z */
  char          ckpt[PETSC_MAX_PATH_LEN]; /* -decon_checkpoint: a file (one stack) or a directory (a batch); "" next to each output */
  char          tiles[64], tile_margin[64];  /* -decon_tiles, -decon_tile_margin */
  PetscInt      tile_groups;                 /* -decon_tile_groups */
  PetscInt      tile_stop_after;             /* -decon_tile_stop_after (testing: a stop signal after so many tiles) */
  char          restart[PETSC_MAX_PATH_LEN]; /* -decon_restart */
  AppPSFOptions po;
  AppTruth      truth; /* -decon_truth */
  /* the solver of the current configuration (size, voxel size) */
  PdDecon       d;
  ptrdiff_t     n[3];
  double        voxel[3];
  double        used_voxel[3]; /* the voxel size the solver assumed (the image's, else the PSF's) */
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
  PetscCall(AppTruthSolverChanged(&c->truth));
  /* a model PSF follows the image's voxel size unless -psf_dxy/-psf_dz fix it */
  PetscCall(AppPSFSetFromOptions(comm, info->voxel, &c->po));
  PetscCall(AppPSFForImage(comm, &c->po, info, input, pn, &psf, psfname, sizeof(psfname), c->used_voxel));
  PetscCall(PdDeconCreate(comm, &c->d));
  PetscCall(PdDeconSetFromOptions(c->d));
  PetscCall(PdDeconSetImageSize(c->d, info->n, input));
  PetscCall(PdDeconSetPSF(c->d, pn, psf, psfname));
  PetscCall(PdDeconSetReleasePSF(c->d, PETSC_TRUE)); /* one method here */
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconSetUp(c->d));
  if (c->view) PetscCall(PdDeconView(c->d, PETSC_VIEWER_STDOUT_(comm)));
  for (int i = 0; i < 3; i++) {
    c->n[i]     = info->n[i];
    c->voxel[i] = info->voxel[i];
  }
  PetscFunctionReturn(0);
}

/* An input that is zero everywhere has nothing to restore: its result is zero too. */
static PetscErrorCode WarnIfZero(MPI_Comm comm, const char *input, const PdLayout *l, const float *y)
{
  int any = 0, all;

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < l->nzl * l->n[1] * l->n[2] && !any; i++) any = y[i] != 0;
  PetscCallMPI(MPI_Allreduce(&any, &all, 1, MPI_INT, MPI_MAX, comm));
  if (!all) PetscCall(AppWarning(comm, "%s: the image is zero everywhere: its restoration is zero too", input));
  PetscFunctionReturn(0);
}

/* An integer output type holds [0, top]: with -output_scale (a factor, or "auto": the maximum
   to top) *scaled is a scaled copy of x (free it with PdVolumeFree), else x itself; the voxels
   that the conversion clamps are counted and reported, never silently. */
static PetscErrorCode ScaleForOutput(MPI_Comm comm, const Ctx *c, const char *output, const PdLayout *l, const float *x, const float **scaled, float **copy)
{
  double top = !strcmp(c->otype, "uint16") ? 65535 : !strcmp(c->otype, "uint8") ? 255 : 0, f = 1, mx = -PETSC_MAX_REAL, n[2] = {0, 0};

  PetscFunctionBegin;
  *scaled = x;
  *copy   = NULL;
  if (top == 0) PetscFunctionReturn(0);
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t i = 0; i < l->n[2]; i++) mx = PetscMax(mx, (double)x[z * l->ps + y * l->rs + i]);
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_DOUBLE, MPI_MAX, comm));
  if (c->scale[0]) {
    char *end;
    f = !strcmp(c->scale, "auto") ? (mx > 0 ? top / mx : 1) : strtod(c->scale, &end);
    PetscCheck(!strcmp(c->scale, "auto") || (*end == 0 && f > 0 && isfinite(f)), comm, PD_ERR_INPUT, "-output_scale: '%s' is not accepted: auto (the maximum to %.0f) or a positive factor", c->scale, top);
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(l), copy));
    for (ptrdiff_t z = 0; z < l->nzl; z++)
      for (ptrdiff_t y = 0; y < l->n[1]; y++)
        for (ptrdiff_t i = 0; i < l->n[2]; i++) (*copy)[z * l->ps + y * l->rs + i] = (float)(f * x[z * l->ps + y * l->rs + i]);
    *scaled = *copy;
    PetscCall(PetscPrintf(comm, "%s: values scaled by %.6g for %s (maximum %.6g -> %.6g)\n", output, f, c->otype, mx, f * mx));
  }
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t i = 0; i < l->n[2]; i++) {
        double v = (*scaled)[z * l->ps + y * l->rs + i];
        if (v >= top + 0.5) n[0] += 1;
        else if (!(v > -0.5)) n[1] += 1;
      }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, n, 2, MPI_DOUBLE, MPI_SUM, comm));
  if (n[0] + n[1] > 0) {
    double total = (double)l->n[0] * (double)l->n[1] * (double)l->n[2];
    char below[64] = "";
    if (n[1] > 0) PetscCall(PetscSNPrintf(below, sizeof(below), ", %.0f below 0 set to 0", n[1]));
    PetscCall(AppWarning(comm, "%s: %.0f voxels (%.3g %%) clamped to %.0f%s by -output_type %s (maximum %.6g); -output_scale auto maps the maximum to %.0f", output, n[0] + n[1], 100 * (n[0] + n[1]) / total, top, below, c->otype,
                         f * mx, top));
  }
  PetscFunctionReturn(0);
}

/* The tiles' directory (their checkpoint) of one stack: -decon_restart DIR or -decon_checkpoint
   DIR of a single stack; otherwise <output file>.tiles, next to the output or, in a batch with
   -decon_checkpoint DIR, in DIR. */
static void TilesDirName(const Ctx *c, const char *output, char *dir, size_t len)
{
  char file[PETSC_MAX_PATH_LEN], *colon;

  if (!c->batch && (c->restart[0] || c->ckpt[0])) {
    snprintf(dir, len, "%s", c->restart[0] ? c->restart : c->ckpt);
    return;
  }
  snprintf(file, sizeof(file), "%s", output);
  if ((colon = strstr(file, ".h5:")) || (colon = strstr(file, ".hdf5:")) || (colon = strstr(file, ".he5:"))) *strchr(colon, ':') = 0;
  if (c->ckpt[0]) snprintf(dir, len, "%s/%s.tiles", c->ckpt, basename(file));
  else snprintf(dir, len, "%s.tiles", file);
}

/* The tiled branch: when -decon_tiles asks for tiles, or auto finds the stack too big for one
   volume, the stack is deconvolved tile by tile and written here (*done); otherwise nothing.
   The finished tiles are kept in their directory until the output is written: a stopped run
   (*stopped) continues from them when run again. */
static PetscErrorCode DeconvolveTiled(MPI_Comm comm, Ctx *c, const PdImageInfo *info, const char *input, const char *output, PetscBool *done, PetscBool *stopped)
{
  char        psfname[PETSC_MAX_PATH_LEN], dir[PETSC_MAX_PATH_LEN + 16], *opts;
  ptrdiff_t   pn[3];
  float      *psf, *x;
  PdTilePlan  plan;
  PdLayout   *lay;
  PdDecon     probe;
  const char *method;
  PetscInt    its, finished;

  PetscFunctionBegin;
  *done    = PETSC_FALSE;
  *stopped = PETSC_FALSE;
  if (!strcmp(c->tiles, "off")) PetscFunctionReturn(0);
  PetscCall(AppPSFSetFromOptions(comm, info->voxel, &c->po));
  PetscCall(AppPSFCompute(comm, &c->po, pn, &psf, psfname, sizeof(psfname)));
  PetscCall(PdTilePlanCreate(comm, info->n, pn, psf, psfname, c->tiles, c->tile_margin, &plan, done));
  if (*done) {
    plan.groups     = c->tile_groups;
    plan.stop_after = c->tile_stop_after;
    TilesDirName(c, output, dir, sizeof(dir));
    PetscCall(PdTiledDeconvolveFile(comm, &plan, NULL, NULL, pn, psf, psfname, input, dir, stopped, &finished));
    if (*stopped) {
      PetscCall(PetscPrintf(comm, "%s: stopped by a signal: %" PetscInt_FMT " of %" PetscInt_FMT " tiles finished, kept in %s; run the same command again to continue%s\n", input, finished, PdTilePlanCount(&plan), dir,
                            c->batch ? " (a batch resumes by itself)" : ""));
      PetscCall(PetscFree(psf));
      PetscFunctionReturn(0);
    }
    PetscCall(PdTiledAssemble(comm, &plan, dir, &lay, &x, &its));
    PetscCall(PdDeconCreate(comm, &probe));
    PetscCall(PdDeconSetFromOptions(probe));
    PetscCall(PdDeconGetMethod(probe, &method));
    PetscCall(AppOptionsString(&opts));
    {
      PdImageAttrs a = {{info->voxel[0], info->voxel[1], info->voxel[2]}, method, its, opts, c->otype, c->bigendian};
      const float *out;
      float       *copy;
      /* integer outputs: scaled and their clamping reported as for an untiled run */
      PetscCall(ScaleForOutput(comm, c, output, lay, x, &out, &copy));
      PetscCall(PdImageWrite(output, lay, out, &a));
      PetscCall(PdVolumeFree(&copy));
    }
    PetscCall(PetscPrintf(comm, "wrote %s\n", output));
    /* the result is safe: the tiles are obsolete */
    PetscCall(PdTileScratchRemove(comm, &plan, dir));
    PetscCall(PetscFree(opts));
    PetscCall(PdDeconDestroy(&probe));
    PetscCall(PdLayoutDestroy(&lay));
    PetscCall(PdVolumeFree(&x));
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
  const char     *inputs[4] = {input, c->po.file[0] ? c->po.file : NULL, c->truth.spec[0] ? c->truth.spec : NULL, output};
  const char     *roles[4]  = {"input", "PSF", "truth", "output"};

  PetscFunctionBegin;
  *stopped = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  CheckpointName(c, output, ck, sizeof(ck));
  PetscCall(PdOutputCheckNamed(comm, "output", output, 3, inputs, roles));
  if (c->preview[0]) PetscCall(PdOutputCheckNamed(comm, "preview", c->preview, 4, inputs, roles));
  PetscCall(PdImageQuery(comm, input, &info));
  PetscCheck(!info.channels_as_z || c->channels_as_z, comm, PD_ERR_INPUT, "%s: ImageJ labels its %td planes as channels, not slices (-input_channels_as_z false refuses to read them as z-planes)", input, info.n[0]);
  if (info.note[0]) PetscCall(AppWarning(comm, "%s: %s", input, info.note));
  PetscCheck(info.nt == 0, comm, PD_ERR_INPUT, "%s: a 4-D dataset of %td stacks: deconvolve them all with -output_dir DIR, or one as FILE:/dataset[t]", input, info.nt);
  {
    PetscBool tiled;
    /* a tiled run keeps its tiles in a directory, which it checks itself */
    PetscCall(DeconvolveTiled(comm, c, &info, input, output, &tiled, stopped));
    if (tiled) PetscFunctionReturn(0);
  }
  /* the checkpoint is overwritten at every save: never an input, nor the output */
  PetscCall(PdOutputCheckNamed(comm, "checkpoint", ck, 4, inputs, roles));
  PetscCall(EnsureSolver(comm, c, &info, input));
  if (c->batch || !c->restart_given) {
    /* a stack resumes from its checkpoint by itself: a plain rerun after a crash or a time
       limit must not start afresh and overwrite the work saved there (a checkpoint made with
       other settings is refused, and kept) */
    int have = rank == 0 && access(ck, F_OK) == 0;
    PetscCallMPI(MPI_Bcast(&have, 1, MPI_INT, 0, comm));
    restart = have ? ck : "";
    PetscCall(PdDeconSetRestart(c->d, restart));
    if (have) PetscCall(PetscPrintf(comm, "%s: resuming from %s, the checkpoint of an earlier run (delete it to start afresh)\n", input, ck));
  }
  PetscCall(PdDeconSetCheckpoint(c->d, ck, -1));
  PetscCall(PdDeconGetData(c->d, &dlay, &y));
  PetscCall(PdImageRead(input, dlay, y));
  PetscCall(WarnIfZero(comm, input, dlay, y));
  PetscCall(AppTruthAttach(comm, &c->truth, c->d, input, &info));
  PetscCall(PdDeconSolve(c->d));
  if (c->view) {
    double b;
    PetscCall(PdDeconGetBackground(c->d, &b));
    PetscCall(PetscPrintf(comm, "%s: background used: %.6g per voxel\n", input, b));
  }
  PetscCall(PdDeconConvergedReasonView(c->d, PETSC_VIEWER_STDOUT_(comm)));
  PetscCall(PdDeconGetConvergedReason(c->d, &reason));
  if (reason == PD_DECON_STOPPED_SIGNAL) {
    PetscCall(PetscPrintf(comm, "%s: stopped by a signal: state saved in %s; continue with -decon_restart %s%s\n", input, ck, ck, c->batch ? " (a batch resumes by itself)" : ""));
    *stopped = PETSC_TRUE;
    PetscFunctionReturn(0);
  }
  PetscCall(AppTruthReport(comm, &c->truth, c->d));
  PetscCall(PdDeconGetSolution(c->d, &xlay, &x));
  PetscCall(PdDeconGetMethod(c->d, &method));
  PetscCall(PdDeconGetIterationNumber(c->d, &its));
  PetscCall(AppOptionsString(&opts));
  {
    /* the voxel size the restoration assumed, also when the input had none */
    PdImageAttrs a = {{c->used_voxel[0], c->used_voxel[1], c->used_voxel[2]}, method, its, opts, c->otype, c->bigendian};
    const float *out;
    float       *copy;
    PetscCall(ScaleForOutput(comm, c, output, xlay, x, &out, &copy));
    PetscCall(PdImageWrite(output, xlay, out, &a));
    PetscCall(PdVolumeFree(&copy));
  }
  PetscCall(PetscFree(opts));
  if (c->preview[0]) {
    char its_str[32];
    PetscCall(PdDeconGetData(c->d, &dlay, &y)); /* as floats again (the solve may hold them as counts) */
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
  char      views[PETSC_MAX_PATH_LEN] = "", psfviews[PETSC_MAX_PATH_LEN] = "";
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
  PetscCall(PetscOptionsString("-output_scale", "Integer -output_type: multiply by this factor, or auto (the maximum to the type's maximum) before rounding; clamped voxels are reported", "", c.scale, c.scale, sizeof(c.scale), NULL));
  PetscCall(PetscOptionsBool("-output_bigendian", "Write TIFF big-endian", "", c.bigendian, &c.bigendian, NULL));
  PetscCall(PetscOptionsString("-preview", "PNG of max-intensity projections, input beside result (single stack)", "", c.preview, c.preview, sizeof(c.preview), NULL));
  c.channels_as_z = PETSC_TRUE;
  PetscCall(PetscOptionsBool("-input_channels_as_z", "Read an ImageJ TIFF whose only axis is labelled channels (a 3-D array saved without axes) as z-planes, with a warning (false: refuse it)", "", c.channels_as_z, &c.channels_as_z, NULL));
  PetscCall(PetscOptionsString("-input_views", "Multi-view data: a 4-D dataset (view,z,y,x) or a comma-separated list of stacks (with -psf_views)", "", views, views, sizeof(views), NULL));
  PetscCall(PetscOptionsString("-psf_views", "The views' PSFs, one per view, in one frame: a 4-D dataset or a list", "", psfviews, psfviews, sizeof(psfviews), NULL));
  PetscCall(PetscOptionsString("-decon_tiles", "Overlapping tiles: auto (only when one volume does not fit), off, or Y,X[,Z] tiles along y, x (z)", "", c.tiles, c.tiles, sizeof(c.tiles), NULL));
  PetscCall(PetscOptionsString("-decon_tile_margin", "Tile margin Y,X[,Z] voxels (default and minimum: the PSF's half extent)", "", c.tile_margin, c.tile_margin, sizeof(c.tile_margin), NULL));
  PetscCall(PetscOptionsInt("-decon_tile_groups", "Groups of ranks solving tiles concurrently, round robin (the rank count: one rank a tile, no communication in the iterations)", "", c.tile_groups, &c.tile_groups, NULL));
  PetscCall(PetscOptionsBool("-view", "Describe the set-up (sizes, slabs, memory) before solving", "", c.view, &c.view, NULL));
  PetscOptionsEnd();
  /* read every option now, so that -help lists them and unknown ones are refused up front */
  PetscCall(AppPSFSetFromOptions(comm, NULL, &c.po));
  PetscCall(AppTruthSetFromOptions(comm, NULL, &c.truth));
  PetscCall(PdDeconCreate(comm, &probe));
  PetscCall(PdDeconSetFromOptions(probe));
  PetscCall(PdDeconDestroy(&probe));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-decon_checkpoint", c.ckpt, sizeof(c.ckpt), NULL));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-decon_restart", &c.restart_given));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-decon_restart", c.restart, sizeof(c.restart), NULL));
  /* not in -help: for tests of stopping and resuming at tile granularity */
  c.tile_stop_after = -1;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-decon_tile_stop_after", &c.tile_stop_after, NULL));
  if (AppHelpRequested()) PetscFunctionReturn(0);
  PetscCall(AppCheckOptionsUsed(comm));
  if (views[0]) {
    PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "deconvolve -input_views needs -output FILE");
    PetscCall(AppDeconvolveViews(comm, views, psfviews, output, &c.truth));
    PetscCall(AppTruthDestroy(&c.truth));
    PetscFunctionReturn(0);
  }
  PetscCheck((has_in && input[0]) || list[0], comm, PD_ERR_INPUT, "deconvolve needs -input FILE or -input_list FILE (see -help)");
  PetscCheck(!c.scale[0] || !strcmp(c.otype, "uint16") || !strcmp(c.otype, "uint8"), comm, PD_ERR_INPUT, "-output_scale: for -output_type uint16 or uint8 (this run writes %s)", c.otype);
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
    {
      /* a missing -output_dir is made once here (its parent must exist), not failed per stack */
      int         made = 0, ok = 0, rank;
      struct stat sb;
      PetscCallMPI(MPI_Comm_rank(comm, &rank));
      if (!rank) {
        ok = stat(outdir, &sb) == 0 ? S_ISDIR(sb.st_mode) : (made = mkdir(outdir, 0777) == 0);
      }
      PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
      PetscCallMPI(MPI_Bcast(&made, 1, MPI_INT, 0, comm));
      PetscCheck(ok, comm, PD_ERR_FILE, "%s: -output_dir is not a directory and cannot be made (its parent must exist)", outdir);
      if (made) PetscCall(PetscPrintf(comm, "%s: made the output directory\n", outdir));
    }
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
  PetscCall(AppTruthDestroy(&c.truth));
  PetscCall(PdDeconDestroy(&c.d));
  PetscFunctionReturn(0);
}
