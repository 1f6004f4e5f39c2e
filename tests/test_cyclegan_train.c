/* A short non-blind cycleGAN training (cyclegan_train.h) on a simulated acquisition of the
   microtubule phantom (Gaussian PSF, Poisson noise at 20 dB): unpaired crops of the truth and of
   the data, and G's restoration of the whole data volume must beat the data's PSNR against the
   truth (both mapped to [0, 1] as the trainer maps them). The same steps on 1 and 2 ranks. */
/* ranks: 1 2 */
#include "testutil.h"
#include <pdecon/learn/cyclegan_train.h>
#include <pdecon/learn/blur_fft.h>
#include <pdecon/sim/phantom.h>
#include <pdecon/sim/noise.h>
#include <pdecon/core/layout.h>
#include <math.h>

static double PSNR(PetscInt N, const float *a, const float *t)
{
  double e = 0;
  for (PetscInt i = 0; i < N; i++) e += ((double)a[i] - t[i]) * ((double)a[i] - t[i]);
  return 10 * log10((double)N / e);
}

int main(int argc, char **argv)
{
  const ptrdiff_t    n[3] = {32, 48, 48};
  const PetscInt     N = 32 * 48 * 48, n3[3] = {32, 48, 48}, k = 9;
  PdPhantomOptions   po;
  PdLayout          *lay;
  float             *truth, *data, *x, *h, *out;
  PdBlurFFT          blur;
  PdTensor           T, D, O;
  PdCycleGANSettings s;
  PdCycleGAN         gan;
  PdGANData          gd;
  PdGANTrainer       t;
  PdNN               G;
  PdNNWork           w;
  double             p_in, p_out;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PdLayoutCreate(PETSC_COMM_SELF, n, 0, n[0], n[2], n[1] * n[2], &lay));
  PetscCall(PetscMalloc5(N, &truth, N, &data, N, &x, k * k * k, &h, N, &out));
  PetscCall(PdPhantomOptionsDefault(&po));
  po.ntubes   = 12;
  po.voxel[0] = po.voxel[1] = po.voxel[2] = 100;
  PetscCall(PdPhantomMicrotubules(&po, lay, truth));
  PetscCall(PdBlurGaussianKernel(k, 2.5, 1.2, h));
  PetscCall(PdBlurFFTCreate(k, n3, &blur));
  PetscCall(PdBlurFFTSetKernel(blur, h));
  T = PdTensorView(1, 1, n[0], n[1], n[2], truth);
  D = PdTensorView(1, 1, n[0], n[1], n[2], data);
  PetscCall(PdBlurFFTForward(blur, &T, &D));
  for (PetscInt i = 0; i < N; i++) data[i] = PetscMax(data[i], 0.0f); /* FFT rounding */
  PetscCall(PdNoisePoissonGaussian(lay, data, 20, 10, 0, 3, NULL));

  PdCycleGANSettingsDefault(&s);
  s.depth  = 1;
  s.width  = 8;
  s.dwidth = 4;
  s.k      = k;
  s.patch  = 16;
  s.lr     = 5e-3;
  PetscCall(PdGANDataCreate(11, &gd));
  PetscCall(PdGANDataAdd(gd, 0, n, truth));
  PetscCall(PdGANDataAdd(gd, 1, n, data));
  PetscCall(PdCycleGANCreate(PETSC_COMM_WORLD, &s, h, &gan));
  PetscCall(PdGANTrainerCreate(PETSC_COMM_WORLD, gan, NULL, &s, gd, &t));
  PetscCall(PdGANTrainerSetSteps(t, 300, 2));
  PetscCall(PdGANTrainerTrain(t, NULL, NULL));

  /* the data and the truth as the trainer sees them */
  PetscCall(PetscArraycpy(x, data, N));
  PetscCall(PdGANNormalize(N, x, NULL, NULL));
  PetscCall(PdGANNormalize(N, truth, NULL, NULL));
  PetscCall(PdCycleGANGetGenerator(gan, &G));
  PetscCall(PdNNWorkCreate(G, &w));
  PetscCall(PdNNWorkSetTraining(w, PETSC_FALSE));
  D = PdTensorView(1, 1, n[0], n[1], n[2], x);
  PetscCall(PdNNForward(G, w, &D, &O));
  p_in  = PSNR(N, x, truth);
  p_out = PSNR(N, O.v, truth);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "non-blind cycleGAN, 300 steps: PSNR %.2f dB (input %.2f dB)\n", p_out, p_in));
  PD_EXPECT(p_out > p_in + 1, "non-blind cycleGAN: PSNR %.2f dB, input %.2f dB", p_out, p_in);

  PetscCall(PdNNWorkDestroy(&w));
  PetscCall(PdGANTrainerDestroy(&t));
  PetscCall(PdCycleGANDestroy(&gan));
  PetscCall(PdGANDataDestroy(&gd));
  PetscCall(PdBlurFFTDestroy(&blur));
  PetscCall(PetscFree5(truth, data, x, h, out));
  PetscCall(PdLayoutDestroy(&lay));
  return PdTestFinalize("test_cyclegan_train");
}
