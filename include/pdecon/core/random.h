/* Counter-based random numbers: a stream is keyed on (seed, item), so what an item draws does not
   depend on which rank owns it or in which order items are visited (noise per voxel, patches and
   noise levels of training batches). Draw j of a stream is mix(key + j·γ), γ the golden-ratio
   increment and mix splitmix64's output function. */
#ifndef PDECON_RANDOM_H
#define PDECON_RANDOM_H

#include <petscsys.h>
#include <math.h>

static inline unsigned long long PdMix64(unsigned long long z)
{
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

typedef struct {
  unsigned long long key, ctr;
} PdRandStream;

/* The stream of item `item` under `seed`. */
static inline PdRandStream PdRandStreamCreate(unsigned long long seed, unsigned long long item)
{
  PdRandStream r = {PdMix64(seed ^ PdMix64(item + 0x632BE59BD9B4E019ULL)), 0};
  return r;
}

static inline double PdRandUniform(PdRandStream *r) /* [0, 1) */
{
  r->ctr += 0x9E3779B97F4A7C15ULL;
  return (double)(PdMix64(r->key + r->ctr) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double PdRandNormal(PdRandStream *r) /* Box-Muller, cosine branch */
{
  double u = 1.0 - PdRandUniform(r), w = PdRandUniform(r);
  return sqrt(-2.0 * log(u)) * cos(2.0 * PETSC_PI * w);
}

#endif
