#include "testutil.h"
#include <math.h>

int pd_test_failures = 0;

double PdTestRelDiff(const float *a, const float *b, size_t n)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * b[i];
  }
  return sqrt(num) / (den > 0 ? sqrt(den) : 1e-300);
}

double PdTestUniform(unsigned long long *s)
{
  /* splitmix64 */
  unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

PetscErrorCode PdTestInitialize(int *argc, char ***argv)
{
  PetscFunctionBegin;
  PetscCall(PetscInitialize(argc, argv, NULL, NULL));
  PetscCall(PdInitializePackage());
  PetscFunctionReturn(0);
}

int PdTestFinalize(const char *name)
{
  int all = 0, rank, size;
  MPI_Allreduce(&pd_test_failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) printf("%s on %d rank%s: %s (%d failed check%s)\n", name, size, size > 1 ? "s" : "", all ? "FAILED" : "passed", all, all == 1 ? "" : "s");
  PetscFinalize();
  return all ? 1 : 0;
}
