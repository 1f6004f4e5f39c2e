/* The real OTF of a centro-symmetric PSF (PdFFTConvSetRealOTF): a PSF with h(-r) = h(r) about its
   centre gets the real storage and an asymmetric one, or one symmetric about a point between
   voxels, does not; H and Hᵀ through the real OTF equal those through the complex one to float
   rounding and the direct convolution; PdFFTConvGetOTF on a real OTF gives the complex one; a PSF
   also symmetric in z gets the OTF of kz <= n0/2 only, with the same H, Hᵀ and expansion. At a
   size with several blocks of spectral rows along kz (the last one shorter), where an OTF private
   to H is stored block by block: an asymmetric PSF's H and Hᵀ equal those of the OTF in
   (kz, ky, kx) order bit for bit, the half-kz real one's to float rounding, and both expand to
   it. On any rank count (each rank checks its own spectrum; the convolutions are gathered). */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/fft/fftconv.h>
#include <math.h>
#include <string.h>

static PetscErrorCode ConvCreate(const ptrdiff_t n[3], PetscBool real, const ptrdiff_t pn[3], const float *psf, const ptrdiff_t c[3], PdFFTConv *conv)
{
  PetscFunctionBegin;
  PetscCall(PdFFTConvCreate(PETSC_COMM_WORLD, conv));
  PetscCall(PdFFTConvSetSizes(*conv, n));
  PetscCall(PdFFTConvSetUp(*conv));
  PetscCall(PdFFTConvSetRealOTF(*conv, real));
  PetscCall(PdFFTConvSetPSF(*conv, pn, psf, c));
  PetscFunctionReturn(0);
}

/* H x (transpose false) or Hᵀ x of the image x (size m) through conv, gathered on rank 0. */
/* A caller that reads the complex layout (PdFFTConvGetOTF) of `real`'s stored OTF gets the
   complex OTF of `cplx`, up to 1e-6 of its largest value. */
static PetscErrorCode ExpectExpandedOTF(PdFFTConv real, PdFFTConv cplx, const char *what)
{
  const float *or, *oc;
  ptrdiff_t    ncplx;
  double       diff = 0, mx = 0;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetOTF(real, &or, NULL));
  PetscCall(PdFFTConvGetOTF(cplx, &oc, NULL));
  PetscCall(PdFFTConvGetSpectralLayout(cplx, &ncplx, NULL, NULL));
  for (ptrdiff_t i = 0; i < 2 * ncplx; i++) {
    diff = PetscMax(diff, fabs((double)or[i] - oc[i]));
    mx   = PetscMax(mx, fabs((double)oc[i]));
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &diff, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PD_EXPECT(diff <= 1e-6 * mx, "the expanded %s OTF differs from the complex one by %g of its largest value", what, diff / mx);
  PetscFunctionReturn(0);
}

static PetscErrorCode Convolve(PdFFTConv conv, const ptrdiff_t m[3], const float *x, PetscBool transpose, float **out)
{
  const PdLayout *lay;
  PdLayout       *box;
  float          *work;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetLayout(conv, &lay));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdLayoutCreateBox(lay, m, PETSC_FALSE, &box));
  memset(work, 0, sizeof(float) * PdLayoutLocalSize(lay));
  PetscCall(PdVolumeScatterFromGlobal(box, x, work));
  PetscCall(PdFFTConvApply(conv, transpose));
  PetscCall(PdVolumeGather(box, work, 0, out));
  PetscCall(PdLayoutDestroy(&box));
  PetscFunctionReturn(0);
}

