/* pdecon restore: a stack restored by a trained network (pdecon train -model srcnn|isonet1|
   isonet2): SRCNN slice by slice; Isonet on the stack upsampled along z by the anisotropy
   factor, over its yz- and xz-slices, combined (cnn_restore.h). The input is distributed in
   z-slabs and the output written through the image I/O (atomic, no partial file). */
#include "app.h"
#include <pdecon/io/io.h>
#include <pdecon/learn/cnn_restore.h>
#include <pdecon/learn/cyclegan_train.h>
#include <pdecon/learn/nn_tiled.h>
#include <pdecon/quality/metrics.h>
#include <math.h>
#include <string.h>

/* A cycleGAN or U-Net model (pdecon train -model cyclegan|unet): the stack normalised to [0, 1]
   (the training map), G by tiles shared among the ranks (nn_tiled.h); the output is x̂ in (0, 1). */
/* PSNR and SSIM (NaN for a volume thinner than SSIM's window) of v against the truth, both whole
   on every rank in [0, 1] units. */
static PetscErrorCode Quality(MPI_Comm comm, const ptrdiff_t n[3], const float *v, const float *truth, double *psnr, double *ssim)
{
  PdLayout *lay;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreate(PETSC_COMM_SELF, n, 0, n[0], n[2], n[1] * n[2], &lay));
  PetscCall(PdMetricPSNR(lay, v, lay, truth, psnr));
  /* SSIM's 11-voxel window needs that much along every axis */
  if (n[0] >= 11 && n[1] >= 11 && n[2] >= 11) PetscCall(PdMetricSSIM(lay, v, lay, truth, ssim));
  else *ssim = NAN;
  PetscCall(PdLayoutDestroy(&lay));
  (void)comm;
  PetscFunctionReturn(0);
}

/* Prints the PSNR and SSIM of the input and of the result against a truth, all mapped to [0, 1] by
   their percentiles (PdGANNormalize). The result is scored on the truth's grid: its own, or, for
   an Isonet result of a truth with the input's planes, its planes at the input's z = kσ (σ an
   integer). in and res: whole, compact; map_result false: res is in [0, 1] already (the
   cycleGAN's and U-Net's output, in the units of their training map) and is scored as it is.
   Called before the output is written (a bad truth leaves none). */
static PetscErrorCode ScoreAgainstTruth(MPI_Comm comm, const char *truth, const ptrdiff_t n[3], const float *in0, const ptrdiff_t m[3], const float *res0, double sigma, PetscBool map_result)
{
  PdImageInfo     ti;
  float          *tv, *in, *res;
  const ptrdiff_t ns = n[1] * n[2], N = n[0] * ns;
  const PetscBool same_in = (PetscBool)(m[0] == n[0] && m[1] == n[1] && m[2] == n[2]);
  double          p0, s0, p1, s1;

  PetscFunctionBegin;
  PetscCall(PdImageReadAll(comm, truth, &ti, &tv));
  PetscCheck(ti.n[1] == n[1] && ti.n[2] == n[2] && (ti.n[0] == n[0] || ti.n[0] == m[0]), comm, PD_ERR_INPUT, "%s: its size differs from the input's and the output's", truth);
  PetscCheck(ti.n[0] == m[0] || sigma == floor(sigma), comm, PD_ERR_INPUT, "%s: a truth of the input's size needs an integer anisotropy factor (got %g)", truth, sigma);
  PetscCall(PetscMalloc2(N, &in, ti.n[0] * ns, &res));
  PetscCall(PetscArraycpy(in, in0, N));
  /* the result at the truth's planes: all of them, or the input's z = kσ */
  for (ptrdiff_t z = 0; z < ti.n[0]; z++) PetscCall(PetscArraycpy(res + z * ns, res0 + (ti.n[0] == m[0] ? z : (ptrdiff_t)(z * sigma)) * ns, ns));
  PetscCall(PdGANNormalize(ti.n[0] * ns, tv, NULL, NULL));
  if (map_result) PetscCall(PdGANNormalize(ti.n[0] * ns, res, NULL, NULL));
  PetscCall(Quality(comm, ti.n, res, tv, &p1, &s1));
  if (ti.n[0] == n[0]) {
    PetscCall(PdGANNormalize(N, in, NULL, NULL));
    PetscCall(Quality(comm, n, in, tv, &p0, &s0));
    PetscCall(PetscPrintf(comm, "against %s (mapped to [0, 1] by the 0.25/99.75 percentiles%s): input PSNR %.2f dB SSIM %.4f, restored PSNR %.2f dB SSIM %.4f\n", truth, same_in ? "" : "; the result at the input's planes", p0, s0, p1, s1));
  } else PetscCall(PetscPrintf(comm, "against %s (both mapped to [0, 1] by their 0.25/99.75 percentiles): restored PSNR %.2f dB SSIM %.4f\n", truth, p1, s1));
  PetscCall(PetscFree(tv));
  PetscCall(PetscFree2(in, res));
  PetscFunctionReturn(0);
}

