/* The coarse-to-fine start (-decon_start coarse): the same method first solves the problem binned
   2 x 2 laterally, a quarter of the voxels, and the result, interpolated back, is the start of
   the full problem.

   Binning sums the data over 2 x 2 blocks J (a partial block at an odd edge is scaled up to four
   voxels), so the binned data is again Poisson, with background 4b:

     y_c(J) = Σ_{j∈J} y(j)

   If the object is constant on blocks, x(i) = x_c(I)/4 for i ∈ I, the binned model is
   y_c = h_c * x_c + 4b with, per binned axis and in offsets from the PSF's centre,

     h_c(D) = ½ [h(2D − 1) + 2 h(2D) + h(2D + 1)]

   (the PSF blurred by the two blocks' overlap, sampled every second voxel; it sums to 1 and
   keeps a centro-symmetric PSF centro-symmetric). The image box becomes ⌈m/2⌉ laterally, the
   padding half of the full problem's, so the binned problem keeps Bertero-Boccacci's box and
   weights; z is not binned, so every rank keeps its planes and nothing is exchanged. The binned
   solve runs -decon_start_coarse_it iterations (a solver of its own with the options prefix
   "coarse_": -coarse_decon_start, -coarse_decon_accel, ...) from the method's own start. The
   start of the full problem is its solution interpolated bilinearly (block centres at fine
   coordinate 2I + ½), divided by 4, floored at 10⁻³ x̄ where the data see the object, 0 elsewhere.

   Why: the widefield OTF's lateral support ends well inside the binned problem's Nyquist
   frequency, so the binned problem keeps what the data can tell and an iteration costs a
   quarter; the low frequencies, which RL fixes first, are fixed there (the coarse-to-fine
   strategy of multigrid and image pyramids; docs/methods/acceleration.md measures it). */
#include "decon/decon_impl.h"
#include <math.h>

#define PD_COARSE_FLOOR 1e-3 /* of the flat value, as the other starts */

/* m voxels binned by 2: ⌈m/2⌉ */
static inline ptrdiff_t Half(ptrdiff_t m) { return (m + 1) / 2; }

/* The binned PSF (h_c above) laterally, z kept; its centre in the middle (pnc/2) so that the
   binned solver's PD_PSF_CENTER_MIDDLE finds it. */
static PetscErrorCode BinPSF(PdDecon d, ptrdiff_t pnc[3], float **psfc)
{
  const ptrdiff_t *pn = d->pn, *pc = d->pc;
  ptrdiff_t        half[3];
  float           *h;

  PetscFunctionBegin;
  /* z: the offsets as they are; y, x: offset D reaches fine offsets 2D − 1 ... 2D + 1 */
  half[0] = PetscMax(pc[0], pn[0] - 1 - pc[0]);
  for (int a = 1; a < 3; a++) half[a] = PetscMax(pc[a] + 1, pn[a] - pc[a]) / 2;
  for (int a = 0; a < 3; a++) pnc[a] = 2 * half[a] + 1;
  PetscCall(PetscCalloc1(pnc[0] * pnc[1] * pnc[2], &h));
  for (ptrdiff_t k = 0; k < pn[0]; k++)
    for (ptrdiff_t j = 0; j < pn[1]; j++)
      for (ptrdiff_t i = 0; i < pn[2]; i++) {
        const float     v  = d->psf[(k * pn[1] + j) * pn[2] + i];
        const ptrdiff_t oz = k - pc[0], oy = j - pc[1], ox = i - pc[2];
        /* fine offset o feeds D = o/2 with weight 1 when o is even, D = (o ± 1)/2 with ½ each
           when odd (the ½ of h_c's definition included) */
        ptrdiff_t dy[2], dx[2];
        float     wy[2], wx[2];
        int       ny = 1, nx = 1;
        if (oy % 2 == 0) dy[0] = oy / 2, wy[0] = 1.0f;
        else dy[0] = (oy - 1) / 2, dy[1] = (oy + 1) / 2, wy[0] = wy[1] = 0.5f, ny = 2;
        if (ox % 2 == 0) dx[0] = ox / 2, wx[0] = 1.0f;
        else dx[0] = (ox - 1) / 2, dx[1] = (ox + 1) / 2, wx[0] = wx[1] = 0.5f, nx = 2;
        for (int b = 0; b < ny; b++)
          for (int a = 0; a < nx; a++) h[((oz + half[0]) * pnc[1] + dy[b] + half[1]) * pnc[2] + dx[a] + half[2]] += wy[b] * wx[a] * v;
      }
  *psfc = h;
  PetscFunctionReturn(0);
}

