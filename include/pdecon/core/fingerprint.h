/* Fingerprints of everything that changes a result (checkpoints refuse to continue a run with
   other settings): FNV-1a over bytes and over the options of the database with a given prefix. */
#ifndef PDECON_FINGERPRINT_H
#define PDECON_FINGERPRINT_H

#include <pdecon/core/sys.h>

typedef unsigned long long PdHash;

#define PD_HASH_INIT 1469598103934665603ULL

static inline void PdHashBytes(PdHash *h, const void *p, size_t n)
{
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++) {
    *h ^= b[i];
    *h *= 1099511628211ULL;
  }
}

/* Every option "-<prefix>..." with its value, in the order given, except those whose names
   after the prefix are listed in neutral (NULL-terminated; options that do not change the
   result: how long to run, what to print, where to save). */
PetscErrorCode PdHashOptions(PdHash *h, const char *prefix, const char *const neutral[]);

/* Two exact halves, for storing in doubles. */
static inline void PdHashSplit(PdHash h, double fp[2])
{
  fp[0] = (double)(h >> 32);
  fp[1] = (double)(h & 0xffffffffULL);
}

#endif