/* The tiles: without -restore_overlap, the overlap whose discarded edge covers G's receptive field
   (the tile grown to fit it, PdNNTiledPlan), said in one line; a given overlap is kept, with a
   warning when its edge is narrower, since seams may then differ from a one-pass result. */
static PetscErrorCode ChooseTiles(MPI_Comm comm, PdNN G, const ptrdiff_t n[3], PetscBool has_overlap, PetscInt *tile, PetscInt *overlap)
{
  PetscInt R, T = *tile, V;

  PetscFunctionBegin;
  PetscCall(PdNNTiledPlan(G, n, &T, &V, &R));
  if (!has_overlap) {
    *tile    = T;
    *overlap = V;
    PetscCall(PetscPrintf(comm, "tiles %" PetscInt_FMT "^3, overlap %" PetscInt_FMT ", receptive field %" PetscInt_FMT " voxels (the %" PetscInt_FMT " discarded at each tile's faces cover it)\n", T, V, R, V / 4));
  } else if (*overlap / 4 < R) {
    PetscCall(AppWarning(comm, "-restore_overlap %" PetscInt_FMT ": the %" PetscInt_FMT " voxels discarded at each tile's faces are fewer than the network's receptive field (%" PetscInt_FMT "); seams may differ from a one-pass result (without -restore_overlap: %" PetscInt_FMT ")", *overlap, *overlap / 4, R, V));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode RestoreGAN(MPI_Comm comm, const char *model, const char *input, const char *output, const char *otype, PetscInt tile, PetscBool has_overlap, PetscInt overlap, const char *truth)
{
  PetscInt    k;
  PetscBool   is_gan;
  PdNN        G;
  float      *h, *all, *res;
  PdImageInfo info;
  PdLayout   *lay;
  double      t0, lo, hi;
  char       *opts;

  PetscFunctionBegin;
  PetscCall(PdGANModelLoad(comm, model, &G, &k, &h, &is_gan));
  PetscCall(PdImageReadAll(comm, input, &info, &all));
  PetscCall(PetscMalloc1(info.n[0] * info.n[1] * info.n[2], &res));
  PetscCall(PdGANNormalize(info.n[0] * info.n[1] * info.n[2], all, &lo, &hi));
  PetscCall(ChooseTiles(comm, G, info.n, has_overlap, &tile, &overlap));
  t0 = PdTime();
  PetscCall(PdNNApplyTiled(G, comm, info.n, all, tile, overlap, res));
  t0 = PdTime() - t0;
  if (truth[0]) PetscCall(ScoreAgainstTruth(comm, truth, info.n, all, info.n, res, 1, PETSC_FALSE));
  PetscCall(PdLayoutCreateBlock(comm, info.n, &lay));
  PetscCall(AppOptionsString(&opts));
  {
    PdImageAttrs a = {{info.voxel[0], info.voxel[1], info.voxel[2]}, is_gan ? "cyclegan" : "unet", -1, opts, otype, PETSC_FALSE};
    PetscCall(PdImageWrite(output, lay, res + lay->z0 * info.n[1] * info.n[2], &a));
  }
  PetscCall(PetscPrintf(comm, "wrote %s: %td x %td x %td restored by %s in %" PetscInt_FMT "^3 tiles (overlap %" PetscInt_FMT ", %.2f s)\n", output, info.n[0], info.n[1], info.n[2], is_gan ? "cyclegan" : "unet", tile, overlap, t0));
  PetscCall(PetscFree(opts));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(res));
  PetscCall(PetscFree(h));
  PetscCall(PdNNDestroy(&G));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdRestore(MPI_Comm comm)
{
  char         model[PETSC_MAX_PATH_LEN] = "", input[PETSC_MAX_PATH_LEN] = "", output[PETSC_MAX_PATH_LEN] = "", otype[16] = "float32", truth[PETSC_MAX_PATH_LEN] = "";
  PetscBool    has_model, has_in, has_out, has_sigma, has_overlap;
  PetscInt     combine = PD_CNN_COMBINE_MEAN, tile = 64, overlap = 16;
  double       sigma = 0, t0;
  PdCNNKind    kind;
  PdNN         net;
  PdImageInfo  info;
  PdLayout    *lay, *olay;
  ptrdiff_t    m[3];
  float       *in, *out;
  char        *opts;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon restore", "");
  PetscCall(PetscOptionsString("-model", "Model file written by pdecon train -model srcnn|isonet1|isonet2|cyclegan|unet", "", model, model, sizeof(model), &has_model));
  PetscCall(PetscOptionsString("-input", "Stack to restore (TIFF, or HDF5 as file.h5:/dataset)", "", input, input, sizeof(input), &has_in));
  PetscCall(PetscOptionsString("-output", "Restored stack (TIFF or HDF5)", "", output, output, sizeof(output), &has_out));
  PetscCall(PetscOptionsString("-output_type", "Output sample type: float32, uint16, uint8, ...", "", otype, otype, sizeof(otype), NULL));
  PetscCall(PetscOptionsReal("-restore_anisotropy", "Isonet: z upsampling factor (default: the model's training factor)", "", sigma, &sigma, &has_sigma));
  PetscCall(PetscOptionsInt("-restore_tile", "cycleGAN, U-Net: tile side (a multiple of 2^depth)", "", tile, &tile, NULL));
  PetscCall(PetscOptionsString("-restore_truth", "Ground truth to print the PSNR and SSIM of input and result against (all mapped to [0, 1]; Isonet: of the output's size, or of the input's, scored at its planes)", "", truth, truth, sizeof(truth), NULL));
  PetscCall(PetscOptionsInt("-restore_overlap", "cycleGAN, U-Net: overlap of neighbouring tiles (voxels; default: 4 x the network's receptive field, the tile grown to fit)", "", overlap, &overlap, &has_overlap));
  PetscCall(PetscOptionsEList("-restore_combine", "Isonet: combination of the yz- and xz-passes", "", PdCNNCombines, 2, PdCNNCombines[combine], &combine, NULL));
  PetscOptionsEnd();
  PetscCall(PdNNBackendSetFromOptions(comm));
  if (AppHelpRequested()) PetscFunctionReturn(0);
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(has_model && model[0], comm, PD_ERR_INPUT, "restore needs -model MODEL.h5 (see -help)");
  PetscCheck(has_in && input[0], comm, PD_ERR_INPUT, "restore needs -input FILE (see -help)");
  PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "restore needs -output FILE (see -help)");
  {
    const char *inputs[2] = {input, model};
    PetscCall(PdOutputCheck(comm, output, 2, inputs));
  }
  {
    char fk[32];
    PetscCall(PdNNFileKind(comm, model, fk, sizeof(fk)));
    if (!strcmp(fk, "cyclegan") || !strcmp(fk, "unet")) {
      PetscCall(RestoreGAN(comm, model, input, output, otype, tile, has_overlap, overlap, truth));
      PetscFunctionReturn(0);
    }
  }
  PetscCall(PdCNNLoad(comm, model, &kind, &net));
  if (kind != PD_CNN_SRCNN) {
    if (!has_sigma) PetscCall(PdNNGetMeta(net, "anisotropy", 1, &sigma));
    PetscCheck(sigma >= 1 && isfinite(sigma), comm, PD_ERR_INPUT, "%s: the anisotropy factor must be >= 1 (got %g)", has_sigma ? "-restore_anisotropy" : model, sigma);
  } else sigma = 1;
  PetscCall(PdImageQuery(comm, input, &info));
  PetscCheck(info.nt == 0, comm, PD_ERR_INPUT, "%s: a 4-D dataset; restore one stack as %s[t]", input, input);
  PetscCall(PdCNNRestoreSize(kind, info.n, sigma, m));
  PetscCall(PdLayoutCreateBlock(comm, info.n, &lay));
  PetscCall(PdLayoutCreateBlock(comm, m, &olay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &in));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(olay), &out));
  PetscCall(PdImageRead(input, lay, in));
  t0 = PdTime();
  PetscCall(PdCNNRestore(kind, net, lay, in, sigma, (PdCNNCombine)combine, olay, out));
  t0 = PdTime() - t0;
  if (truth[0]) {
    float *inall, *outall;
    PetscCall(AppAllgatherVolume(lay, in, &inall));
    PetscCall(AppAllgatherVolume(olay, out, &outall));
    PetscCall(ScoreAgainstTruth(comm, truth, info.n, inall, m, outall, sigma, PETSC_TRUE));
    PetscCall(PetscFree(inall));
    PetscCall(PetscFree(outall));
  }
  PetscCall(AppOptionsString(&opts));
  {
    PdImageAttrs a = {{info.voxel[0] / sigma, info.voxel[1], info.voxel[2]}, PdCNNKinds[kind], -1, opts, otype, PETSC_FALSE};
    PetscCall(PdImageWrite(output, olay, out, &a));
  }
  PetscCall(PetscPrintf(comm, "wrote %s: %td x %td x %td restored by %s%s (%.2f s)\n", output, m[0], m[1], m[2], PdCNNKinds[kind], kind == PD_CNN_SRCNN ? "" : (combine == PD_CNN_COMBINE_MEAN ? ", mean of the yz and xz passes" : ", geometric mean of the yz and xz passes"), t0));
  PetscCall(PetscFree(opts));
  PetscCall(PdVolumeFree(&in));
  PetscCall(PdVolumeFree(&out));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PdLayoutDestroy(&olay));
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}
