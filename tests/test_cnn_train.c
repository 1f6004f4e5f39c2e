/* The restoration networks (SRCNN, Isonet-1, Isonet-2) and their data-parallel training:
   - Isonet's degradation reproduces a ramp along X exactly (linear re-upsampling) and keeps a
     constant under a normalised blur away from the borders;
   - one training step with the same global batch gives the same weights on this rank count as
     on one rank (each network);
   - a run stopped at a checkpoint and restarted ends with the weights of an uninterrupted run;
   - a short Isonet-1 training on phantom data raises the validation PSNR above the input's;
   - at the trainer's defaults (Adam 4e-4, -PSNR loss) Isonet-1's single C1,5 ReLU unit stays
     alive and its residual is not a constant (with CSBDeep's Glorot output layer it died within
     a few steps and only the output bias learnt);
   - distributed restoration (SRCNN; Isonet-1 and -2, both combinations) equals restoration of
     the gathered volume on one rank. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/learn/cnn_train.h>
#include <pdecon/learn/cnn_restore.h>
#include <pdecon/learn/train_batch.h>
#include <pdecon/sim/phantom.h>
#include <math.h>
#include <unistd.h>

static const ptrdiff_t VN[3] = {10, 40, 40};

/* A microtubule phantom of size VN, whole on every rank of comm. */
static PetscErrorCode Phantom(MPI_Comm comm, unsigned long long seed, PetscInt ntubes, float **all)
{
  PdPhantomOptions o;
  PdLayout        *lay;
  float           *slab;

  PetscFunctionBegin;
  PetscCall(PdPhantomOptionsDefault(&o));
  o.ntubes   = ntubes;
  o.seed     = seed;
  o.voxel[0] = o.voxel[1] = o.voxel[2] = 60;
  PetscCall(PdLayoutCreateBlock(comm, VN, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &slab));
  PetscCall(PdPhantomMicrotubules(&o, lay, slab));
  PetscCall(PdVolumeGather(lay, slab, 0, all));
  if (lay->rank != 0) PetscCall(PetscMalloc1(VN[0] * VN[1] * VN[2], all));
  PetscCallMPI(MPI_Bcast(*all, (int)(VN[0] * VN[1] * VN[2]), MPI_FLOAT, 0, comm));
  PetscCall(PdVolumeFree(&slab));
  PetscCall(PdLayoutDestroy(&lay));
  PetscFunctionReturn(0);
}

/* An anisotropic Gaussian (σ 1 px along Y, 2.5 px along X), 7 × 15, sum 1. */
static void AnisoPSF(ptrdiff_t hn[2], float *h)
{
  double s = 0;
  hn[0] = 7;
  hn[1] = 15;
  for (int y = 0; y < 7; y++)
    for (int x = 0; x < 15; x++) s += h[y * 15 + x] = (float)exp(-0.5 * ((y - 3) * (y - 3) / 1.0 + (x - 7) * (x - 7) / 6.25));
  for (int i = 0; i < 105; i++) h[i] = (float)(h[i] / s);
}

static PetscErrorCode TestDegrade(void)
{
  const ptrdiff_t n[2] = {9, 23}, one[2] = {1, 1};
  const float     delta = 1;
  float           ramp[9 * 23], out[9 * 23], h[105];
  ptrdiff_t       L, hn[2];
  double          e = 0;

  PetscFunctionBegin;
  for (int i = 0; i < 9 * 23; i++) ramp[i] = 0.5f + 0.25f * (float)(i % 23);
  PetscCall(PdCNNIsonetDegrade(n, ramp, one, &delta, 3.0, out, &L));
  PD_EXPECT(L == 22, "sigma 3 on 23 columns spans 22 columns (got %td)", L);
  for (ptrdiff_t y = 0; y < 9; y++)
    for (ptrdiff_t x = 0; x < L; x++) e = PetscMax(e, fabs(out[y * L + x] - ramp[y * 23 + x]));
  PD_EXPECT(e < 1e-5, "linear re-upsampling of a ramp: max error %g", e);
  PetscCall(PdCNNIsonetDegrade(n, ramp, one, &delta, 2.5, out, &L));
  PD_EXPECT(L == 21, "sigma 2.5 on 23 columns spans 21 columns (got %td)", L);
  for (int i = 0; i < 9 * 23; i++) ramp[i] = 2;
  AnisoPSF(hn, h);
  PetscCall(PdCNNIsonetDegrade(n, ramp, hn, h, 1.0, out, &L));
  e = fabs(out[4 * L + 11] - 2.0);
  PD_EXPECT(e < 1e-5, "a normalised blur keeps a constant in the interior: error %g", e);
  PetscFunctionReturn(0);
}

