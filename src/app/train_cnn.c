/* pdecon train -model srcnn|isonet1|isonet2: a restoration network (cnn.h) trained data-parallel
   (cnn_train.h) on pairs of lateral slices (cnn_data.h).

   Data: -train_data FILE,... (several files, each stack of a 4-D dataset) or, by default, a
   simulated acquisition of the microtubule phantom (-sim_*, -phantom_*, -psf_*) and a second one
   with other seeds for validation (-train_val_data for files).
     SRCNN:  input the acquisition, target the truth: a file is one written by `pdecon simulate`
             (FILE.h5 gives FILE.h5:/data and FILE.h5:/truth).
     Isonet: the anisotropic acquisition itself, degraded along X with the rotated PSF (the
             -psf_* model on an isotropic grid of the lateral voxel size; -train_iso_psf gaussian
             takes a Gaussian of -train_iso_psf_sigma y,x pixels instead) and the anisotropy factor
             -train_anisotropy (default: the voxel sizes z / x). The factor is stored in the model
             for `pdecon restore`. New weights: -train_isonet_init he (Isonet-1's default),
             identity or glorot (Isonet-2's default), as isonet.c describes them. */
#include "app_sim.h"
#include <pdecon/io/io.h>
#include <pdecon/psf/psfprep.h>
#include <pdecon/learn/cnn_train.h>
#include <petscviewer.h>
#include <math.h>

#define MAX_FILES 64

static const char *const iso_psfs[] = {"rotated", "gaussian"};

typedef struct {
  PdCNNKind     kind;
  AppSimOptions sim;
  double        sigma;     /* anisotropy, 0: from the voxel sizes */
  PetscInt      iso_psf;   /* 0 rotated, 1 gaussian */
  double        gsigma[2]; /* Gaussian PSF, pixels y, x */
  double        noise;
  PetscInt      init;      /* PdIsonetInit of new weights */
  ptrdiff_t     hn[2];
  float        *h;         /* Isonet's 2-D PSF */
} Setup;