/* The binned data: sums over 2 x 2 blocks of each local plane, a partial block scaled to 4. */
static void BinData(PdDecon d, PdDecon c)
{
  const ptrdiff_t nz = d->dlay->nzl, m1 = d->m[1], m2 = d->m[2], c1 = c->m[1], c2 = c->m[2];

#pragma omp parallel for schedule(static)
  for (ptrdiff_t row = 0; row < nz * c1; row++) {
    const ptrdiff_t z = row / c1, bj = row % c1, j1 = PetscMin(2 * bj + 2, m1);
    float *restrict out = c->y + (z * c1 + bj) * c2;
    for (ptrdiff_t bi = 0; bi < c2; bi++) {
      const ptrdiff_t i1 = PetscMin(2 * bi + 2, m2);
      double          s = 0;
      int             cnt = 0;
      for (ptrdiff_t j = 2 * bj; j < j1; j++)
        for (ptrdiff_t i = 2 * bi; i < i1; i++, cnt++) s += d->y[(z * m1 + j) * m2 + i];
      out[bi] = (float)(s * 4.0 / cnt);
    }
  }
}

/* Bilinear interpolation from coarse axis nc (box mc) to fine axis n (box m): fine voxel v lies at
   signed position p (v, or v − n in the half of the padding that continues the box's other side),
   coarse coordinate u = (p + ½)/2 − ½; lo/hi its neighbours (mod nc), t the weight of hi. */
static PetscErrorCode AxisMap(ptrdiff_t n, ptrdiff_t m, ptrdiff_t nc, ptrdiff_t **lo, ptrdiff_t **hi, float **t)
{
  PetscFunctionBegin;
  PetscCall(PetscMalloc3(n, lo, n, hi, n, t));
  for (ptrdiff_t v = 0; v < n; v++) {
    const ptrdiff_t p = v < m + (n - m) / 2 ? v : v - n;
    const double    u = (p + 0.5) / 2 - 0.5, f = floor(u);
    (*lo)[v] = (((ptrdiff_t)f % nc) + nc) % nc;
    (*hi)[v] = (*lo)[v] + 1 < nc ? (*lo)[v] + 1 : 0;
    (*t)[v]  = (float)(u - f);
  }
  PetscFunctionReturn(0);
}

/* x <- the coarse solution interpolated, /4, floored where the weights are positive. */
static PetscErrorCode Upsample(PdDecon d, PdDecon c)
{
  const PdLayout *l = d->lay, *cl = c->lay;
  const ptrdiff_t n1 = l->n[1], nrows = l->nzl * n1;
  const float     f = (float)(PD_COARSE_FLOOR * d->x0);
  ptrdiff_t      *ylo, *yhi, *xlo, *xhi;
  float          *yt, *xt;

  PetscFunctionBegin;
  PetscCall(AxisMap(n1, d->m[1], cl->n[1], &ylo, &yhi, &yt));
  PetscCall(AxisMap(l->n[2], d->m[2], cl->n[2], &xlo, &xhi, &xt));
#pragma omp parallel for schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t z = row / n1, yy = row % n1;
    const float *restrict w = PdDeconWeightsRow(d, z, yy);
    const float *restrict a = c->x + z * cl->ps + ylo[yy] * cl->rs, *restrict b = c->x + z * cl->ps + yhi[yy] * cl->rs;
    float *restrict x = d->x + z * l->ps + yy * l->rs;
    for (ptrdiff_t i = 0; i < l->rs; i++) {
      if (i >= l->n[2] || !(w[i] > 0)) {
        x[i] = 0.0f;
        continue;
      }
      const float lo = a[xlo[i]] + xt[i] * (a[xhi[i]] - a[xlo[i]]), hi = b[xlo[i]] + xt[i] * (b[xhi[i]] - b[xlo[i]]);
      x[i] = PetscMax(0.25f * (lo + yt[yy] * (hi - lo)), f);
    }
  }
  PetscCall(PetscFree3(ylo, yhi, yt));
  PetscCall(PetscFree3(xlo, xhi, xt));
  PetscFunctionReturn(0);
}

