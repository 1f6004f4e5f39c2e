/* Minimal assertion helpers for pdecon's test programs (run under mpirun by ctest). */
#ifndef PDECON_TESTUTIL_H
#define PDECON_TESTUTIL_H
#include <pdecon/sys.h>
#include <stdio.h>

extern int pd_test_failures;

/* Records a failure on this rank (printed with the rank number); the test fails if any rank fails. */
#define PD_EXPECT(cond, ...) \
  do { \
    if (!(cond)) { \
      int _r; MPI_Comm_rank(MPI_COMM_WORLD, &_r); \
      fprintf(stderr, "[%d] FAIL %s:%d: ", _r, __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); \
      pd_test_failures++; \
    } \
  } while (0)

/* Relative difference ||a-b|| / max(||b||, tiny) over n floats (local only). */
double PdTestRelDiff(const float *a, const float *b, size_t n);
/* Deterministic uniform [0,1) numbers from a seed (rank independent). */
double PdTestUniform(unsigned long long *state);
/* PetscInitialize + PdInitializePackage. */
PetscErrorCode PdTestInitialize(int *argc, char ***argv);
/* Reduces failures over ranks, prints one summary line on rank 0, finalizes; returns exit code. */
int PdTestFinalize(const char *name);
#endif