typedef struct {
  PdCNNKind          kind;
  PetscInt           patch, batch;
  double             lr;
  unsigned long long seed; /* of the weights; 0: 7 */
} Setup;

static PetscErrorCode NewTrainer(MPI_Comm comm, const Setup *s, const float *vol, const float *vval, PdNN *net, PdCNNData *d, PdCNNTrainer *t)
{
  ptrdiff_t hn[2];
  float     h[105];

  PetscFunctionBegin;
  AnisoPSF(hn, h);
  PetscCall(PdCNNCreate(s->kind, s->seed ? s->seed : 7, net));
  PetscCall(PdCNNDataCreate(comm, d));
  PetscCall(PdCNNTrainerCreate(comm, s->kind, *net, *d, t));
  {
    char v[32];
    PetscCall(PetscSNPrintf(v, sizeof(v), "%" PetscInt_FMT, s->patch));
    PetscCall(PetscOptionsSetValue(NULL, "-train_patch", v));
    PetscCall(PetscSNPrintf(v, sizeof(v), "%" PetscInt_FMT, s->batch));
    PetscCall(PetscOptionsSetValue(NULL, "-train_batch", v));
    PetscCall(PetscSNPrintf(v, sizeof(v), "%g", s->lr));
    PetscCall(PetscOptionsSetValue(NULL, "-train_lr", v));
    PetscCall(PdCNNTrainerSetFromOptions(*t));
    PetscCall(PetscOptionsClearValue(NULL, "-train_patch"));
    PetscCall(PetscOptionsClearValue(NULL, "-train_batch"));
    PetscCall(PetscOptionsClearValue(NULL, "-train_lr"));
  }
  /* SRCNN: blurred and noisy input, sharp target (σ = 1: no subsampling) */
  PetscCall(PdCNNDataAddIsonet(*d, VN, vol, hn, h, s->kind == PD_CNN_SRCNN ? 1.0 : 2.0, 0.01, "phantom", PETSC_FALSE));
  if (vval) PetscCall(PdCNNDataAddIsonet(*d, VN, vval, hn, h, s->kind == PD_CNN_SRCNN ? 1.0 : 2.0, 0.01, "validation phantom", PETSC_TRUE));
  PetscFunctionReturn(0);
}

static PetscErrorCode FreeTrainer(PdNN *net, PdCNNData *d, PdCNNTrainer *t)
{
  PetscFunctionBegin;
  PetscCall(PdCNNTrainerDestroy(t));
  PetscCall(PdCNNDataDestroy(d));
  PetscCall(PdNNDestroy(net));
  PetscFunctionReturn(0);
}