/* H and Hᵀ of x (size m) through a and b agree within tol relative (0: bit for bit). */
static PetscErrorCode ExpectSameConvolutions(PdFFTConv a, PdFFTConv b, const ptrdiff_t m[3], const float *x, double tol, const char *what)
{
  int rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  for (int t = 0; t < 2; t++) {
    float *ha = NULL, *hb = NULL;
    PetscCall(Convolve(a, m, x, (PetscBool)t, &ha));
    PetscCall(Convolve(b, m, x, (PetscBool)t, &hb));
    if (rank == 0) {
      const double drc = PdTestRelDiff(ha, hb, (size_t)(m[0] * m[1] * m[2]));
      printf("%s, %s OTF vs the complex one: %.2e\n", t ? "H^T" : "H", what, drc);
      PD_EXPECT(tol > 0 ? drc < tol : drc == 0, "%s: the %s OTF differs from the complex one by %g", t ? "H^T" : "H", what, drc);
    }
    PetscCall(PetscFree(ha));
    PetscCall(PetscFree(hb));
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t    m[3] = {6, 9, 8}, pn[3] = {5, 7, 5}, c[3] = {2, 3, 2}, pe[3] = {4, 7, 5}, ce[3] = {2, 3, 2};
  const ptrdiff_t    n[3] = {m[0] + pn[0] - 1, m[1] + pn[1] - 1, m[2] + pn[2] - 1}, cnt = 6 * 9 * 8, pcnt = 5 * 7 * 5;
  float              x[6 * 9 * 8], sym[5 * 7 * 5], asym[5 * 7 * 5], even[4 * 7 * 5], zsym[5 * 7 * 5];
  unsigned long long seed = 17;
  PdFFTConv          real, cplx, other;
  PetscBool          isreal;
  int                rank;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  for (ptrdiff_t i = 0; i < cnt; i++) x[i] = (float)PdTestUniform(&seed);
  for (ptrdiff_t i = 0; i < pcnt; i++) asym[i] = (float)PdTestUniform(&seed);
  /* symmetrise about the centre: h(c + r) = h(c - r), the mirror of index i being 2c - i */
  for (ptrdiff_t k = 0; k < pn[0]; k++)
    for (ptrdiff_t j = 0; j < pn[1]; j++)
      for (ptrdiff_t i = 0; i < pn[2]; i++) {
        const ptrdiff_t a = (k * pn[1] + j) * pn[2] + i, b = ((2 * c[0] - k) * pn[1] + 2 * c[1] - j) * pn[2] + 2 * c[2] - i;
        sym[a] = 0.5f * (asym[a] + asym[b]);
      }
  /* symmetric about the point between planes 1 and 2 along z, not about a voxel */
  for (ptrdiff_t k = 0; k < pe[0]; k++)
    for (ptrdiff_t j = 0; j < pe[1] * pe[2]; j++) even[k * pe[1] * pe[2] + j] = sym[(PetscMin(k, 3 - k) + 1) * pn[1] * pn[2] + j];

  PetscCall(ConvCreate(n, PETSC_TRUE, pn, sym, c, &real));
  PetscCall(PdFFTConvGetOTFIsReal(real, &isreal));
  PD_EXPECT(isreal, "a centro-symmetric PSF did not get the real OTF");
  PetscCall(ConvCreate(n, PETSC_FALSE, pn, sym, c, &cplx));
  PetscCall(PdFFTConvGetOTFIsReal(cplx, &isreal));
  PD_EXPECT(!isreal, "the real OTF was taken without being allowed");
  PetscCall(ConvCreate(n, PETSC_TRUE, pn, asym, c, &other));
  PetscCall(PdFFTConvGetOTFIsReal(other, &isreal));
  PD_EXPECT(!isreal, "an asymmetric PSF got the real OTF");
  PetscCall(PdFFTConvDestroy(&other));
  PetscCall(ConvCreate(n, PETSC_TRUE, pe, even, ce, &other));
  PetscCall(PdFFTConvGetOTFIsReal(other, &isreal));
  PD_EXPECT(!isreal, "a PSF symmetric about a point between voxels got the real OTF");
  PetscCall(PdFFTConvDestroy(&other));

  for (int t = 0; t < 2; t++) {
    float *hr = NULL, *hc = NULL;
    double ref[6 * 9 * 8];
    PetscCall(Convolve(real, m, x, (PetscBool)t, &hr));
    PetscCall(Convolve(cplx, m, x, (PetscBool)t, &hc));
    if (rank == 0) {
      double dd = 0, nd = 0;
      PdTestDirectConv(m, x, pn, sym, c, 0, t, ref);
      for (ptrdiff_t i = 0; i < cnt; i++) {
        dd += (hr[i] - ref[i]) * (hr[i] - ref[i]);
        nd += ref[i] * ref[i];
      }
      const double drc = PdTestRelDiff(hr, hc, (size_t)cnt), dref = sqrt(dd / nd);
      printf("%s: real vs complex OTF %.2e, real vs direct %.2e\n", t ? "H^T" : "H", drc, dref);
      PD_EXPECT(drc < 1e-6, "%s: the real OTF differs from the complex one by %g", t ? "H^T" : "H", drc);
      PD_EXPECT(dref < 1e-5, "%s: the real OTF differs from the direct convolution by %g", t ? "H^T" : "H", dref);
    }
    PetscCall(PetscFree(hr));
    PetscCall(PetscFree(hc));
  }

  /* a caller that reads the complex layout gets it: the complex OTF, imaginary part zero */
  PetscCall(ExpectExpandedOTF(real, cplx, "real"));
  PetscCall(PdFFTConvGetOTFIsReal(real, &isreal));
  PD_EXPECT(!isreal, "PdFFTConvGetOTF left the OTF real");
  PetscCall(PdFFTConvDestroy(&real));
  PetscCall(PdFFTConvDestroy(&cplx));

  /* also symmetric under z -> -z (as Born & Wolf's PSF): the real OTF is even in kz and only
     kz <= n0/2 is stored; H, Hᵀ and the expanded OTF as through the complex OTF */
  for (ptrdiff_t k = 0; k < pn[0]; k++)
    for (ptrdiff_t j = 0; j < pn[1] * pn[2]; j++) zsym[k * pn[1] * pn[2] + j] = 0.5f * (sym[k * pn[1] * pn[2] + j] + sym[(2 * c[0] - k) * pn[1] * pn[2] + j]);
  {
    PetscBool zs, zn;
    PetscCall(PdFFTConvPSFIsZSymmetric(n, pn, zsym, c, &zs));
    PetscCall(PdFFTConvPSFIsZSymmetric(n, pn, sym, c, &zn));
    PD_EXPECT(zs && !zn, "z symmetry: found %d for the symmetrised PSF, %d for the centro-symmetric one", (int)zs, (int)zn);
  }
  PetscCall(ConvCreate(n, PETSC_TRUE, pn, zsym, c, &real));
  PetscCall(ConvCreate(n, PETSC_FALSE, pn, zsym, c, &cplx));
  PetscCall(ExpectSameConvolutions(real, cplx, m, x, 1e-6, "z-symmetric PSF, half-kz real"));
  PetscCall(ExpectExpandedOTF(real, cplx, "half-kz"));
  PetscCall(PdFFTConvDestroy(&real));
  PetscCall(PdFFTConvDestroy(&cplx));

  /* 64 x 7 x 250: blocks of 2 spectral rows of 126 values (64 kz of them fill the 128 KiB of a
     block), so 7 rows (or 3 and 1 on a rank) end in a shorter block */
  {
    const ptrdiff_t nb[3] = {64, 7, 250}, cntb = nb[0] * nb[1] * nb[2];
    const float    *psfs[2] = {asym, zsym};
    const char     *what[2] = {"blocked complex", "blocked half-kz real"};
    float          *xb;
    PetscCall(PetscMalloc1(cntb, &xb));
    for (ptrdiff_t i = 0; i < cntb; i++) xb[i] = (float)PdTestUniform(&seed);
    for (int k = 0; k < 2; k++) {
      PetscCall(ConvCreate(nb, PETSC_TRUE, pn, psfs[k], c, &real));
      PetscCall(ConvCreate(nb, PETSC_FALSE, pn, psfs[k], c, &cplx));
      PetscCall(PdFFTConvGetOTFIsReal(real, &isreal));
      PD_EXPECT(isreal == (PetscBool)k, "%s: the OTF's storage is %s", what[k], isreal ? "real" : "complex");
      PetscCall(ExpectSameConvolutions(real, cplx, nb, xb, k ? 1e-6 : 0, what[k]));
      PetscCall(ExpectExpandedOTF(real, cplx, what[k]));
      PetscCall(PdFFTConvDestroy(&real));
      PetscCall(PdFFTConvDestroy(&cplx));
    }
    PetscCall(PetscFree(xb));
  }
  return PdTestFinalize("real_otf");
}
