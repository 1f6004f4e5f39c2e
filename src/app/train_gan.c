/* pdecon train -model cyclegan|unet: the cycleGAN with a linear blur kernel (Lim, Park, Lee,
   Chang, Sim, Ye, IEEE TCI 2020; cyclegan.h) trained unsupervised on unpaired sharp and blurred
   volumes, or its supervised baseline (the same U-Net, MSE on paired crops), data-parallel
   (cyclegan_train.h).

   Data: -train_sharp FILE,... and -train_blurred FILE,... (for the U-Net: pairs, in order) or, by
   default, a simulated acquisition (-sim_*, -phantom_*, -psf_*): its truth is the sharp volume,
   its data the blurred one; the cycleGAN crops them independently (unpaired). Non-blind mode
   takes the PSF of the -psf_* options (or -psf FILE), cropped to the kernel side about its peak.
   -cyclegan_psf_output FILE writes the kernel (learned or given); with a PSF known (the
   simulation's, or -psf) the blind run's kernel is compared with it. */
#include "app_sim.h"
#include <pdecon/io/io.h>
#include <pdecon/psf/psfprep.h>
#include <pdecon/learn/cyclegan_train.h>
#include <pdecon/learn/cyclegan_nets.h>
#include <petscviewer.h>
#include <math.h>
#include <sys/resource.h>

#define MAX_FILES 64

/* The k³ kernel about the PSF's peak (zero outside it), sum 1. */
static PetscErrorCode CropPSF(MPI_Comm comm, const ptrdiff_t pn[3], const float *psf, PetscInt k, float *h)
{
  ptrdiff_t pc[3];
  double    sum = 0;

  PetscFunctionBegin;
  PetscCall(PdPSFPrepCenter(pn, psf, PD_PSF_CENTER_PEAK, pc));
  for (PetscInt z = 0; z < k; z++)
    for (PetscInt y = 0; y < k; y++)
      for (PetscInt x = 0; x < k; x++) {
        const ptrdiff_t a = pc[0] - k / 2 + z, b = pc[1] - k / 2 + y, c = pc[2] - k / 2 + x;
        const float     v = (a >= 0 && a < pn[0] && b >= 0 && b < pn[1] && c >= 0 && c < pn[2]) ? psf[(a * pn[1] + b) * pn[2] + c] : 0.0f;
        h[(z * k + y) * k + x] = v;
        sum += v;
      }
  PetscCheck(sum > 0, comm, PD_ERR_INPUT, "PSF: nothing within the %" PetscInt_FMT "^3 kernel", k);
  for (PetscInt i = 0; i < k * k * k; i++) h[i] = (float)(h[i] / sum);
  PetscFunctionReturn(0);
}

/* Full width at half maximum of a k³ kernel along z, y and x through its peak (voxels; the
   half-maximum crossings interpolated linearly; the kernel's side when it does not fall below
   half on a side). */
static void KernelFWHM(PetscInt k, const float *h, double w[3])
{
  PetscInt p = 0, c[3];

  for (PetscInt i = 1; i < k * k * k; i++)
    if (h[i] > h[p]) p = i;
  c[0] = p / (k * k);
  c[1] = (p / k) % k;
  c[2] = p % k;
  for (int a = 0; a < 3; a++) {
    const PetscInt stride = a == 0 ? k * k : a == 1 ? k : 1;
    const double   half   = 0.5 * h[p];
    double         side[2];
    for (int dir = 0; dir < 2; dir++) {
      const PetscInt s = dir ? 1 : -1;
      PetscInt       j = c[a];
      double         prev = h[p], cur;
      side[dir] = dir ? (double)(k - 1 - c[a]) : (double)c[a];
      while (j + s >= 0 && j + s < k) {
        j += s;
        cur = h[p + (j - c[a]) * stride];
        if (cur < half) {
          side[dir] = fabs((double)(j - c[a])) - (half - cur) / (prev - cur);
          break;
        }
        prev = cur;
      }
    }
    w[a] = side[0] + side[1];
  }
}