/* The 2-D PSF of Isonet's degradation for lateral voxels of dxy nm. */
static PetscErrorCode IsonetPSF(MPI_Comm comm, Setup *s, double dxy)
{
  PetscFunctionBegin;
  if (s->h) PetscFunctionReturn(0);
  if (s->iso_psf == 1) {
    const ptrdiff_t ry = (ptrdiff_t)ceil(4 * s->gsigma[0]), rx = (ptrdiff_t)ceil(4 * s->gsigma[1]);
    double          sum = 0;
    s->hn[0] = 2 * ry + 1;
    s->hn[1] = 2 * rx + 1;
    PetscCall(PetscMalloc1(s->hn[0] * s->hn[1], &s->h));
    for (ptrdiff_t y = -ry; y <= ry; y++)
      for (ptrdiff_t x = -rx; x <= rx; x++) sum += s->h[(y + ry) * s->hn[1] + x + rx] = (float)exp(-0.5 * ((double)(y * y) / (s->gsigma[0] * s->gsigma[0]) + (double)(x * x) / (s->gsigma[1] * s->gsigma[1])));
    for (ptrdiff_t i = 0; i < s->hn[0] * s->hn[1]; i++) s->h[i] = (float)(s->h[i] / sum);
  } else {
    AppPSFOptions po = s->sim.psf;
    ptrdiff_t     pn[3];
    float        *psf;
    char          name[256];
    PetscCheck(!po.file[0], comm, PD_ERR_INPUT, "-psf %s: Isonet rotates a PSF model sampled on an isotropic grid; use -psf_type with the optics, or -train_iso_psf gaussian", po.file);
    po.optics.dxy = po.optics.dz = dxy;
    /* only the xz-section through the centre is used: one plane of y */
    PetscCall(PdPSFDefaultSize(&po.optics, po.size));
    po.size[1] = 1;
    PetscCall(AppPSFCompute(comm, &po, pn, &psf, name, sizeof(name)));
    PetscCall(PetscMalloc1(pn[0] * pn[2], &s->h));
    PetscCall(PdCNNRotatedPSF(pn, psf, s->hn, s->h));
    PetscCall(PetscFree(psf));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode AddIsonet(MPI_Comm comm, Setup *s, PdCNNData d, const ptrdiff_t n[3], const float *v, const double voxel[3], const char *name, PetscBool validation)
{
  PetscFunctionBegin;
  if (s->sigma <= 0) {
    PetscCheck(voxel[0] > 0 && voxel[2] > 0, comm, PD_ERR_INPUT, "%s: the voxel size is unknown: give -train_anisotropy", name);
    s->sigma = voxel[0] / voxel[2];
  }
  PetscCall(IsonetPSF(comm, s, voxel[2] > 0 ? voxel[2] : s->sim.psf.optics.dxy));
  PetscCall(PdCNNDataAddIsonet(d, n, v, s->hn, s->h, s->sigma, s->noise, name, validation));
  PetscFunctionReturn(0);
}

static PetscErrorCode AddFile(MPI_Comm comm, Setup *s, PdCNNData d, const char *spec, PetscBool validation)
{
  PdImageInfo info;
  float      *v, *tg;

  PetscFunctionBegin;
  if (s->kind == PD_CNN_SRCNN) {
    char in[PETSC_MAX_PATH_LEN + 16], out[PETSC_MAX_PATH_LEN + 16];
    PetscCall(PetscSNPrintf(in, sizeof(in), "%s:/data", spec));
    PetscCall(PetscSNPrintf(out, sizeof(out), "%s:/truth", spec));
    PetscCall(PdImageReadAll(comm, in, &info, &v));
    PetscCall(PdImageReadAll(comm, out, NULL, &tg));
    PetscCall(PdCNNDataAddPairs(d, info.n, v, tg, spec, validation));
    PetscCall(PetscFree(tg));
    PetscCall(PetscFree(v));
    PetscFunctionReturn(0);
  }
  PetscCall(PdImageQuery(comm, spec, &info));
  for (ptrdiff_t t = 0; t < PetscMax(1, info.nt); t++) {
    char one[PETSC_MAX_PATH_LEN + 32];
    if (info.nt > 0) PetscCall(PetscSNPrintf(one, sizeof(one), "%s[%td]", spec, t));
    else PetscCall(PetscStrncpy(one, spec, sizeof(one)));
    PetscCall(PdImageReadAll(comm, one, NULL, &v));
    PetscCall(AddIsonet(comm, s, d, info.n, v, info.voxel, one, validation));
    PetscCall(PetscFree(v));
  }
  PetscFunctionReturn(0);
}

/* A simulated acquisition (data and truth, whole on every rank) as pairs. */
static PetscErrorCode AddSimulated(MPI_Comm comm, Setup *s, PdCNNData d, const AppSimOptions *o, const char *name, PetscBool validation)
{
  float *tall, *dall;

  PetscFunctionBegin;
  PetscCall(AppSimWhole(comm, o, &tall, &dall, NULL, NULL));
  if (s->kind == PD_CNN_SRCNN) PetscCall(PdCNNDataAddPairs(d, o->n, dall, tall, name, validation));
  else PetscCall(AddIsonet(comm, s, d, o->n, dall, o->phantom.voxel, name, validation));
  PetscCall(PetscFree(tall));
  PetscCall(PetscFree(dall));
  PetscFunctionReturn(0);
}

PetscErrorCode AppTrainCNN(MPI_Comm comm, int kind_)
{
  const ptrdiff_t defsize[3] = {16, 128, 128};
  char            output[PETSC_MAX_PATH_LEN] = "", init[PETSC_MAX_PATH_LEN] = "", restart[PETSC_MAX_PATH_LEN] = "";
  char           *data[MAX_FILES], *vdata[MAX_FILES];
  PetscInt        ndata = MAX_FILES, nvdata = MAX_FILES, b0, b;
  PetscReal       init_seed = 1;
  PetscBool       has_out, has_data, has_vdata, stopped = PETSC_FALSE;
  Setup           s;
  PdNN            net;
  PdCNNData       d;
  PdCNNTrainer    t;
  double          t0, psnr, psnr0;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&s, sizeof(s)));
  s.kind      = (PdCNNKind)kind_;
  s.gsigma[0] = 1;
  s.gsigma[1] = 3;
  PetscOptionsBegin(comm, NULL, "pdecon train (restoration networks)", "");
  PetscCall(PetscOptionsString("-output", "Model file to write (HDF5), for pdecon restore -model", "", output, output, sizeof(output), &has_out));
  PetscCall(PetscOptionsStringArray("-train_data", "Training files (Isonet: anisotropic stacks; SRCNN: files of pdecon simulate); default: a simulated acquisition", "", data, &ndata, &has_data));
  PetscCall(PetscOptionsStringArray("-train_val_data", "Validation files (default: a simulation with other seeds, or samples of the training data)", "", vdata, &nvdata, &has_vdata));
  PetscCall(PetscOptionsString("-train_init", "Start from this model file instead of new weights", "", init, init, sizeof(init), NULL));
  PetscCall(PetscOptionsReal("-train_init_seed", "Seed of new weights", "", init_seed, &init_seed, NULL));
  PetscCall(PetscOptionsString("-restart", "Continue from this training checkpoint", "", restart, restart, sizeof(restart), NULL));
  if (s.kind != PD_CNN_SRCNN) {
    PetscInt two = 2;
    PetscCall(PetscOptionsReal("-train_anisotropy", "Isonet: anisotropy factor sigma = dz/dxy (default: from the voxel sizes)", "", s.sigma, &s.sigma, NULL));
    PetscCall(PetscOptionsEList("-train_iso_psf", "Isonet: PSF of the degradation", "", iso_psfs, 2, iso_psfs[0], &s.iso_psf, NULL));
    PetscCall(PetscOptionsRealArray("-train_iso_psf_sigma", "Isonet, gaussian PSF: sigma y,x in pixels (x: the axial direction)", "", s.gsigma, &two, NULL));
    s.init = (PetscInt)PdIsonetDefaultInit(s.kind == PD_CNN_ISONET1 ? 1 : 2);
    PetscCall(PetscOptionsEList("-train_isonet_init", "Isonet: new weights' initialisation (glorot: CSBDeep's Glorot-uniform; identity: the same with the output layer's weights 0, so the network starts as its input; he: identity with He-normal weights for the ReLU layers)", "PdIsonetInitialize", PdIsonetInits, 3, PdIsonetInits[s.init], &s.init, NULL));
    PetscCall(PetscOptionsReal("-train_noise", "Isonet: Gaussian noise added to the blurred slices (normalised units)", "", s.noise, &s.noise, NULL));
  }
  PetscOptionsEnd();
  if (!has_data) ndata = 0;
  if (!has_vdata) nvdata = 0;
  PetscCall(AppSimSetFromOptions(comm, defsize, &s.sim));
  if (init[0]) {
    PdCNNKind k;
    PetscCall(PdCNNLoad(comm, init, &k, &net));
    PetscCheck(k == s.kind, comm, PD_ERR_INPUT, "%s: the model is %s, not %s", init, PdCNNKinds[k], PdCNNKinds[s.kind]);
  } else {
    PetscCall(PdCNNCreate(s.kind, (unsigned long long)init_seed, &net));
    if (s.kind != PD_CNN_SRCNN) PetscCall(PdIsonetInitialize(net, s.kind == PD_CNN_ISONET1 ? 1 : 2, (PdIsonetInit)s.init, (unsigned long long)init_seed));
  }
  PetscCall(PdCNNDataCreate(comm, &d));
  PetscCall(PdCNNTrainerCreate(comm, s.kind, net, d, &t));
  PetscCall(PdCNNTrainerSetFromOptions(t));
  if (AppHelpRequested()) goto cleanup;
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "train needs -output MODEL.h5 (see -help)");
  PetscCheck(s.sigma == 0 || (s.sigma >= 1 && isfinite(s.sigma)), comm, PD_ERR_INPUT, "-train_anisotropy must be >= 1 (got %g)", s.sigma);
  PetscCheck(s.gsigma[0] > 0 && s.gsigma[1] > 0, comm, PD_ERR_INPUT, "-train_iso_psf_sigma must be positive");
  {
    const char *inputs[2 * MAX_FILES + 3];
    int         nin = 0;
    for (PetscInt i = 0; i < ndata; i++) inputs[nin++] = data[i];
    for (PetscInt i = 0; i < nvdata; i++) inputs[nin++] = vdata[i];
    if (init[0]) inputs[nin++] = init;
    PetscCall(AppTrainCheckFiles(comm, output, nin, inputs, restart));
  }
  PetscCall(PdStopHandlerInstall());

  t0 = PdTime();
  if (ndata == 0) {
    AppSimOptions v = s.sim;
    PetscCall(AddSimulated(comm, &s, d, &s.sim, "simulated acquisition", PETSC_FALSE));
    if (nvdata == 0) {
      v.phantom.seed = s.sim.phantom.seed + 1000003ULL; /* unseen tubes and noise */
      v.seed         = s.sim.seed + 1000003ULL;
      PetscCall(AddSimulated(comm, &s, d, &v, "simulated validation acquisition", PETSC_TRUE));
    }
  }
  for (PetscInt i = 0; i < ndata; i++) PetscCall(AddFile(comm, &s, d, data[i], PETSC_FALSE));
  for (PetscInt i = 0; i < nvdata; i++) PetscCall(AddFile(comm, &s, d, vdata[i], PETSC_TRUE));
  if (s.kind != PD_CNN_SRCNN) PetscCall(PdNNSetMeta(net, "anisotropy", 1, &s.sigma));
  if (restart[0]) PetscCall(PdCNNTrainerRestart(t, restart));
  PetscCall(PdCNNTrainerGetStep(t, &b0));
  PetscCall(PdCNNTrainerView(t, PETSC_VIEWER_STDOUT_(comm)));
  if (s.kind != PD_CNN_SRCNN) PetscCall(PetscPrintf(comm, "  anisotropy %.4g, degradation PSF %td x %td (%s)\n", s.sigma, s.hn[0], s.hn[1], iso_psfs[s.iso_psf]));

  PetscCall(PdCNNTrainerTrain(t, &stopped));
  PetscCall(PdCNNTrainerGetStep(t, &b));
  if (stopped) PetscCall(AppTrainReportStop(comm, b));
  else {
    PetscCall(PdNNSave(net, comm, output, PdCNNKinds[s.kind], NULL, NULL));
    PetscCall(PdCNNTrainerValidate(t, &psnr, &psnr0));
    PetscCall(AppTrainRemoveCheckpoint(comm));
    PetscCall(PetscPrintf(comm, "wrote %s after %" PetscInt_FMT " steps (%" PetscInt_FMT " in this run, %.1f s): validation PSNR %.2f dB (input %.2f dB)\n", output, b, b - b0, PdTime() - t0, psnr, psnr0));
  }
cleanup:
  PetscCall(PdCNNTrainerDestroy(&t));
  PetscCall(PdCNNDataDestroy(&d));
  PetscCall(PdNNDestroy(&net));
  PetscCall(PetscFree(s.h));
  for (PetscInt i = 0; i < ndata; i++) PetscCall(PetscFree(data[i]));
  for (PetscInt i = 0; i < nvdata; i++) PetscCall(PetscFree(vdata[i]));
  PetscFunctionReturn(0);
}
