/* Airyscan-like detector views: h_v(r) = h(r) h(r - d_v) on a hexagonal array of elements. */
#include <pdecon/sim/airyscan.h>
#include <math.h>

PetscErrorCode PdAiryscanOffsets(PetscInt V, double (*off)[2])
{
  /* hexagonal lattice points a (1, 0) + b (1/2, sqrt(3)/2) within 6 pitches, sorted by distance,
     then angle, so that the choice is deterministic on a tie */
  enum { R = 6, NP = (2 * R + 1) * (2 * R + 1) };
  double pts[NP][4];
  int    n = 0;

  PetscFunctionBegin;
  PetscCheck(V >= 1 && V <= 127, PETSC_COMM_SELF, PD_ERR_INPUT, "Airyscan views: 1 to 127 elements, not %" PetscInt_FMT, V);
  for (int a = -R; a <= R; a++)
    for (int b = -R; b <= R; b++) {
      double x = a + 0.5 * b, y = 0.5 * sqrt(3.0) * b;
      pts[n][0] = y;
      pts[n][1] = x;
      pts[n][2] = round(1e9 * (x * x + y * y)) / 1e9;
      pts[n][3] = atan2(y, x) < -1e-12 ? atan2(y, x) + 2 * M_PI : PetscMax(0.0, atan2(y, x));
      n++;
    }
  for (int i = 1; i < n; i++) /* insertion sort: n is small */
    for (int j = i; j > 0 && (pts[j][2] < pts[j - 1][2] || (pts[j][2] == pts[j - 1][2] && pts[j][3] < pts[j - 1][3])); j--)
      for (int q = 0; q < 4; q++) {
        double t       = pts[j][q];
        pts[j][q]     = pts[j - 1][q];
        pts[j - 1][q] = t;
      }
  for (PetscInt v = 0; v < V; v++) {
    off[v][0] = pts[v][0];
    off[v][1] = pts[v][1];
  }
  PetscFunctionReturn(0);
}

/* h at (z, y - sy, x - sx), bilinear in y and x, zero outside the box. */
static double Shifted(const float *h, const ptrdiff_t pn[3], ptrdiff_t z, ptrdiff_t y, ptrdiff_t x, double sy, double sx)
{
  const double fy = (double)y - sy, fx = (double)x - sx, y0 = floor(fy), x0 = floor(fx), wy = fy - y0, wx = fx - x0;
  double       s = 0;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      ptrdiff_t yy = (ptrdiff_t)y0 + a, xx = (ptrdiff_t)x0 + b;
      if (yy < 0 || yy >= pn[1] || xx < 0 || xx >= pn[2]) continue;
      s += (a ? wy : 1 - wy) * (b ? wx : 1 - wx) * h[(z * pn[1] + yy) * pn[2] + xx];
    }
  return s;
}

PetscErrorCode PdAiryscanViews(const float *h, const ptrdiff_t pn[3], PetscInt V, double pitch, float *views)
{
  const ptrdiff_t np = pn[0] * pn[1] * pn[2];
  double (*off)[2];

  PetscFunctionBegin;
  PetscCheck(pitch >= 0 && isfinite(pitch), PETSC_COMM_SELF, PD_ERR_INPUT, "Airyscan views: the element pitch must be >= 0");
  PetscCall(PetscMalloc1(V, &off));
  PetscCall(PdAiryscanOffsets(V, off));
  for (PetscInt v = 0; v < V; v++) {
    float *hv = views + v * np;
    for (ptrdiff_t z = 0; z < pn[0]; z++)
      for (ptrdiff_t y = 0; y < pn[1]; y++)
        for (ptrdiff_t x = 0; x < pn[2]; x++) {
          const ptrdiff_t i = (z * pn[1] + y) * pn[2] + x;
          hv[i]             = (float)((double)h[i] * Shifted(h, pn, z, y, x, pitch * off[v][0], pitch * off[v][1]));
        }
  }
  PetscCall(PetscFree(off));
  PetscFunctionReturn(0);
}