/* The kernel (whole on every rank) written through the image I/O. */
static PetscErrorCode WriteKernel(MPI_Comm comm, const char *spec, PetscInt k, const float *h, const double voxel[3])
{
  const ptrdiff_t n[3] = {k, k, k};
  PdLayout       *lay;
  PdImageAttrs    a = {{voxel[0], voxel[1], voxel[2]}, "cyclegan", -1, NULL, "float32", PETSC_FALSE};

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(comm, n, &lay));
  PetscCall(PdImageWrite(spec, lay, h + lay->z0 * k * k, &a));
  PetscCall(PdLayoutDestroy(&lay));
  PetscFunctionReturn(0);
}

static PetscErrorCode AddFiles(MPI_Comm comm, PdGANData d, PetscInt domain, PetscInt nfiles, char **files)
{
  PdImageInfo info;
  float      *v;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < nfiles; i++) {
    PetscCall(PdImageReadAll(comm, files[i], &info, &v));
    PetscCall(PdGANDataAdd(d, domain, info.n, v));
    PetscCall(PetscFree(v));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode AppTrainGAN(MPI_Comm comm, PetscBool unet)
{
  const ptrdiff_t    defsize[3] = {64, 64, 64};
  char               output[PETSC_MAX_PATH_LEN] = "", restart[PETSC_MAX_PATH_LEN] = "", psfout[PETSC_MAX_PATH_LEN] = "";
  char              *sharp[MAX_FILES], *blurred[MAX_FILES];
  PetscInt           nsharp = MAX_FILES, nblur = MAX_FILES, two = 2, b;
  PetscBool          has_out, has_sharp, has_blur, stopped = PETSC_FALSE;
  PdCycleGANSettings s;
  AppSimOptions      sim;
  double             isig[2], seed, sps, t0, mem;
  PdGANData          data;
  PdCycleGAN         gan = NULL;
  PdNN               G   = NULL;
  PdGANTrainer       t = NULL;
  float             *h = NULL, *truepsf = NULL;
  ptrdiff_t          pn[3];

  PetscFunctionBegin;
  PdCycleGANSettingsDefault(&s);
  isig[0] = s.init_sz;
  isig[1] = s.init_sxy;
  seed    = (double)s.seed;
  PetscOptionsBegin(comm, NULL, unet ? "pdecon train -model unet" : "pdecon train -model cyclegan", "");
  PetscCall(PetscOptionsString("-output", "Model file to write (HDF5), for pdecon restore -model", "", output, output, sizeof(output), &has_out));
  PetscCall(PetscOptionsStringArray("-train_sharp", "Sharp volumes (domain X; default: a simulated truth)", "", sharp, &nsharp, &has_sharp));
  PetscCall(PetscOptionsStringArray("-train_blurred", "Blurred volumes (domain Y; default: the simulated data)", "", blurred, &nblur, &has_blur));
  PetscCall(PetscOptionsString("-restart", "Continue from this training checkpoint", "", restart, restart, sizeof(restart), NULL));
  PetscCall(PetscOptionsInt("-cyclegan_depth", "U-Net poolings", "", s.depth, &s.depth, NULL));
  PetscCall(PetscOptionsInt("-cyclegan_width", "U-Net base width (channels of the first level)", "", s.width, &s.width, NULL));
  PetscCall(PetscOptionsInt("-cyclegan_patch", "Side of the training crops (a multiple of 2^depth)", "", s.patch, &s.patch, NULL));
  PetscCall(PetscOptionsReal("-cyclegan_seed", "Seed of the weights and of the samples", "", seed, &seed, NULL));
  if (!unet) {
    PetscCall(PetscOptionsBool("-cyclegan_blind", "Learn the blur kernel (true) or fix it to the PSF (false)", "", s.blind, &s.blind, NULL));
    PetscCall(PetscOptionsInt("-cyclegan_kernel", "Side of the blur kernel", "", s.k, &s.k, NULL));
    PetscCall(PetscOptionsInt("-cyclegan_dwidth", "Discriminator base width", "", s.dwidth, &s.dwidth, NULL));
    PetscCall(PetscOptionsInt("-cyclegan_scales", "Discriminator scales (1-3: full, 1/2, 1/4)", "", s.scales, &s.scales, NULL));
    PetscCall(PetscOptionsInt("-cyclegan_pool", "History buffer size per rank", "", s.pool, &s.pool, NULL));
    PetscCall(PetscOptionsBool("-cyclegan_dy", "Non-blind mode: keep the discriminator D_Y", "", s.use_dy, &s.use_dy, NULL));
    PetscCall(PetscOptionsBool("-cyclegan_project", "Blind mode: project the kernel onto h >= 0, sum 1 after each step", "", s.project, &s.project, NULL));
    PetscCall(PetscOptionsReal("-cyclegan_gamma", "Weight of the cycle-consistency terms", "", s.gamma, &s.gamma, NULL));
    PetscCall(PetscOptionsReal("-cyclegan_lr", "Adam learning rate", "", s.lr, &s.lr, NULL));
    PetscCall(PetscOptionsReal("-cyclegan_beta1", "Adam beta1", "", s.beta1, &s.beta1, NULL));
    PetscCall(PetscOptionsRealArray("-cyclegan_init_sigma", "Blind mode: initial Gaussian kernel sigma z,xy (voxels)", "", isig, &two, NULL));
    PetscCall(PetscOptionsString("-cyclegan_psf_output", "Write the kernel (learned or given) to this file", "", psfout, psfout, sizeof(psfout), NULL));
  }
  PetscOptionsEnd();
  if (!has_sharp) nsharp = 0;
  if (!has_blur) nblur = 0;
  s.init_sz  = isig[0];
  s.init_sxy = isig[1];
  s.seed     = (unsigned long long)seed;
  PetscCall(AppSimSetFromOptions(comm, defsize, &sim));
  PetscCall(PdGANDataCreate(s.seed, &data));
  if (!unet) {
    PetscCheck(s.k >= 1 && s.k <= 255, comm, PD_ERR_INPUT, "-cyclegan_kernel %" PetscInt_FMT ": must be in 1..255", s.k);
    PetscCheck(s.scales >= 1 && s.scales <= 3 && s.dwidth >= 1 && s.pool >= 0 && s.gamma >= 0 && s.lr > 0 && s.beta1 >= 0 && s.beta1 < 1, comm, PD_ERR_INPUT, "-cyclegan_*: scales 1-3, positive widths and learning rate, pool >= 0, beta1 in [0, 1)");
    PetscCheck(isig[0] > 0 && isig[1] > 0, comm, PD_ERR_INPUT, "-cyclegan_init_sigma must be positive");
  }
  PetscCheck(s.depth >= 1 && s.depth <= 6 && s.width >= 1 && s.patch >= 1 && s.patch % (1 << s.depth) == 0, comm, PD_ERR_INPUT, "-cyclegan_depth 1-6, -cyclegan_width >= 1, -cyclegan_patch a positive multiple of 2^depth");
  if (AppHelpRequested()) goto cleanup;
  PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "train needs -output MODEL.h5 (see -help)");
  PetscCheck((nsharp > 0) == (nblur > 0), comm, PD_ERR_INPUT, "-train_sharp and -train_blurred go together");
  {
    const char *inputs[2 * MAX_FILES + 3];
    int         nin = 0;
    for (PetscInt i = 0; i < nsharp; i++) inputs[nin++] = sharp[i];
    for (PetscInt i = 0; i < nblur; i++) inputs[nin++] = blurred[i];
    if (psfout[0]) PetscCall(PdOutputCheck(comm, psfout, nin, inputs));
    PetscCall(AppTrainCheckFiles(comm, output, nin, inputs, restart));
  }
  PetscCall(PdStopHandlerInstall());
  t0 = PdTime();
  if (nsharp == 0) {
    float *tall, *dall;
    PetscCall(AppSimWhole(comm, &sim, &tall, &dall, pn, &truepsf));
    PetscCall(PdGANDataAdd(data, 0, sim.n, tall));
    PetscCall(PdGANDataAdd(data, 1, sim.n, dall));
    PetscCall(PetscFree(tall));
    PetscCall(PetscFree(dall));
  } else {
    PetscCall(AddFiles(comm, data, 0, nsharp, sharp));
    PetscCall(AddFiles(comm, data, 1, nblur, blurred));
    if (!unet) {
      char pname[256];
      PetscCall(AppPSFCompute(comm, &sim.psf, pn, &truepsf, pname, sizeof(pname)));
    }
  }
  if (unet) {
    PetscCall(PdUNet3DCreate(s.depth, s.width, s.seed, &G));
  } else {
    PetscCall(PetscMalloc1(s.k * s.k * s.k, &h));
    PetscCall(CropPSF(comm, pn, truepsf, s.k, h));
    PetscCall(PdCycleGANCreate(comm, &s, h, &gan));
  }
  PetscCall(PdGANTrainerCreate(comm, gan, G, &s, data, &t));
  PetscCall(PdGANTrainerSetFromOptions(t));
  PetscCall(AppCheckOptionsUsed(comm));
  if (restart[0]) PetscCall(PdGANTrainerRestart(t, restart));
  PetscCall(PdGANTrainerGetStep(t, &b));
  {
    PetscInt ng = 0, nd = 0;
    if (gan) PetscCall(PdCycleGANGetSizes(gan, &ng, &nd));
    else PetscCall(PdNNGetParams(G, NULL, &ng));
    PetscCall(PetscPrintf(comm, "train %s: %s, U-Net depth %" PetscInt_FMT " width %" PetscInt_FMT " (%" PetscInt_FMT " parameters), crops %" PetscInt_FMT "^3, data set up in %.1f s\n", unet ? "unet" : "cyclegan", unet ? "supervised, MSE" : (s.blind ? "blind" : "non-blind"), s.depth, s.width, ng, s.patch, PdTime() - t0));
    if (gan) PetscCall(PetscPrintf(comm, "  kernel %" PetscInt_FMT "^3, discriminators %" PetscInt_FMT " scales width %" PetscInt_FMT " (%" PetscInt_FMT " parameters), gamma %g, lr %g\n", s.k, s.scales, s.dwidth, nd, s.gamma, s.lr));
  }
  PetscCall(PdGANTrainerTrain(t, &stopped, &sps));
  {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    mem = (double)ru.ru_maxrss * 1024.0; /* kilobytes on Linux */
  }
  if (stopped) {
    PetscCall(PdGANTrainerGetStep(t, &b));
    PetscCall(AppTrainReportStop(comm, b));
  } else {
    PetscInt b1;
    PetscCall(PdGANTrainerSave(t, output));
    PetscCall(PdGANTrainerGetStep(t, &b1));
    PetscCall(PdGANTrainerRemoveCheckpoint(t));
    PetscCall(PetscPrintf(comm, "wrote %s after %" PetscInt_FMT " steps (%" PetscInt_FMT " in this run, %.3f s/step, peak memory of rank 0 %.0f MiB)\n", output, b1, b1 - b, sps, mem / 1048576.0));
    if (gan) {
      const float *hl;
      const PetscInt nk = s.k * s.k * s.k;
      PetscCall(PdCycleGANGetKernel(gan, &hl));
      if (psfout[0]) PetscCall(WriteKernel(comm, psfout, s.k, hl, sim.phantom.voxel));
      if (s.blind && truepsf) {
        double e = 0, r = 0;
        PetscCall(CropPSF(comm, pn, truepsf, s.k, h));
        for (PetscInt i = 0; i < nk; i++) {
          e += ((double)hl[i] - h[i]) * ((double)hl[i] - h[i]);
          r += (double)h[i] * h[i];
        }
        PetscCall(PetscPrintf(comm, "  learned kernel against the true PSF: relative L2 error %.3f\n", sqrt(e / r)));
        {
          double wl[3], wt[3];
          KernelFWHM(s.k, hl, wl);
          KernelFWHM(s.k, h, wt);
          PetscCall(PetscPrintf(comm, "  FWHM z, y, x (voxels): learned %.2f, %.2f, %.2f; true PSF %.2f, %.2f, %.2f\n", wl[0], wl[1], wl[2], wt[0], wt[1], wt[2]));
        }
      }
    }
  }
cleanup:
  PetscCall(PdGANTrainerDestroy(&t));
  PetscCall(PdCycleGANDestroy(&gan));
  if (unet) PetscCall(PdNNDestroy(&G));
  PetscCall(PdGANDataDestroy(&data));
  PetscCall(PetscFree(h));
  PetscCall(PetscFree(truepsf));
  for (PetscInt i = 0; i < nsharp; i++) PetscCall(PetscFree(sharp[i]));
  for (PetscInt i = 0; i < nblur; i++) PetscCall(PetscFree(blurred[i]));
  PetscFunctionReturn(0);
}