/* Weights after `steps` steps on comm (a copy, n values). */
static PetscErrorCode Train(MPI_Comm comm, const Setup *s, const float *vol, PetscInt steps, float **w, PetscInt *n)
{
  PdNN         net;
  PdCNNData    d;
  PdCNNTrainer t;
  float       *th;

  PetscFunctionBegin;
  PetscCall(NewTrainer(comm, s, vol, NULL, &net, &d, &t));
  PetscCall(PdCNNTrainerSetSteps(t, steps));
  PetscCall(PdCNNTrainerTrain(t, NULL));
  PetscCall(PdNNGetParams(net, &th, n));
  PetscCall(PetscMalloc1(*n, w));
  PetscCall(PetscArraycpy(*w, th, *n));
  PetscCall(FreeTrainer(&net, &d, &t));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestRankCount(const float *vol)
{
  const Setup s[3] = {
    {PD_CNN_ISONET1, 16, 7, 1e-3, 0},
    {PD_CNN_ISONET2, 16, 5, 1e-3, 0},
    {PD_CNN_SRCNN,   25, 7, 1e-2, 0},
  };

  PetscFunctionBegin;
  for (int k = 0; k < 3; k++) {
    float   *wp, *w1, *w0;
    PetscInt n, n1, n0;
    PetscCall(Train(PETSC_COMM_WORLD, &s[k], vol, 2, &wp, &n));
    PetscCall(Train(PETSC_COMM_SELF, &s[k], vol, 2, &w1, &n1));
    PetscCall(Train(PETSC_COMM_SELF, &s[k], vol, 0, &w0, &n0));
    PD_EXPECT(n == n1, "parameter counts differ");
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s: 2 steps, relative difference from one rank %.3g (change by the steps %.3g)\n", PdCNNKinds[s[k].kind], PdTestRelDiff(wp, w1, (size_t)n), PdTestRelDiff(w1, w0, (size_t)n)));
    PD_EXPECT(PdTestRelDiff(w1, w0, (size_t)n) > 1e-4, "%s: the steps changed the weights (relative change %g)", PdCNNKinds[s[k].kind], PdTestRelDiff(w1, w0, (size_t)n));
    PD_EXPECT(PdTestRelDiff(wp, w1, (size_t)n) < 1e-5, "%s: weights after 2 steps differ from one rank's by %g", PdCNNKinds[s[k].kind], PdTestRelDiff(wp, w1, (size_t)n));
    PetscCall(PetscFree(wp));
    PetscCall(PetscFree(w1));
    PetscCall(PetscFree(w0));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode TestRestart(const float *vol)
{
  const Setup  s = {PD_CNN_ISONET1, 16, 6, 1e-3, 0};
  PdNN         net;
  PdCNNData    d;
  PdCNNTrainer t;
  float       *wu, *th;
  PetscInt     n, b;
  int          size;
  char         ck[64];

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscSNPrintf(ck, sizeof(ck), "test_cnn_train_ckpt_np%d.h5", size));
  PetscCall(Train(PETSC_COMM_WORLD, &s, vol, 4, &wu, &n));
  PetscCall(NewTrainer(PETSC_COMM_WORLD, &s, vol, NULL, &net, &d, &t));
  PetscCall(PdCNNTrainerSetCheckpoint(t, ck, 2));
  PetscCall(PdCNNTrainerSetSteps(t, 2));
  PetscCall(PdCNNTrainerTrain(t, NULL));
  PetscCall(FreeTrainer(&net, &d, &t));
  PetscCall(NewTrainer(PETSC_COMM_WORLD, &s, vol, NULL, &net, &d, &t));
  PetscCall(PdCNNTrainerRestart(t, ck));
  PetscCall(PdCNNTrainerGetStep(t, &b));
  PD_EXPECT(b == 2, "restarted at step %" PetscInt_FMT ", expected 2", b);
  PetscCall(PdCNNTrainerSetSteps(t, 4));
  PetscCall(PdCNNTrainerTrain(t, NULL));
  PetscCall(PdNNGetParams(net, &th, &n));
  PD_EXPECT(PdTestRelDiff(th, wu, (size_t)n) == 0, "restarted run differs from the uninterrupted one by %g", PdTestRelDiff(th, wu, (size_t)n));
  PetscCall(FreeTrainer(&net, &d, &t));
  PetscCall(PetscFree(wu));
  {
    int rank;
    PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    if (rank == 0) (void)unlink(ck);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode TestLearns(const float *vol, const float *vval)
{
  const Setup  s = {PD_CNN_ISONET1, 24, 8, 2e-3, 0};
  PdNN         net;
  PdCNNData    d;
  PdCNNTrainer t;
  double       p0, pin, p1;

  PetscFunctionBegin;
  PetscCall(NewTrainer(PETSC_COMM_WORLD, &s, vol, vval, &net, &d, &t));
  PetscCall(PdCNNTrainerValidate(t, &p0, &pin));
  PetscCall(PdCNNTrainerSetSteps(t, 100));
  PetscCall(PdCNNTrainerTrain(t, NULL));
  PetscCall(PdCNNTrainerValidate(t, &p1, NULL));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Isonet-1, 100 steps: validation PSNR %.2f dB (input %.2f dB, untrained %.2f dB)\n", p1, pin, p0));
  PD_EXPECT(p1 > pin + 0.5, "training did not raise the validation PSNR above the input's: %.2f dB vs %.2f dB", p1, pin);
  PetscCall(FreeTrainer(&net, &d, &t));
  PetscFunctionReturn(0);
}

/* Over nval validation samples of d: the fraction of positive pre-activations of Isonet-1's C1,5
   unit, and the residual's spread sd(ŷ − x̃) relative to the target's sd(y). */
static PetscErrorCode UnitAndResidual(PdNN net, PdCNNData d, PetscInt P, PetscInt nval, double *active, double *spread)
{
  PdTensor x, y, out;
  double   npos, ntot, s[4] = {0, 0, 0, 0}, N;

  PetscFunctionBegin;
  PetscCall(PdTensorAlloc(nval, 1, 1, P, P, &x));
  PetscCall(PdTensorAlloc(nval, 1, 1, P, P, &y));
  for (PetscInt j = 0; j < nval; j++) PetscCall(PdCNNDataDraw(d, PETSC_TRUE, PD_BATCH_VALIDATION_ITEM0 + (unsigned long long)j, x.v + j * P * P, y.v + j * P * P));
  PetscCall(PdIsonet1UnitActivity(net, &x, &npos, &ntot));
  *active = npos / ntot;
  PetscCall(PdNNForward(net, NULL, &x, &out));
  N = (double)PdTensorSize(&x);
  for (PetscInt i = 0; i < PdTensorSize(&x); i++) {
    const double r = (double)out.v[i] - x.v[i];
    s[0] += r;
    s[1] += r * r;
    s[2] += y.v[i];
    s[3] += (double)y.v[i] * y.v[i];
  }
  *spread = sqrt(PetscMax(0, s[1] / N - (s[0] / N) * (s[0] / N)) / PetscMax(1e-30, s[3] / N - (s[2] / N) * (s[2] / N)));
  PetscCall(PdTensorFree(&x));
  PetscCall(PdTensorFree(&y));
  PetscFunctionReturn(0);
}

/* At the trainer's defaults (Adam 4e-4, -PSNR loss) and pdecon train's weight seed 1; with
   CSBDeep's Glorot output layer the unit was off at 0.001 of the pixels after 40 steps, the
   residual's sd 10^-4 of the target's and the PSNR the input's. */
static PetscErrorCode TestUnitAlive(void)
{
  const Setup  s = {PD_CNN_ISONET1, 32, 8, 4e-4, 1};
  float       *vol, *vval;
  PdNN         net;
  PdCNNData    d;
  PdCNNTrainer t;
  double       pin, p1, active = 0, spread = 0;

  PetscFunctionBegin;
  /* dense phantoms: most patches are bright, as in a widefield acquisition, and the untrained
     Glorot residual was then large enough for Adam to switch the unit off */
  PetscCall(Phantom(PETSC_COMM_WORLD, 5, 100, &vol));
  PetscCall(Phantom(PETSC_COMM_WORLD, 6, 100, &vval));
  PetscCall(NewTrainer(PETSC_COMM_WORLD, &s, vol, vval, &net, &d, &t));
  PetscCall(PdCNNTrainerSetSteps(t, 40));
  PetscCall(PdCNNTrainerTrain(t, NULL));
  PetscCall(PdCNNTrainerValidate(t, &p1, &pin));
  PetscCall(UnitAndResidual(net, d, s.patch, 16, &active, &spread));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Isonet-1, Adam 4e-4, 40 steps: C1,5 unit active at %.3f of the pixels, residual sd / target sd %.3g, validation PSNR %.2f dB (input %.2f dB)\n", active, spread, p1, pin));
  PD_EXPECT(active > 0.2, "Isonet-1's C1,5 unit died: active at %.4f of the validation pixels", active);
  PD_EXPECT(spread > 0.02, "Isonet-1's residual is almost a constant: sd %.3g of the target's", spread);
  PD_EXPECT(p1 > pin + 0.08, "Isonet-1 at Adam 4e-4 did not raise the validation PSNR: %.2f dB vs the input's %.2f dB", p1, pin);
  PetscCall(FreeTrainer(&net, &d, &t));
  PetscCall(PetscFree(vol));
  PetscCall(PetscFree(vval));
  PetscFunctionReturn(0);
}

/* Restored volume on comm, gathered on its rank 0. */
static PetscErrorCode Restore(MPI_Comm comm, PdCNNKind kind, PdNN net, const ptrdiff_t n[3], const float *all, double sigma, PdCNNCombine c, float **out, ptrdiff_t m[3])
{
  PdLayout *lay, *olay;
  float    *in, *o;

  PetscFunctionBegin;
  PetscCall(PdCNNRestoreSize(kind, n, sigma, m));
  PetscCall(PdLayoutCreateBlock(comm, n, &lay));
  PetscCall(PdLayoutCreateBlock(comm, m, &olay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &in));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(olay), &o));
  PetscCall(PdVolumeScatterFromGlobal(lay, all, in));
  PetscCall(PdCNNRestore(kind, net, lay, in, sigma, c, olay, o));
  PetscCall(PdVolumeGather(olay, o, 0, out));
  PetscCall(PdVolumeFree(&in));
  PetscCall(PdVolumeFree(&o));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PdLayoutDestroy(&olay));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestRestore(const float *vol)
{
  const ptrdiff_t n[3] = {5, 13, 11}; /* a corner of the phantom */
  float           sub[5 * 13 * 11];
  int             rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) sub[(z * n[1] + y) * n[2] + x] = vol[(z * VN[1] + y + 10) * VN[2] + x + 10];
  for (int k = 0; k < 4; k++) {
    const PdCNNKind    kind = k == 0 ? PD_CNN_SRCNN : k == 3 ? PD_CNN_ISONET2 : PD_CNN_ISONET1;
    const PdCNNCombine c    = k == 2 ? PD_CNN_COMBINE_GEOMEAN : PD_CNN_COMBINE_MEAN;
    PdNN               net;
    float             *dist = NULL, *one = NULL;
    ptrdiff_t          m[3];
    PetscCall(PdCNNCreate(kind, 11, &net));
    /* SRCNN's N(0, 0.001²) weights give an output of almost 0: larger ones */
    if (kind == PD_CNN_SRCNN) PetscCall(PdNNInitialize(net, PD_NN_INIT_GLOROT_UNIFORM, 0, 11));
    /* Isonet's default output layer (weights 0) would restore the upsampled input: a nonzero one */
    else PetscCall(PdIsonetInitialize(net, kind == PD_CNN_ISONET1 ? 1 : 2, PD_ISONET_INIT_GLOROT, 11));
    PetscCall(Restore(PETSC_COMM_WORLD, kind, net, n, sub, 2.5, c, &dist, m));
    if (rank == 0) {
      ptrdiff_t m1[3];
      double    dd = 0;
      PetscCall(Restore(PETSC_COMM_SELF, kind, net, n, sub, 2.5, c, &one, m1));
      PD_EXPECT(m1[0] == (kind == PD_CNN_SRCNN ? 5 : 11) && m[0] == m1[0], "restored size %td planes", m1[0]);
      for (ptrdiff_t i = 0; i < m[0] * m[1] * m[2]; i++) dd += fabs((double)one[i]);
      PD_EXPECT(dd > 0, "%s: the restored volume is zero", PdCNNKinds[kind]);
      PD_EXPECT(PdTestRelDiff(dist, one, (size_t)(m[0] * m[1] * m[2])) < 1e-6, "%s (%s): distributed restoration differs from one rank's by %g", PdCNNKinds[kind], PdCNNCombines[c], PdTestRelDiff(dist, one, (size_t)(m[0] * m[1] * m[2])));
      PetscCall(PetscFree(one));
    }
    PetscCall(PetscFree(dist));
    PetscCall(PdNNDestroy(&net));
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  float *vol, *vval;

  if (PdTestInitialize(&argc, &argv)) return 1;
  PetscCallAbort(PETSC_COMM_WORLD, TestDegrade());
  PetscCallAbort(PETSC_COMM_WORLD, Phantom(PETSC_COMM_WORLD, 3, 12, &vol));
  PetscCallAbort(PETSC_COMM_WORLD, Phantom(PETSC_COMM_WORLD, 4, 12, &vval));
  PetscCallAbort(PETSC_COMM_WORLD, TestRankCount(vol));
  PetscCallAbort(PETSC_COMM_WORLD, TestRestart(vol));
  PetscCallAbort(PETSC_COMM_WORLD, TestRestore(vol));
  PetscCallAbort(PETSC_COMM_WORLD, TestLearns(vol, vval));
  PetscCallAbort(PETSC_COMM_WORLD, TestUnitAlive());
  PetscCallAbort(PETSC_COMM_WORLD, PetscFree(vol));
  PetscCallAbort(PETSC_COMM_WORLD, PetscFree(vval));
  return PdTestFinalize("test_cnn_train");
}