/* The binned problem's solver, its options read (prefix "coarse_" after d's). */
static PetscErrorCode CoarseCreate(PdDecon d, PdDecon *cc)
{
  PdDecon     c;
  char        prefix[256];
  const char *method;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(d->comm, &c));
  PetscCall(PetscSNPrintf(prefix, sizeof(prefix), "%scoarse_", d->prefix ? d->prefix : ""));
  PetscCall(PdDeconSetOptionsPrefix(c, prefix));
  PetscCall(PdDeconGetMethod(d, &method));
  PetscCall(PdDeconSetMethod(c, method));
  PetscCall(PdDeconSetTolerances(c, d->start_coarse_it, 0));
  PetscCall(PdDeconSetBoundary(c, d->boundary));
  c->weight_threshold = d->weight_threshold;
  c->start_k          = d->start_k;
  /* a method that starts coarse by default starts its binned solve from the Wiener filter: one
     level unless -coarse_decon_start coarse asks for another */
  if (c->ops->default_start == PD_START_COARSE) PetscCall(PdDeconSetStart(c, PD_START_WIENER));
  PetscCall(PdDeconSetFromOptions(c));
  *cc = c;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconStartCoarseSetFromOptions(PdDecon d)
{
  PdDecon c;

  PetscFunctionBegin;
  PetscCall(CoarseCreate(d, &c)); /* its options are read (and checked) with d's */
  PetscCall(PdDeconDestroy(&c));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconStartCoarse(PdDecon d)
{
  PdDecon   c;
  ptrdiff_t mc[3] = {d->m[0], Half(d->m[1]), Half(d->m[2])}, pnc[3];
  float    *psfc;

  PetscFunctionBegin;
  /* made for each start and destroyed after it: its volumes, a quarter of the full problem's,
     exist only before the method's own state is allocated */
  PetscCall(CoarseCreate(d, &c));
  PetscCall(PdDeconSetBackground(c, 4 * d->bg));
  /* the binned PSF, centred in its middle; the padding half the full problem's, z's the same so
     that every rank owns the same planes at both levels */
  PetscCall(BinPSF(d, pnc, &psfc));
  PetscCall(PdDeconSetPSF(c, pnc, psfc, d->psfname));
  PetscCall(PetscFree(psfc));
  c->center_mode = PD_PSF_CENTER_MIDDLE;
  c->pad[0]      = d->lay->n[0] - d->m[0];
  for (int a = 1; a < 3; a++) c->pad[a] = Half(d->lay->n[a] - d->m[a]);
  PetscCall(PdDeconSetImageSize(c, mc, d->dataname));
  PetscCall(PdDeconSetUp(c));
  PetscCheck(c->lay->z0 == d->lay->z0 && c->lay->nzl == d->lay->nzl && c->dlay->nzl == d->dlay->nzl, d->comm, PETSC_ERR_PLIB, "coarse start: the binned problem's planes differ from the full one's");
  BinData(d, c);
  PetscCall(PdDeconSolve(c));
  PetscCall(Upsample(d, c));
  PetscCall(PdDeconDestroy(&c));
  PetscFunctionReturn(0);
}
